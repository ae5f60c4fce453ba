#include "search/beir_dataset.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <set>

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace ragline::search {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxWarningExamples = 5;

class FileLines {
 public:
  static Result<FileLines> Open(const fs::path& path) {
    FileLines f(path);
    if (!f.in_) return absl::NotFoundError(StrCat("cannot open ", path.string(), ": ", std::strerror(errno)));
    return f;
  }
  // Next line (without '\n' and a trailing '\r'); false at the end.
  bool Next(std::string* line) {
    if (!std::getline(in_, *line)) return false;
    ++line_no_;
    if (!line->empty() && line->back() == '\r') line->pop_back();
    return true;
  }
  // "FILE line N"
  std::string Where() const { return StrCat(path_.string(), " line ", line_no_); }
  Status Error(std::string_view what) const { return absl::InvalidArgumentError(StrCat(Where(), ": ", what)); }
  bool bad() const { return in_.bad(); }
  const fs::path& path() const { return path_; }

 private:
  explicit FileLines(const fs::path& path) : path_(path), in_(path, std::ios::binary) {}
  fs::path path_;
  std::ifstream in_;
  size_t line_no_ = 0;
};

bool Blank(const std::string& line) { return line.find_first_not_of(" \t") == std::string::npos; }

// The "_id" (or "id") of a JSONL object: a non-empty string or an integer.
Result<std::string> ReadId(const json& j, const FileLines& f) {
  auto it = j.find("_id");
  if (it == j.end()) it = j.find("id");
  if (it == j.end()) return f.Error("missing \"_id\"");
  if (it->is_string() && !it->get<std::string>().empty()) return it->get<std::string>();
  if (it->is_number_integer()) return it->dump();
  return f.Error("\"_id\" must be a non-empty string or an integer");
}

Result<std::string> ReadString(const json& j, const char* key, bool required, const FileLines& f) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return f.Error(StrCat("missing \"", key, "\""));
    return std::string();
  }
  if (!it->is_string()) return f.Error(StrCat("\"", key, "\" must be a string"));
  return it->get<std::string>();
}

Result<json> ReadObject(const std::string& line, const FileLines& f) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded()) return f.Error("malformed JSON");
  if (!j.is_object()) return f.Error("expected a JSON object");
  return j;
}

uint64_t Fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

Status ReadCorpus(const fs::path& path, BeirDataset* ds) {
  ASSIGN_OR_RETURN(FileLines f, FileLines::Open(path));
  std::set<std::string, std::less<>> seen;
  uint64_t h = 14695981039346656037ULL;
  std::string line;
  while (f.Next(&line)) {
    h = Fnv1a(h, line);
    h = Fnv1a(h, "\n");
    if (Blank(line)) continue;
    ASSIGN_OR_RETURN(json j, ReadObject(line, f));
    BeirDocument d;
    ASSIGN_OR_RETURN(d.id, ReadId(j, f));
    ASSIGN_OR_RETURN(d.title, ReadString(j, "title", false, f));
    ASSIGN_OR_RETURN(d.text, ReadString(j, "text", true, f));
    if (!seen.insert(d.id).second) return f.Error(StrCat("document id '", d.id, "' appears twice"));
    ds->corpus.push_back(std::move(d));
  }
  if (f.bad()) return absl::DataLossError(StrCat("reading ", path.string(), ": ", std::strerror(errno)));
  if (ds->corpus.empty()) return absl::InvalidArgumentError(StrCat(path.string(), ": no documents"));
  ds->corpus_fingerprint = h;
  return absl::OkStatus();
}

