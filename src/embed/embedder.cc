#include "embed/embedder.h"
