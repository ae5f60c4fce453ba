#include "store/collection.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "core/strings.h"
#include "index/distance.h"

namespace ragline::store {

using nlohmann::json;

namespace {

constexpr char kConfigFile[] = "collection.json";
constexpr char kManifestFile[] = "MANIFEST.json";
constexpr char kLockFile[] = "LOCK";
constexpr int kManifestFormat = 1;
constexpr char kZeroCosineVector[] = "zero vector has no direction under the cosine metric";

std::string SegmentFileName(uint64_t id) { return absl::StrFormat("seg-%020d.seg", id); }

}  // namespace

Status ValidateName(std::string_view what, std::string_view name) {
  const bool valid = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat(what, " '", name, "' is invalid: use 1-64 characters from A-Z a-z 0-9 _ -"));
}

std::string_view MetricName(DistanceMetric metric) {
  switch (metric) {
    case DistanceMetric::kCosine:
      return "cosine";
    case DistanceMetric::kDot:
      return "dot";
    case DistanceMetric::kL2:
      return "l2";
  }
  return "unknown";
}

Result<DistanceMetric> ParseMetric(std::string_view name) {
  if (name == "cosine") return DistanceMetric::kCosine;
  if (name == "dot") return DistanceMetric::kDot;
  if (name == "l2") return DistanceMetric::kL2;
  return absl::InvalidArgumentError(StrCat("unknown metric '", name, "' (expected cosine, dot or l2)"));
}

// ---------------------------------------------------------------- config

json LexicalConfig::ToJson() const {
  return {{"text_field", text_field},
          {"analyzer", analyzer.ToJson()},
          {"bm25", {{"k1", bm25.k1}, {"b", bm25.b}}}};
}

Result<LexicalConfig> LexicalConfig::FromJson(const json& j) {
  LexicalConfig c;
  if (!j.is_object()) return absl::InvalidArgumentError("lexical config must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key == "text_field") {
      if (!value.is_string()) return absl::InvalidArgumentError("lexical.text_field must be a string");
      c.text_field = value.get<std::string>();
    } else if (key == "analyzer") {
      ASSIGN_OR_RETURN(c.analyzer, text::AnalyzerOptions::FromJson(value));
    } else if (key == "bm25") {
      if (!value.is_object()) return absl::InvalidArgumentError("lexical.bm25 must be an object");
      for (const auto& [param, v] : value.items()) {
        if ((param != "k1" && param != "b") || !v.is_number()) {
          return absl::InvalidArgumentError(
              StrCat("lexical.bm25: unknown or non-numeric parameter '", param, "'"));
        }
        (param == "k1" ? c.bm25.k1 : c.bm25.b) = v.get<double>();
      }
    } else {
      return absl::InvalidArgumentError(StrCat("unknown lexical config key '", key, "'"));
    }
  }
  RETURN_IF_ERROR(c.Validate());
  return c;
}

Status LexicalConfig::Validate() const {
  if (text_field.empty()) return absl::InvalidArgumentError("text field must not be empty");
  RETURN_IF_ERROR(analyzer.Validate());
  return bm25.Validate();
}

json CollectionConfig::ToJson() const {
  json params = json::object();
  for (const auto& [k, v] : index_params.ToMap(index_kind)) params[k] = v;
  if (index_kind != index::IndexKind::kFlat) params["seed"] = index_params.seed;
  return {{"name", name},
          {"dim", dim},
          {"metric", MetricName(metric)},
          {"index", {{"kind", index::IndexKindName(index_kind)}, {"params", params}}},
          {"seal_threshold", seal_threshold},
          {"fsync", fsync == FsyncPolicy::kBatch ? "batch" : "none"},
          {"lexical", lexical.ToJson()}};
}

Result<CollectionConfig> CollectionConfig::FromJson(const json& j) {
  CollectionConfig c;
  try {
    c.name = j.at("name").get<std::string>();
    c.dim = j.at("dim").get<uint32_t>();
    ASSIGN_OR_RETURN(c.metric, ParseMetric(j.at("metric").get<std::string>()));
    ASSIGN_OR_RETURN(c.index_kind, index::ParseIndexKind(j.at("index").at("kind").get<std::string>()));
    for (const auto& [k, v] : j.at("index").at("params").items()) {
      RETURN_IF_ERROR(c.index_params.Set(k, std::to_string(v.get<uint64_t>())));
    }
    c.seal_threshold = j.value("seal_threshold", c.seal_threshold);
    c.fsync = j.value("fsync", "batch") == "none" ? FsyncPolicy::kNone : FsyncPolicy::kBatch;
    if (auto lexical = j.find("lexical"); lexical != j.end()) {
      auto parsed = LexicalConfig::FromJson(*lexical);
      if (!parsed.ok()) {
        return absl::DataLossError(StrCat("collection config: ", std::string(parsed.status().message())));
      }
      c.lexical = std::move(*parsed);
    }
  } catch (const json::exception& e) {
    return absl::DataLossError(StrCat("collection config: ", e.what()));
  }
  return c;
}

Status CollectionConfig::Validate() const {
  RETURN_IF_ERROR(ValidateName("collection name", name));
  if (dim == 0 || dim > 65536) {
    return absl::InvalidArgumentError(StrCat("dim must be in [1, 65536], got ", dim));
  }
  if (seal_threshold < 1 || seal_threshold > (1u << 24)) {
    return absl::InvalidArgumentError("seal_threshold must be in [1, 16777216]");
  }
  if (index_kind == index::IndexKind::kIvfPq && index_params.pq_m != 0 && dim % index_params.pq_m != 0) {
    return absl::InvalidArgumentError(StrCat("ivf_pq: pq_m=", index_params.pq_m, " must divide dim=", dim));
  }
  return lexical.Validate();
}

// ---------------------------------------------------------------- open / create

Collection::Collection(Env& env, std::string dir, CollectionConfig config, ThreadPool& pool,
                       const OpenOptions& options)
    : env_(env),
      dir_(std::move(dir)),
      config_(std::move(config)),
      pool_(pool),
      read_only_(options.read_only),
      salvage_(options.salvage) {}

Collection::~Collection() {
  Status st = Close();
  if (!st.ok())
    std::fprintf(stderr, "ragline: closing collection %s: %s\n", config_.name.c_str(),
                 std::string(st.message()).c_str());
}

