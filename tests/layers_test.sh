#!/usr/bin/env bash
# The include matrix (DESIGN.md §4: dependencies point downwards). Each
# module's allowed modules are its ragline_* link dependencies in
# CMakeLists.txt, followed transitively; a source file (tests included) that
# includes a header of any other module fails this test. CMake does not check
# this itself: every header under src/ is on every target's include path.
#   tests/layers_test.sh [SOURCE_DIR]   (default: the repository of this script)
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}

declare -A DEPS
# One "ragline_module(NAME dep dep ...)" per module; continuation lines joined.
while read -r name deps; do
  DEPS[$name]=$(tr ' ' '\n' <<<"$deps" | sed -n 's/^ragline_//p' | tr '\n' ' ')
done < <(awk '/^ragline_module\(/ {line=$0; while (line !~ /\)/ && (getline next_line) > 0) line=line " " next_line;
                                    sub(/^ragline_module\(/, "", line); sub(/\).*/, "", line); print line}' "$ROOT/CMakeLists.txt")
# Test-only links ("target_link_libraries(ragline_X_test PRIVATE ragline_Y)").
declare -A TEST_DEPS
while read -r name dep; do TEST_DEPS[$name]+="$dep "; done < <(
  sed -n 's/^ *target_link_libraries(ragline_\([a-z]*\)_test PRIVATE ragline_\([a-z]*\)).*/\1 \2/p' "$ROOT/CMakeLists.txt")

closure() {  # closure MODULE...: the modules reachable from these, themselves included
  local -A seen=()
  local todo=("$@") m
  while [ ${#todo[@]} -gt 0 ]; do
    m=${todo[-1]}; unset 'todo[-1]'
    [ -n "${seen[$m]:-}" ] && continue
    seen[$m]=1
    for d in ${DEPS[$m]:-}; do todo+=("$d"); done
  done
  echo "${!seen[@]}"
}

modules=$(ls -d "$ROOT"/src/*/ | xargs -n1 basename)
violations=0 checked=0
for m in $modules; do
  if [ -z "${DEPS[$m]+x}" ]; then
    echo "FAIL: src/$m has no ragline_module() line in CMakeLists.txt" >&2; violations=$((violations + 1)); continue
  fi
  allowed=" $(closure "$m") "
  allowed_tests=" $(closure "$m" ${TEST_DEPS[$m]:-}) "
  for f in "$ROOT"/src/"$m"/*.h "$ROOT"/src/"$m"/*.cc; do
    [ -e "$f" ] || continue
    ok=$allowed
    [[ "$f" == *_test.cc || "$f" == *_for_test.h || "$f" == *_benchmark.cc ]] && ok=$allowed_tests
    while IFS= read -r inc; do
      checked=$((checked + 1))
      target=${inc%%/*}
      [ -d "$ROOT/src/$target" ] || continue  # a third-party header ("absl/...", "nlohmann/...")
      if [[ "$ok" != *" $target "* ]]; then
        echo "FAIL: ${f#"$ROOT"/} includes \"$inc\": $m may use only:$allowed" >&2
        violations=$((violations + 1))
      fi
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
  done
done
if [ "$violations" -gt 0 ]; then echo "$violations include(s) point upwards or sideways" >&2; exit 1; fi
echo "layers: $checked includes in $(wc -w <<<"$modules") modules, none points upwards"