Status ReadQueries(const fs::path& path, BeirDataset* ds) {
  ASSIGN_OR_RETURN(FileLines f, FileLines::Open(path));
  std::set<std::string, std::less<>> seen;
  std::string line;
  while (f.Next(&line)) {
    if (Blank(line)) continue;
    ASSIGN_OR_RETURN(json j, ReadObject(line, f));
    BeirQuery q;
    ASSIGN_OR_RETURN(q.id, ReadId(j, f));
    ASSIGN_OR_RETURN(q.text, ReadString(j, "text", true, f));
    if (!seen.insert(q.id).second) return f.Error(StrCat("query id '", q.id, "' appears twice"));
    ds->queries.push_back(std::move(q));
  }
  if (f.bad()) return absl::DataLossError(StrCat("reading ", path.string(), ": ", std::strerror(errno)));
  return absl::OkStatus();
}

std::vector<std::string> SplitFields(const std::string& line) {
  std::vector<std::string> out;
  const bool tabs = line.find('\t') != std::string::npos;
  size_t i = 0;
  while (i <= line.size()) {
    if (!tabs) {
      i = line.find_first_not_of(' ', i);
      if (i == std::string::npos) break;
    }
    size_t end = line.find(tabs ? '\t' : ' ', i);
    if (end == std::string::npos) end = line.size();
    out.push_back(line.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

bool ParseInt(const std::string& s, int* out) {
  auto res = std::from_chars(s.data(), s.data() + s.size(), *out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

Status ReadQrels(const fs::path& path, BeirDataset* ds) {
  ASSIGN_OR_RETURN(FileLines f, FileLines::Open(path));
  std::set<std::string, std::less<>> docs, queries;
  for (const auto& d : ds->corpus) docs.insert(d.id);
  for (const auto& q : ds->queries) queries.insert(q.id);
  auto warn = [&](std::string message) {
    if (ds->warnings.examples.size() < kMaxWarningExamples) ds->warnings.examples.push_back(std::move(message));
  };
  std::string line;
  bool first = true;
  while (f.Next(&line)) {
    if (Blank(line)) continue;
    const auto fields = SplitFields(line);
    const bool was_first = first;
    first = false;
    int grade = 0;
    if (fields.size() != 3 || !ParseInt(fields[2], &grade)) {
      if (was_first && fields.size() == 3) continue;  // the header
      return f.Error("expected 'query-id<TAB>corpus-id<TAB>integer score'");
    }
    const std::string& qid = fields[0];
    const std::string& did = fields[1];
    if (!queries.contains(qid)) {
      ++ds->warnings.qrels_unknown_queries;
      warn(StrCat(f.Where(), ": query '", qid, "' is not in queries.jsonl; dropped"));
      continue;
    }
    if (!docs.contains(did)) {
      ++ds->warnings.qrels_unknown_documents;
      warn(StrCat(f.Where(), ": document '", did, "' is not in corpus.jsonl; dropped"));
      continue;
    }
    int& g = ds->qrels[qid][did];
    g = std::max(g, grade);
  }
  if (f.bad()) return absl::DataLossError(StrCat("reading ", path.string(), ": ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

Result<BeirDataset> LoadBeirDataset(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return absl::NotFoundError(StrCat("dataset directory ", dir.string(), " not found"));
  BeirDataset ds;
  ds.name = fs::absolute(dir, ec).lexically_normal().filename().string();
  if (ds.name.empty()) ds.name = fs::absolute(dir, ec).lexically_normal().parent_path().filename().string();
  RETURN_IF_ERROR(ReadCorpus(dir / "corpus.jsonl", &ds));
  RETURN_IF_ERROR(ReadQueries(dir / "queries.jsonl", &ds));
  for (const fs::path& candidate : {dir / "qrels" / "test.tsv", dir / "qrels.tsv"}) {
    if (fs::exists(candidate, ec)) {
      ds.qrels_path = candidate;
      break;
    }
  }
  if (ds.qrels_path.empty()) {
    return absl::NotFoundError(StrCat("no qrels in ", dir.string(), ": expected qrels/test.tsv or qrels.tsv"));
  }
  RETURN_IF_ERROR(ReadQrels(ds.qrels_path, &ds));
  return ds;
}

}  // namespace ragline::search