Result<std::unique_ptr<Collection>> Collection::Create(Env& env, const std::string& dir,
                                                       const CollectionConfig& config, ThreadPool& pool) {
  RETURN_IF_ERROR(config.Validate());
  if (env.FileExists(dir + "/" + kConfigFile)) {
    return absl::AlreadyExistsError(StrCat("collection '", config.name, "' already exists"));
  }
  RETURN_IF_ERROR(env.CreateDirs(dir + "/segments"));
  RETURN_IF_ERROR(env.WriteFileAtomically(dir + "/" + kConfigFile, config.ToJson().dump(2) + "\n"));
  return Open(env, dir, pool);
}

Result<std::unique_ptr<Collection>> Collection::Open(Env& env, const std::string& dir, ThreadPool& pool,
                                                     const OpenOptions& options) {
  auto config_bytes = env.ReadFile(dir + "/" + kConfigFile);
  if (!config_bytes.ok()) {
    if (absl::IsNotFound(config_bytes.status())) {
      return absl::NotFoundError(StrCat("no collection at ", dir));
    }
    return config_bytes.status();
  }
  json j = json::parse(*config_bytes, nullptr, false);
  if (j.is_discarded()) return absl::DataLossError(StrCat(dir, "/", kConfigFile, ": not valid JSON"));
  ASSIGN_OR_RETURN(CollectionConfig config, CollectionConfig::FromJson(j));
  std::unique_ptr<Collection> c(new Collection(env, dir, std::move(config), pool, options));
  auto analyzer = text::Analyzer::Create(c->config_.lexical.analyzer);
  if (!analyzer.ok()) {
    return absl::DataLossError(StrCat(dir, "/", kConfigFile, ": ", std::string(analyzer.status().message())));
  }
  c->analyzer_ = std::move(*analyzer);
  if (!options.read_only) {
    auto lock = env.LockFile(dir + "/" + kLockFile);
    if (!lock.ok()) {
      return absl::FailedPreconditionError(
          StrCat("collection '", c->config_.name,
                 "' is open for writing by another process (is `ragline serve` running on this data "
                 "directory? Stop it, or send writes through it: --server URL instead of --data)"));
    }
    c->lock_ = std::move(*lock);
  }
  RETURN_IF_ERROR(c->Recover(options));
  return c;
}

index::Metric Collection::IndexMetric() const {
  return config_.metric == DistanceMetric::kL2 ? index::Metric::kL2 : index::Metric::kInnerProduct;
}

std::string Collection::SegmentPath(uint64_t id) const {
  return absl::StrFormat("%s/segments/%s", dir_, SegmentFileName(id));
}

namespace {

// "DIR/segments/x: msg" -> "segments/x: msg": what clients and stats see.
std::string WithoutDir(std::string message, const std::string& dir) {
  const std::string prefix = dir + "/";
  for (size_t at = message.find(prefix); at != std::string::npos; at = message.find(prefix, at)) {
    message.erase(at, prefix.size());
  }
  return message;
}

// The row count in a segment file's header, if the header reads.
std::optional<uint64_t> PeekSegmentRows(Env& env, const std::string& path) {
  auto bytes = env.ReadFile(path);
  if (!bytes.ok() || bytes->size() < 8 + 4 + 8 || bytes->compare(0, 7, "RLSEG00") != 0) return std::nullopt;
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<unsigned char>((*bytes)[12 + i])} << (8 * i);
  return n;
}

}  // namespace

Status Collection::Recover(const OpenOptions& options) {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  std::unique_lock<std::shared_mutex> state_lock(state_mu_);
  // 1. Manifest: sealed segments, checkpoint, graveyard.
  std::vector<uint64_t> sealed_ids;
  auto manifest_bytes = env_.ReadFile(dir_ + "/" + kManifestFile);
  if (manifest_bytes.ok()) {
    json m = json::parse(*manifest_bytes, nullptr, false);
    try {
      if (m.is_discarded() || m.at("format").get<int>() != kManifestFormat)
        throw std::runtime_error("bad format");
      checkpoint_lsn_ = m.at("checkpoint_lsn").get<uint64_t>();
      next_segment_id_ = m.at("next_segment_id").get<uint64_t>();
      sealed_ids = m.at("segments").get<std::vector<uint64_t>>();
      for (const auto& g : m.at("graveyard"))
        graveyard_[g.at(0).get<std::string>()] = g.at(1).get<uint64_t>();
      if (auto p = m.find("source_positions"); p != m.end()) {  // absent before positions existed
        for (const auto& [key, position] : p->items()) source_positions_[key] = position.get<uint64_t>();
      }
      checkpoint_positions_ = source_positions_;
    } catch (const std::exception& e) {
      return absl::DataLossError(StrCat(dir_, "/", kManifestFile, ": unreadable manifest (", e.what(), ")"));
    }
  } else if (!absl::IsNotFound(manifest_bytes.status())) {
    return manifest_bytes.status();
  }
  // 2. Sealed segments, oldest first; the newest version of an id wins.
  for (uint64_t id : sealed_ids) {
    auto loaded = SealedSegment::Load(env_, SegmentPath(id), id, config_.dim, IndexMetric(),
                                      config_.index_kind, config_.index_params,
                                      [this](const json& payload) { return AnalyzePayload(payload); });
    if (!loaded.ok()) {
      const bool missing = absl::IsNotFound(loaded.status());
      if (missing && options.retry_missing_segments) {
        // A concurrent writer's compaction can remove a segment between our
        // manifest read and this load; the caller may retry.
        return absl::UnavailableError(
            StrCat("segment ", SegmentPath(id), " named by the manifest is missing"));
      }
      if (!missing && !absl::IsDataLoss(loaded.status())) return loaded.status();
      // Damage to one segment does not take the collection down: it serves
      // the rest, degraded, until `ragline repair`.
      quarantined_.push_back(QuarantinedSegment{
          id, WithoutDir(SegmentPath(id), dir_),
          missing ? std::string("missing") : WithoutDir(std::string(loaded.status().message()), dir_),
          PeekSegmentRows(env_, SegmentPath(id))});
      continue;
    }
    auto seg = std::move(*loaded);
    for (Row r = 0; r < seg->size(); ++r) {
      const RowMeta& meta = seg->meta(r);
      auto grave = graveyard_.find(meta.id);
      if (grave != graveyard_.end() && meta.version <= grave->second) {
        seg->Kill(r);
        continue;
      }
      auto [it, inserted] = id_map_.try_emplace(meta.id, Location{id, r, meta.version});
      if (!inserted) {
        if (it->second.version >= meta.version) {
          seg->Kill(r);
          continue;
        }
        // The older row may be in this very segment (replaced while it was
        // still growing), which is not in segments_ yet.
        Segment& older =
            it->second.segment_id == id ? static_cast<Segment&>(*seg) : *segments_.at(it->second.segment_id);
        older.Kill(it->second.row);
        it->second = Location{id, r, meta.version};
      }
    }
    segments_[id] = std::move(seg);
  }
  // 3. Orphans: segment files a crash left behind before the manifest named them.
  if (!read_only_) {
    absl::flat_hash_set<uint64_t> live(sealed_ids.begin(), sealed_ids.end());
    auto names = env_.ListDir(dir_ + "/segments");
    if (names.ok()) {
      for (const auto& name : *names) {
        unsigned long long id = 0;
        if (std::sscanf(name.c_str(), "seg-%llu.seg", &id) == 1 && !live.contains(id)) {
          RETURN_IF_ERROR(env_.RemoveFile(dir_ + "/segments/" + name));
        } else if (name.find(".tmp") != std::string::npos) {
          RETURN_IF_ERROR(env_.RemoveFile(dir_ + "/segments/" + name));
        }
      }
    }
  }
  // 4. WAL tail into the growing segment.
  growing_ = std::make_shared<GrowingSegment>(next_segment_id_++, config_.dim, IndexMetric(),
                                              config_.seal_threshold);
  segments_[growing_->id()] = growing_;
  applied_lsn_ = checkpoint_lsn_;
  manifest_checkpoint_ = checkpoint_lsn_;
  WalOptions wal_options;
  wal_options.fsync = config_.fsync;
  wal_options.read_only = read_only_;
  wal_options.salvage = salvage_;
  state_lock.unlock();  // ApplyWalEntry takes it per record
  ASSIGN_OR_RETURN(wal_, Wal::Open(
                             env_, dir_ + "/wal", wal_options, checkpoint_lsn_,
                             [this](const WalEntry& e) { return ApplyWalEntry(e); }, &recovery_report_));
  state_lock.lock();
  PublishSnapshot();
  state_lock.unlock();
  if (!read_only_) ScheduleSeal();
  return absl::OkStatus();
}

