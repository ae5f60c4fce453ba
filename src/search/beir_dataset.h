// BeirDataset: an evaluation dataset in BEIR's file layout, read into memory.
//
//   DIR/corpus.jsonl     {"_id" (or "id"): string|integer, "title": string (optional), "text": string}
//   DIR/queries.jsonl    {"_id" (or "id"): string|integer, "text": string}
//   DIR/qrels/test.tsv   (or DIR/qrels.tsv) "query-id<TAB>corpus-id<TAB>score" lines after
//                        an optional header; score an integer grade, > 0 = relevant
//
// Malformed files fail with InvalidArgument naming the file and line (missing
// file: NotFound naming the paths tried); a repeated document or query id is
// an error. Judgments that name a document missing from the corpus or a query
// missing from queries.jsonl are dropped and counted in `warnings` (no system
// could retrieve such a document, so it would only lower every mode alike).
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "search/metrics.h"

namespace ragline::search {

struct BeirDocument {
  std::string id;
  std::string title;  // empty when absent
  std::string text;
};

struct BeirQuery {
  std::string id;
  std::string text;
};

struct BeirWarnings {
  size_t qrels_unknown_documents = 0;  // judgment lines dropped: corpus-id not in the corpus
  size_t qrels_unknown_queries = 0;    // judgment lines dropped: query-id not in queries.jsonl
  std::vector<std::string> examples;   // the first few, as messages naming file and line
};

struct BeirDataset {
  std::string name;                     // the directory's base name
  std::vector<BeirDocument> corpus;     // in file order
  std::vector<BeirQuery> queries;       // in file order
  std::map<std::string, Judgments> qrels;  // query id -> judgments (known ids only)
  std::filesystem::path qrels_path;     // the qrels file that was read
  uint64_t corpus_fingerprint = 0;      // FNV-1a 64 of corpus.jsonl's bytes
  BeirWarnings warnings;
};

Result<BeirDataset> LoadBeirDataset(const std::filesystem::path& dir);

}  // namespace ragline::search