Status Collection::ApplyWalEntry(const WalEntry& e) {
  BatchEntry batch;
  switch (static_cast<RecordType>(e.type)) {
    case RecordType::kUpsert: {
      ASSIGN_OR_RETURN(Record r, DecodeUpsert(e.payload));
      batch.upserts.push_back(std::move(r));
      break;
    }
    case RecordType::kDelete: {
      ASSIGN_OR_RETURN(DeleteEntry d, DecodeDelete(e.payload));
      batch.deletes.push_back(std::move(d));
      break;
    }
    case RecordType::kBatch: {
      ASSIGN_OR_RETURN(batch, DecodeBatch(e.payload));
      break;
    }
    case RecordType::kPositionedBatch: {
      ASSIGN_OR_RETURN(batch, DecodePositionedBatch(e.payload));
      break;
    }
    default:
      return absl::DataLossError(StrCat("WAL record ", e.lsn, " has unknown type ", int{e.type}));
  }
  std::vector<index::TermVector> terms;
  terms.reserve(batch.upserts.size());
  for (const Record& r : batch.upserts) {
    if (r.vector.size() != config_.dim) {
      return absl::DataLossError(StrCat("WAL record ", e.lsn, " has dimension ", r.vector.size()));
    }
    json payload = json::parse(r.payload, nullptr, false);
    terms.push_back(payload.is_object() ? AnalyzePayload(payload) : index::TermVector{});
  }
  ApplyBatch(batch.deletes, std::move(batch.upserts), std::move(terms), e.lsn, batch.positions);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- writes

Status Collection::ValidateRecord(const Record& r, size_t position) const {
  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(
        StrCat("record ", position, r.id.empty() ? "" : " (id '" + r.id + "')", ": ", what));
  };
  if (r.id.empty()) return bad("missing or empty id");
  if (r.id.size() > 1024) return bad("id longer than 1024 bytes");
  if (r.vector.size() != config_.dim) {
    return bad(StrCat("vector has dimension ", r.vector.size(), ", collection '", config_.name, "' expects ",
                      config_.dim));
  }
  for (size_t i = 0; i < r.vector.size(); ++i) {
    if (!std::isfinite(r.vector[i])) return bad(StrCat("vector[", i, "] is not a finite number"));
  }
  if (IsZeroUnderCosine(r.vector)) return bad(kZeroCosineVector);
  return absl::OkStatus();
}

bool Collection::IsZeroUnderCosine(std::span<const float> v) const {
  if (config_.metric != DistanceMetric::kCosine) return false;
  double norm = 0;
  for (float x : v) norm += double{x} * x;
  return norm == 0;
}

Result<UpsertSummary> Collection::Upsert(std::vector<Record> records) {
  std::vector<WriteGroup> groups(1);
  groups[0].upserts = std::move(records);
  ASSIGN_OR_RETURN(WriteSummary summary, Write(std::move(groups)));
  return summary.upserts;
}

Status Collection::PrepareUpsert(Record& r, size_t position, index::TermVector* terms) const {
  RETURN_IF_ERROR(ValidateRecord(r, position));
  const json payload = r.payload.empty() ? json::object() : json::parse(r.payload, nullptr, false);
  if (!payload.is_object()) {
    return absl::InvalidArgumentError(
        StrCat("record ", position, " (id '", r.id, "'): payload must be a JSON object"));
  }
  r.payload = payload.dump();  // canonical form
  *terms = AnalyzePayload(payload);
  if (config_.metric == DistanceMetric::kCosine) index::NormalizeL2(r.vector.data(), config_.dim);
  return absl::OkStatus();
}

Result<WriteSummary> Collection::Write(std::vector<WriteGroup> groups, const GroupCheck& check,
                                       const SourcePositions* positions) {
  if (read_only_) return absl::FailedPreconditionError("collection is open read-only");
  // Validate, canonicalise and analyse here, not under the writer's locks.
  std::vector<std::vector<index::TermVector>> terms(groups.size());
  size_t position = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    terms[g].resize(groups[g].upserts.size());
    for (size_t i = 0; i < groups[g].upserts.size(); ++i) {
      RETURN_IF_ERROR(PrepareUpsert(groups[g].upserts[i], position++, &terms[g][i]));
    }
  }
  std::lock_guard<std::mutex> write_lock(write_mu_);
  if (closed_) return absl::FailedPreconditionError("collection is closed");
  return WriteLocked(std::move(groups), std::move(terms), check, positions);
}

Result<WriteSummary> Collection::WriteLocked(std::vector<WriteGroup> groups,
                                             std::vector<std::vector<index::TermVector>> terms,
                                             const GroupCheck& check, const SourcePositions* positions) {
  WriteSummary summary;
  summary.dropped.assign(groups.size(), false);
  for (size_t g = 0; check && g < groups.size(); ++g) {
    Status st = check(*this, g, &groups[g].deletes);
    if (absl::IsAborted(st)) {
      summary.dropped[g] = true;
    } else {
      RETURN_IF_ERROR(st);
    }
  }
  // Classify in order against the stored state plus earlier records of this write.
  std::vector<DeleteEntry> deletes;
  std::vector<Record> upserts;
  std::vector<index::TermVector> upsert_terms;
  {
    std::shared_lock<std::shared_mutex> state_lock(state_mu_);
    absl::flat_hash_set<std::string> deleted;
    for (size_t g = 0; g < groups.size(); ++g) {
      if (summary.dropped[g]) continue;
      for (const std::string& id : groups[g].deletes) {
        auto it = id_map_.find(id);
        if (it == id_map_.end() || !deleted.insert(id).second) {
          ++summary.deletes.not_found;
          continue;
        }
        deletes.push_back(DeleteEntry{id, it->second.version});
      }
    }
    absl::flat_hash_map<std::string, uint64_t> batch_versions;
    for (size_t g = 0; g < groups.size(); ++g) {
      if (summary.dropped[g]) continue;
      for (size_t i = 0; i < groups[g].upserts.size(); ++i) {
        Record& r = groups[g].upserts[i];
        if (deleted.contains(r.id)) {
          return absl::InvalidArgumentError(
              StrCat("id '", r.id, "' is both deleted and upserted in one write"));
        }
        std::optional<uint64_t> current;
        bool graveyard = false;
        if (auto b = batch_versions.find(r.id); b != batch_versions.end()) {
          current = b->second;
        } else if (auto it = id_map_.find(r.id); it != id_map_.end()) {
          current = it->second.version;
        } else if (auto grave = graveyard_.find(r.id); grave != graveyard_.end()) {
          current = grave->second;
          graveyard = true;
        }
        if (current && r.version < *current) {
          ++summary.upserts.stale;
        } else if (current && r.version == *current) {
          ++(graveyard ? summary.upserts.stale : summary.upserts.unchanged);
        } else {
          ++(current && !graveyard ? summary.upserts.replaced : summary.upserts.inserted);
          batch_versions[r.id] = r.version;
          upserts.push_back(std::move(r));
          upsert_terms.push_back(std::move(terms[g][i]));
        }
      }
    }
  }
  summary.deletes.deleted = deletes.size();
  stale_discarded_.fetch_add(summary.upserts.stale, std::memory_order_relaxed);
  const bool has_positions = positions != nullptr && !positions->empty();
  if (deletes.empty() && upserts.empty() && !has_positions) return summary;
  // One WAL record: recovery replays all of it or none of it.
  std::vector<const Record*> upsert_ptrs;
  upsert_ptrs.reserve(upserts.size());
  for (const Record& r : upserts) upsert_ptrs.push_back(&r);
  std::string encoded;
  EncodeBatch(deletes, upsert_ptrs, &encoded);
  RecordType type = RecordType::kBatch;
  if (has_positions) {
    std::string batch = std::move(encoded);
    encoded.clear();
    EncodePositionedBatch(batch, *positions, &encoded);
    type = RecordType::kPositionedBatch;
  }
  const WalRecordRef ref{static_cast<uint8_t>(type), encoded};
  ASSIGN_OR_RETURN(uint64_t lsn, wal_->AppendBatch(std::span<const WalRecordRef>(&ref, 1)));
  ApplyBatch(deletes, std::move(upserts), std::move(upsert_terms), lsn,
             has_positions ? *positions : SourcePositions());
  return summary;
}

index::TermVector Collection::AnalyzePayload(const json& payload) const {
  auto it = payload.find(config_.lexical.text_field);
  if (it == payload.end()) return {};
  std::vector<std::string> terms;
  if (it->is_string()) {
    terms = analyzer_->Analyze(it->get_ref<const std::string&>());
  } else if (it->is_array()) {
    for (const auto& part : *it) {
      if (!part.is_string()) continue;
      auto more = analyzer_->Analyze(part.get_ref<const std::string&>());
      terms.insert(terms.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
  }
  return index::TermVector::FromTerms(terms);
}

void Collection::ApplyBatch(std::span<const DeleteEntry> deletes, std::vector<Record> upserts,
                            std::vector<index::TermVector> terms, uint64_t lsn,
                            const SourcePositions& positions) {
  // One exclusive section: Get and Stats see the whole batch or none of it.
  std::unique_lock<std::shared_mutex> state_lock(state_mu_);
  MergePositions(positions, &source_positions_);
  for (const DeleteEntry& d : deletes) ApplyDeleteLocked(d.id, d.version);
  for (size_t i = 0; i < upserts.size(); ++i) ApplyUpsertLocked(std::move(upserts[i]), std::move(terms[i]));
  // Only now: a segment frozen part-way through the batch is checkpointed
  // before it, so recovery replays the batch whole (its rows already sealed
  // are skipped as not newer).
  applied_lsn_ = lsn;
  if (growing_->full()) FreezeGrowing();  // index it now, not when the next row arrives
}

void Collection::ApplyUpsertLocked(Record record, index::TermVector terms) {
  std::optional<Location> old;
  if (auto it = id_map_.find(record.id); it != id_map_.end()) {
    if (record.version <= it->second.version) return;  // replay of something already superseded
    old = it->second;
  } else if (auto g = graveyard_.find(record.id); g != graveyard_.end() && record.version <= g->second) {
    return;
  }
  RowMeta meta{record.id, record.version, json::parse(record.payload, nullptr, false)};
  if (!meta.payload.is_object()) meta.payload = json::object();
  if (growing_->full()) FreezeGrowing();  // a batch larger than what the segment had left
  const Row row = growing_->Append(record.vector.data(), std::move(meta), std::move(terms));
  if (old) segments_.at(old->segment_id)->Kill(old->row);
  id_map_[record.id] = Location{growing_->id(), row, record.version};
  graveyard_.erase(record.id);
}

void Collection::ApplyDeleteLocked(const std::string& id, uint64_t version) {
  if (auto it = id_map_.find(id); it != id_map_.end() && it->second.version <= version) {
    segments_.at(it->second.segment_id)->Kill(it->second.row);
    id_map_.erase(it);
  }
  uint64_t& grave = graveyard_[id];
  grave = std::max(grave, version);
}

Result<DeleteSummary> Collection::Delete(std::span<const std::string> ids) {
  std::vector<WriteGroup> groups(1);
  groups[0].deletes.assign(ids.begin(), ids.end());
  ASSIGN_OR_RETURN(WriteSummary summary, Write(std::move(groups)));
  return summary.deletes;
}

Result<DeleteSummary> Collection::DeleteByFilter(const PayloadFilter& filter) {
  if (filter.MatchesAll()) {
    return absl::InvalidArgumentError(
        "an empty filter matches every record; to delete them all, ask for all explicitly");
  }
  return DeleteMatching(&filter);
}

Result<DeleteSummary> Collection::DeleteAll() { return DeleteMatching(nullptr); }

Result<DeleteSummary> Collection::DeleteMatching(const PayloadFilter* filter) {
  if (read_only_) return absl::FailedPreconditionError("collection is open read-only");
  std::lock_guard<std::mutex> write_lock(write_mu_);
  if (closed_) return absl::FailedPreconditionError("collection is closed");
  std::vector<std::string> ids;
  for (const auto& seg : *snapshot()) {
    const size_t n = seg->size();
    for (Row r = 0; r < n; ++r) {
      if (seg->IsAlive(r) && (filter == nullptr || filter->Matches(seg->meta(r).payload))) {
        ids.push_back(seg->meta(r).id);
      }
    }
  }
  std::vector<WriteGroup> groups(1);
  groups[0].deletes = std::move(ids);
  ASSIGN_OR_RETURN(WriteSummary summary, WriteLocked(std::move(groups), {{}}, {}, nullptr));
  return summary.deletes;
}

std::vector<StoredRecord> Collection::ListRecords(const PayloadFilter* filter) {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  std::vector<StoredRecord> out;
  for (const auto& seg : *snapshot()) {
    const size_t n = seg->size();
    for (Row r = 0; r < n; ++r) {
      if (!seg->IsAlive(r)) continue;
      const RowMeta& meta = seg->meta(r);
      if (filter == nullptr || filter->Matches(meta.payload))
        out.push_back({meta.id, meta.version, {}, meta.payload});
    }
  }
  return out;
}

// ---------------------------------------------------------------- segments

void Collection::FreezeGrowing() {
  frozen_.push_back(Frozen{growing_, applied_lsn_, graveyard_, source_positions_});
  growing_ = std::make_shared<GrowingSegment>(next_segment_id_++, config_.dim, IndexMetric(),
                                              config_.seal_threshold);
  segments_[growing_->id()] = growing_;
  PublishSnapshot();
  if (!read_only_) {
    Status st = wal_ ? wal_->Rotate() : absl::OkStatus();
    if (!st.ok()) std::fprintf(stderr, "ragline: WAL rotate: %s\n", std::string(st.message()).c_str());
    ScheduleSeal();
  }
}

void Collection::PublishSnapshot() {
  auto list = std::make_shared<SegmentList>();
  list->reserve(segments_.size());
  for (const auto& [id, seg] : segments_) list->push_back(seg);
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  snapshot_ = std::move(list);
}

std::shared_ptr<const Collection::SegmentList> Collection::snapshot() const {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  return snapshot_;
}

void Collection::ScheduleSeal() {
  std::lock_guard<std::mutex> lock(bg_mu_);
  if (seal_running_) return;
  seal_running_ = true;
  pool_.Submit([this] { SealLoop(); });
}

void Collection::SealLoop() {
  for (;;) {
    Frozen frozen;
    {
      std::shared_lock<std::shared_mutex> state_lock(state_mu_);
      std::lock_guard<std::mutex> lock(bg_mu_);
      if (frozen_.empty() || !bg_error_.ok()) {
        // Once seal_running_ is false and bg_mu_ released, Close() may return
        // and the collection be destroyed: release state_mu_ first, or its
        // unlock could land in freed memory (or in the next collection
        // allocated there, whose state_mu_ then never locks again). bg_mu_
        // stays held, so a freeze after the check waits in ScheduleSeal and
        // starts a new loop.
        state_lock.unlock();
        seal_running_ = false;
        bg_cv_.notify_all();
        return;
      }
      frozen = frozen_.front();
    }
    Status st = [&]() -> Status {
      ASSIGN_OR_RETURN(auto sealed, SealedSegment::BuildFrom(*frozen.segment, config_.index_kind,
                                                             config_.index_params, &pool_));
      RETURN_IF_ERROR(sealed->Write(env_, SegmentPath(sealed->id())));
      std::lock_guard<std::mutex> write_lock(write_mu_);
      {
        std::unique_lock<std::shared_mutex> state_lock(state_mu_);
        sealed->CopyTombstones(*frozen.segment);  // rows killed while the index was built
        segments_[sealed->id()] = sealed;
        frozen_.pop_front();
        PublishSnapshot();
      }
      RETURN_IF_ERROR(WriteManifest(frozen.checkpoint_lsn, frozen.graveyard, frozen.positions));
      checkpoint_lsn_ = frozen.checkpoint_lsn;
      checkpoint_positions_ = frozen.positions;
      return wal_->RemoveObsolete(checkpoint_lsn_);
    }();
    if (!st.ok()) {
      std::fprintf(stderr, "ragline: sealing segment of %s failed: %s\n", config_.name.c_str(),
                   std::string(st.message()).c_str());
      std::lock_guard<std::mutex> lock(bg_mu_);
      bg_error_ = st;
    }
  }
}

Status Collection::WriteManifest(uint64_t checkpoint_lsn,
                                 const absl::flat_hash_map<std::string, uint64_t>& graveyard,
                                 const SourcePositions& positions) {
  json m;
  m["format"] = kManifestFormat;
  m["checkpoint_lsn"] = checkpoint_lsn;
  std::vector<uint64_t> sealed;
  uint64_t next_id;
  {
    std::shared_lock<std::shared_mutex> state_lock(state_mu_);
    for (const auto& [id, seg] : segments_) {
      if (seg->sealed()) sealed.push_back(id);
    }
    // Quarantined segments stay named until `ragline repair`, so the loss
    // stays reported across restarts.
    for (const auto& q : quarantined_) sealed.push_back(q.id);
    std::sort(sealed.begin(), sealed.end());
    next_id = next_segment_id_;
  }
  m["next_segment_id"] = next_id;
  m["segments"] = sealed;
  json graves = json::array();
  std::vector<std::pair<std::string, uint64_t>> sorted(graveyard.begin(), graveyard.end());
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [id, v] : sorted) graves.push_back({id, v});
  m["graveyard"] = std::move(graves);
  if (!positions.empty()) m["source_positions"] = positions;
  return env_.WriteFileAtomically(dir_ + "/" + kManifestFile, m.dump() + "\n");
}

Status Collection::WaitForIndexing() {
  std::unique_lock<std::mutex> lock(bg_mu_);
  bg_cv_.wait(lock, [this] { return !seal_running_; });
  return bg_error_;
}

Status Collection::Seal() {
  if (read_only_) return absl::FailedPreconditionError("collection is open read-only");
  std::lock_guard<std::mutex> write_lock(write_mu_);
  std::unique_lock<std::shared_mutex> state_lock(state_mu_);
  if (growing_->size() > 0) FreezeGrowing();
  return absl::OkStatus();
}

Status Collection::Compact() {
  if (read_only_) return absl::FailedPreconditionError("collection is open read-only");
  std::lock_guard<std::mutex> compact_lock(compact_mu_);
  // Every sealed segment, once there are two or more (or one with dead rows).
  std::vector<std::shared_ptr<Segment>> inputs;
  uint64_t new_id;
  {
    std::lock_guard<std::mutex> write_lock(write_mu_);
    std::unique_lock<std::shared_mutex> state_lock(state_mu_);
    for (const auto& [id, seg] : segments_) {
      if (seg->sealed()) inputs.push_back(seg);
    }
    if (inputs.empty() || (inputs.size() == 1 && inputs[0]->dead_count() == 0)) return absl::OkStatus();
    new_id = next_segment_id_++;
  }
  // The largest input goes first; without dead rows it is copied whole and
  // its graph grows by the others' rows instead of being rebuilt.
  std::stable_sort(inputs.begin(), inputs.end(),
                   [](const auto& a, const auto& b) { return a->size() > b->size(); });
  const auto* base =
      inputs[0]->dead_count() == 0 ? static_cast<const SealedSegment*>(inputs[0].get()) : nullptr;
  // Copy the live rows (all of the base's: a row a writer kills meanwhile is
  // killed again below); remember where each came from.
  struct Origin {
    Segment* segment;
    Row row;
  };
  std::vector<float> vectors;
  std::vector<RowMeta> metas;
  std::vector<index::TermVector> terms;
  std::vector<Origin> origins;
  for (const auto& seg : inputs) {
    // Inputs are sealed: their term vectors come back from the postings.
    std::vector<index::TermVector> seg_terms = static_cast<const SealedSegment&>(*seg).TermVectors();
    for (Row r = 0; r < seg->size(); ++r) {
      if (!seg->IsAlive(r) && seg.get() != base) continue;
      vectors.insert(vectors.end(), seg->vector(r), seg->vector(r) + config_.dim);
      metas.push_back(seg->meta(r));
      terms.push_back(std::move(seg_terms[r]));
      origins.push_back({seg.get(), r});
    }
  }
  ASSIGN_OR_RETURN(auto merged, SealedSegment::Build(new_id, config_.dim, IndexMetric(), config_.index_kind,
                                                     config_.index_params, std::move(vectors),
                                                     std::move(metas), std::move(terms), &pool_, base));
  RETURN_IF_ERROR(merged->Write(env_, SegmentPath(new_id)));
  {
    std::lock_guard<std::mutex> write_lock(write_mu_);
    absl::flat_hash_map<std::string, uint64_t> graveyard;
    {
      std::unique_lock<std::shared_mutex> state_lock(state_mu_);
      for (Row r = 0; r < origins.size(); ++r) {
        const auto& o = origins[r];
        if (!o.segment->IsAlive(o.row)) {  // deleted or replaced during the build
          merged->Kill(r);
          continue;
        }
        auto it = id_map_.find(merged->meta(r).id);
        if (it != id_map_.end() && it->second.segment_id == o.segment->id() && it->second.row == o.row) {
          it->second = Location{new_id, r, it->second.version};
        }
      }
      for (const auto& seg : inputs) segments_.erase(seg->id());
      segments_[new_id] = merged;
      PublishSnapshot();
      graveyard = graveyard_;
    }
    RETURN_IF_ERROR(WriteManifest(checkpoint_lsn_, graveyard, checkpoint_positions_));
  }
  for (const auto& seg : inputs) RETURN_IF_ERROR(env_.RemoveFile(SegmentPath(seg->id())));
  return absl::OkStatus();
}

// ---------------------------------------------------------------- reads

namespace {

// One segment's hit: smaller distance = better.
struct Candidate {
  float distance;
  const Segment* segment;
  Row row;
};

// The k best candidates from all segments as hits, best first (ties by id);
// an id seen twice (a replacement briefly in two segments) keeps its better
// row. Scores are -distance when `negate` (similarities), else the distance.
std::vector<SearchHit> MergeSegmentHits(std::vector<Candidate> candidates, size_t k, bool negate) {
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.distance != b.distance) return a.distance < b.distance;
    return a.segment->meta(a.row).id < b.segment->meta(b.row).id;
  });
  std::vector<SearchHit> hits;
  absl::flat_hash_set<std::string_view> seen;
  for (const auto& c : candidates) {
    if (hits.size() == k) break;
    const RowMeta& meta = c.segment->meta(c.row);
    if (!seen.insert(meta.id).second) continue;
    hits.push_back(SearchHit{meta.id, negate ? -c.distance : c.distance, meta.version, meta.payload});
  }
  return hits;
}

}  // namespace

Result<std::vector<SearchHit>> Collection::Search(std::span<const float> query, size_t k,
                                                  const PayloadFilter* filter,
                                                  const index::SearchOptions& options) const {
  if (query.size() != config_.dim) {
    return absl::InvalidArgumentError(StrCat("query vector has dimension ", query.size(), ", collection '",
                                             config_.name, "' expects ", config_.dim));
  }
  std::vector<float> q(query.begin(), query.end());
  for (size_t i = 0; i < q.size(); ++i) {
    if (!std::isfinite(q[i])) {
      return absl::InvalidArgumentError(StrCat("query vector[", i, "] is not a finite number"));
    }
  }
  // Refused like an upsert of it: it would match nothing, silently.
  if (IsZeroUnderCosine(q)) return absl::InvalidArgumentError(StrCat("query vector: ", kZeroCosineVector));
  if (config_.metric == DistanceMetric::kCosine) index::NormalizeL2(q.data(), q.size());
  auto segments = snapshot();
  std::vector<Candidate> candidates;
  for (const auto& seg : *segments) {
    for (const auto& n : seg->Search(q.data(), k, options, filter)) {
      candidates.push_back({n.distance, seg.get(), n.label});
    }
  }
  return MergeSegmentHits(std::move(candidates), k, /*negate=*/config_.metric != DistanceMetric::kL2);
}

Result<std::vector<SearchHit>> Collection::LexicalSearch(std::string_view query_text, size_t k,
                                                         const PayloadFilter* filter,
                                                         const index::Bm25Params* bm25_params,
                                                         const LexicalTermStats* global) const {
  if (bm25_params != nullptr) RETURN_IF_ERROR(bm25_params->Validate());
  const std::vector<std::string> query_terms = analyzer_->Analyze(query_text);
  const index::TermVector query = index::TermVector::FromTerms(query_terms);
  if (k == 0 || query.empty()) return std::vector<SearchHit>{};
  std::vector<index::TermHash> terms;
  for (const auto& e : query.entries) terms.push_back(e.term);
  // Fix each segment's row count once so the statistics and the scoring see
  // the same rows while writers append to the growing segment.
  auto segments = snapshot();
  std::vector<size_t> rows(segments->size());
  index::Bm25Stats stats;
  stats.doc_freq.assign(terms.size(), 0);
  for (size_t i = 0; i < segments->size(); ++i) {
    rows[i] = (*segments)[i]->size();
    if (global == nullptr) (*segments)[i]->AddBm25Stats(terms, rows[i], &stats);
  }
  if (global != nullptr) {
    stats.doc_count = global->doc_count;
    stats.total_doc_length = global->total_doc_length;
    for (size_t i = 0; i < terms.size(); ++i) {
      auto it = global->doc_freq.find(terms[i]);
      if (it != global->doc_freq.end()) stats.doc_freq[i] = it->second;
    }
  }
  const index::Bm25Query bm25(query, stats, bm25_params != nullptr ? *bm25_params : config_.lexical.bm25);
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < segments->size(); ++i) {
    const Segment* seg = (*segments)[i].get();
    for (const auto& n : seg->LexicalSearch(bm25, k, rows[i], filter))
      candidates.push_back({n.distance, seg, n.label});
  }
  return MergeSegmentHits(std::move(candidates), k, /*negate=*/true);
}

LexicalTermStats Collection::LexicalQueryStats(std::string_view query_text) const {
  const index::TermVector query = index::TermVector::FromTerms(analyzer_->Analyze(query_text));
  std::vector<index::TermHash> terms;
  for (const auto& e : query.entries) terms.push_back(e.term);
  index::Bm25Stats stats;
  stats.doc_freq.assign(terms.size(), 0);
  auto segments = snapshot();
  for (const auto& seg : *segments) seg->AddBm25Stats(terms, seg->size(), &stats);
  LexicalTermStats out;
  out.doc_count = stats.doc_count;
  out.total_doc_length = stats.total_doc_length;
  for (size_t i = 0; i < terms.size(); ++i) out.doc_freq[terms[i]] = stats.doc_freq[i];
  return out;
}

SourcePositions Collection::source_positions() const {
  std::shared_lock<std::shared_mutex> state_lock(state_mu_);
  return source_positions_;
}

std::optional<StoredRecord> Collection::Get(const std::string& id) const {
  std::shared_lock<std::shared_mutex> state_lock(state_mu_);
  auto it = id_map_.find(id);
  if (it == id_map_.end()) return std::nullopt;
  const Segment& seg = *segments_.at(it->second.segment_id);
  const RowMeta& meta = seg.meta(it->second.row);
  const float* v = seg.vector(it->second.row);
  return StoredRecord{meta.id, meta.version, std::vector<float>(v, v + config_.dim), meta.payload};
}

CollectionStats Collection::Stats() const {
  CollectionStats s;
  std::shared_lock<std::shared_mutex> state_lock(state_mu_);
  s.vector_count = id_map_.size();
  for (const auto& [id, seg] : segments_) {
    s.segments.push_back(SegmentStats{id, seg->size(), seg->dead_count(), seg->sealed(), seg->MemoryBytes()});
    s.deleted += seg->dead_count();
    s.memory_bytes += seg->MemoryBytes();
    if (!seg->sealed()) s.unindexed += seg->alive_count();
    s.lexical.documents += seg->LexicalDocuments();
    s.lexical.memory_bytes += seg->LexicalMemoryBytes();
    index::Bm25Stats bm25;
    seg->AddBm25Stats({}, seg->size(), &bm25);
    s.lexical.bm25_documents += bm25.doc_count;
    s.lexical.bm25_terms += bm25.total_doc_length;
  }
  s.wal_bytes = wal_ ? wal_->SizeBytes() : 0;
  s.last_lsn = wal_ ? wal_->last_lsn() : 0;
  s.checkpoint_lsn = checkpoint_lsn_;
  s.stale_discarded = stale_discarded_.load(std::memory_order_relaxed);
  s.quarantined = quarantined_;
  return s;
}

std::vector<QuarantinedSegment> Collection::quarantined() const {
  std::shared_lock<std::shared_mutex> state_lock(state_mu_);
  return quarantined_;
}

std::vector<WalRecoveryReport::Gap> Collection::LostLogRanges() const {
  std::vector<WalRecoveryReport::Gap> lost;
  for (WalRecoveryReport::Gap gap : recovery_report_.gaps) {
    if (gap.last_lsn <= manifest_checkpoint_) continue;  // covered by the segments
    gap.first_lsn = std::max(gap.first_lsn, manifest_checkpoint_ + 1);
    lost.push_back(std::move(gap));
  }
  return lost;
}

Result<RepairReport> Collection::Repair() {
  if (read_only_ || !salvage_) {
    return absl::FailedPreconditionError(
        "Repair needs the collection opened read-write with OpenOptions::salvage");
  }
  RepairReport report;
  report.lost_log_ranges = LostLogRanges();
  // Everything the salvage open recovered into a sealed segment; then the
  // checkpoint covers the whole log, and its damaged files can go.
  RETURN_IF_ERROR(Seal());
  RETURN_IF_ERROR(WaitForIndexing());
  std::lock_guard<std::mutex> write_lock(write_mu_);
  RETURN_IF_ERROR(wal_->Rotate());
  std::vector<QuarantinedSegment> removed;
  absl::flat_hash_map<std::string, uint64_t> graveyard;
  SourcePositions positions;
  {
    std::unique_lock<std::shared_mutex> state_lock(state_mu_);
    removed = std::move(quarantined_);
    quarantined_.clear();
    graveyard = graveyard_;
    positions = source_positions_;
  }
  if (!removed.empty()) RETURN_IF_ERROR(env_.CreateDirs(dir_ + "/quarantine"));
  for (const auto& q : removed) {
    if (env_.FileExists(SegmentPath(q.id))) {
      RETURN_IF_ERROR(
          env_.RenameFile(SegmentPath(q.id), StrCat(dir_, "/quarantine/", SegmentFileName(q.id))));
    }
  }
  RETURN_IF_ERROR(WriteManifest(applied_lsn_, graveyard, positions));
  checkpoint_lsn_ = applied_lsn_;
  checkpoint_positions_ = positions;
  RETURN_IF_ERROR(wal_->RemoveObsolete(checkpoint_lsn_));
  report.removed_segments = std::move(removed);
  report.vector_count = Stats().vector_count;
  return report;
}

Status Collection::Close() {
  Status st = WaitForIndexing();
  std::lock_guard<std::mutex> write_lock(write_mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  wal_.reset();
  lock_.reset();
  return st;
}

nlohmann::json StatsJson(const Collection& c) {
  using nlohmann::json;
  const auto s = c.Stats();
  const auto& cfg = c.config();
  json segments = json::array();
  for (const auto& seg : s.segments) {
    segments.push_back({{"id", seg.id},
                        {"rows", seg.rows},
                        {"deleted", seg.deleted},
                        {"sealed", seg.sealed},
                        {"memory_bytes", seg.memory_bytes}});
  }
  json out = {{"name", cfg.name},
              {"dimension", cfg.dim},
              {"metric", MetricName(cfg.metric)},
              {"degraded", !s.quarantined.empty()},
              {"quarantined_segments", QuarantineJson(s.quarantined)},
              {"vector_count", s.vector_count},
              {"deleted", s.deleted},
              {"unindexed", s.unindexed},
              {"segment_count", s.segments.size()},
              {"segments", segments},
              {"memory_bytes", s.memory_bytes},
              {"wal_bytes", s.wal_bytes},
              {"last_lsn", s.last_lsn},
              {"checkpoint_lsn", s.checkpoint_lsn},
              {"stale_discarded", s.stale_discarded},
              {"index", cfg.ToJson()["index"]},
              {"lexical",
               {{"documents", s.lexical.documents},
                {"bm25_documents", s.lexical.bm25_documents},
                {"bm25_terms", s.lexical.bm25_terms},
                {"memory_bytes", s.lexical.memory_bytes}}}};
  if (json recovery = RecoveryJson(c); !recovery.is_null()) out["wal_recovery"] = std::move(recovery);
  if (auto positions = c.source_positions(); !positions.empty()) out["source_positions"] = positions;
  return out;
}

nlohmann::json QuarantineJson(const std::vector<QuarantinedSegment>& segments) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& q : segments) {
    out.push_back({{"id", q.id},
                   {"file", q.file},
                   {"reason", q.reason},
                   {"rows", q.rows ? nlohmann::json(*q.rows) : nlohmann::json(nullptr)}});
  }
  return out;
}

nlohmann::json RecoveryJson(const Collection& c) {
  const WalRecoveryReport& r = c.recovery_report();
  nlohmann::json out;
  if (r.tail_cut) {
    // A torn last write at a crash (never acknowledged): normal, reported.
    out["tail_cut"] = {{"file", std::filesystem::path(r.cut_file).filename().string()},
                       {"offset", r.cut_offset},
                       {"bytes_dropped", r.bytes_dropped},
                       {"reason", r.reason}};
  }
  if (const auto lost = c.LostLogRanges(); !lost.empty()) {
    out["lost_ranges"] = nlohmann::json::array();
    for (const auto& g : lost) {
      out["lost_ranges"].push_back(
          {{"first_lsn", g.first_lsn},
           {"last_lsn", g.last_lsn == UINT64_MAX ? nlohmann::json(nullptr) : nlohmann::json(g.last_lsn)},
           {"cause", g.cause}});
    }
  }
  return out;
}

}  // namespace ragline::store
