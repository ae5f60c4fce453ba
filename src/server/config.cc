#include "server/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/strings.h"
#include "embed/bert_encoder.h"

namespace ragline::server {
namespace {

using nlohmann::json;

Status NeedString(const json& v, std::string_view key, std::string* out) {
  if (!v.is_string()) return absl::InvalidArgumentError(StrCat("config: \"", key, "\" must be a string"));
  *out = v.get<std::string>();
  return absl::OkStatus();
}

Status NeedBool(const json& v, std::string_view key, bool* out) {
  if (!v.is_boolean()) return absl::InvalidArgumentError(StrCat("config: \"", key, "\" must be true or false"));
  *out = v.get<bool>();
  return absl::OkStatus();
}

template <typename T>
Status NeedUnsigned(const json& v, std::string_view key, T* out) {
  if (!v.is_number_unsigned()) {
    return absl::InvalidArgumentError(StrCat("config: \"", key, "\" must be a non-negative integer"));
  }
  *out = v.get<T>();
  return absl::OkStatus();
}

}  // namespace

Status WorkersConfig::MergeJson(const json& v) {
  if (!v.is_object()) return absl::InvalidArgumentError("config: \"workers\" must be an object");
  for (const auto& [key, value] : v.items()) {
    const std::string where = StrCat("workers.", key);
    if (key == "topic_partitions") {
      RETURN_IF_ERROR(NeedUnsigned(value, where, &topic_partitions));
    } else if (key == "replication") {
      RETURN_IF_ERROR(NeedUnsigned(value, where, &replication));
    } else if (key == "batch") {
      RETURN_IF_ERROR(NeedUnsigned(value, where, &batch));
    } else if (key == "chunk_tokens") {
      RETURN_IF_ERROR(NeedUnsigned(value, where, &chunk_tokens));
    } else if (key == "overlap") {
      RETURN_IF_ERROR(NeedUnsigned(value, where, &overlap));
    } else if (key == "host") {
      RETURN_IF_ERROR(NeedString(value, where, &host));
    } else if (key == "collection") {
      RETURN_IF_ERROR(NeedString(value, where, &collection));
    } else if (key == "create") {
      RETURN_IF_ERROR(NeedBool(value, where, &create));
    } else if (key == "dim") {
      RETURN_IF_ERROR(NeedUnsigned(value, where, &dim));
    } else {
      return absl::InvalidArgumentError(StrCat("config: unknown key \"", where, "\""));
    }
  }
  return absl::OkStatus();
}

Status WorkersConfig::Validate() const {
  auto range = [](std::string_view key, uint64_t v, uint64_t lo, uint64_t hi) -> Status {
    if (v < lo || v > hi) {
      return absl::InvalidArgumentError(
          StrCat("config: \"workers.", key, "\" must be in [", lo, ", ", hi, "]"));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(range("topic_partitions", topic_partitions, 1, 10000));
  RETURN_IF_ERROR(range("replication", replication, 1, 100));
  RETURN_IF_ERROR(range("batch", batch, 1, 100000));
  RETURN_IF_ERROR(range("dim", dim, 1, 65536));
  return absl::OkStatus();
}

Status ServerConfig::MergeJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("config: expected a JSON object");
  for (const auto& [key, v] : j.items()) {
    if (key == "data") {
      RETURN_IF_ERROR(NeedString(v, key, &data_dir));
    } else if (key == "model") {
      RETURN_IF_ERROR(NeedString(v, key, &model_dir));
    } else if (key == "host") {
      RETURN_IF_ERROR(NeedString(v, key, &host));
    } else if (key == "port") {
      RETURN_IF_ERROR(NeedUnsigned(v, key, &port));
    } else if (key == "threads") {
      RETURN_IF_ERROR(NeedUnsigned(v, key, &threads));
    } else if (key == "max_body_bytes") {
      RETURN_IF_ERROR(NeedUnsigned(v, key, &max_body_bytes));
    } else if (key == "max_header_bytes") {
      RETURN_IF_ERROR(NeedUnsigned(v, key, &max_header_bytes));
    } else if (key == "shutdown_grace_ms") {
      RETURN_IF_ERROR(NeedUnsigned(v, key, &shutdown_grace_ms));
    } else if (key == "request_timeout_ms") {
      RETURN_IF_ERROR(NeedUnsigned(v, key, &request_timeout_ms));
    } else if (key == "max_queued_requests") {
      RETURN_IF_ERROR(NeedUnsigned(v, key, &max_queued_requests));
    } else if (key == "fallback") {
      if (!v.is_object()) return absl::InvalidArgumentError("config: \"fallback\" must be an object");
      for (const auto& [fk, fv] : v.items()) {
        const std::string where = StrCat("fallback.", fk);
        if (fk == "enabled") {
          RETURN_IF_ERROR(NeedBool(fv, where, &fallback_enabled));
        } else if (fk == "capacity") {
          RETURN_IF_ERROR(NeedUnsigned(fv, where, &fallback_capacity));
        } else if (fk == "refresh_ms") {
          RETURN_IF_ERROR(NeedUnsigned(fv, where, &fallback_refresh_ms));
        } else if (fk == "search_timeout_ms") {
          RETURN_IF_ERROR(NeedUnsigned(fv, where, &fallback_search_timeout_ms));
        } else if (fk == "breaker") {
          ASSIGN_OR_RETURN(search_breaker,
                           resilience::BreakerOptions::FromJson(fv, StrCat("config: ", where)));
        } else {
          return absl::InvalidArgumentError(StrCat("config: unknown key \"", where, "\""));
        }
      }
    } else if (key == "admission") {
      if (!v.is_object()) return absl::InvalidArgumentError("config: \"admission\" must be an object");
      for (const auto& [ak, av] : v.items()) {
        const std::string where = StrCat("admission.", ak);
        if (ak == "max_in_flight" || ak == "max_queue") {
          uint64_t n = 0;
          RETURN_IF_ERROR(NeedUnsigned(av, where, &n));
          (ak == "max_in_flight" ? admission_max_in_flight : admission_max_queue) = n;
        } else if (ak == "max_wait_ms") {
          RETURN_IF_ERROR(NeedUnsigned(av, where, &admission_max_wait_ms));
        } else {
          return absl::InvalidArgumentError(StrCat("config: unknown key \"", where, "\""));
        }
      }
    } else if (key == "question_batching") {
      if (!v.is_object()) return absl::InvalidArgumentError("config: \"question_batching\" must be an object");
      for (const auto& [bk, bv] : v.items()) {
        const std::string where = StrCat("question_batching.", bk);
        if (bk == "enabled") {
          RETURN_IF_ERROR(NeedBool(bv, where, &question_batching));
        } else if (bk == "workers") {
          RETURN_IF_ERROR(NeedUnsigned(bv, where, &question_batch.workers));
        } else if (bk == "max_batch_tokens") {
          RETURN_IF_ERROR(NeedUnsigned(bv, where, &question_batch.max_batch_tokens));
        } else if (bk == "window_us") {
          uint64_t us = 0;
          RETURN_IF_ERROR(NeedUnsigned(bv, where, &us));
          question_batch.window = std::chrono::microseconds(us);
        } else {
          return absl::InvalidArgumentError(StrCat("config: unknown key \"", where, "\""));
        }
      }
    } else if (key == "probe") {
      ASSIGN_OR_RETURN(probe, query::ProbeSpec::FromJson(v));
    } else if (key == "ingest") {
      if (!v.is_object()) return absl::InvalidArgumentError("config: \"ingest\" must be an object");
      for (const auto& [ik, iv] : v.items()) {
        const std::string where = StrCat("ingest.", ik);
        if (ik == "max_document_bytes") {
          RETURN_IF_ERROR(NeedUnsigned(iv, where, &ingest.max_document_bytes));
        } else if (ik == "max_document_chunks") {
          RETURN_IF_ERROR(NeedUnsigned(iv, where, &ingest.max_document_chunks));
        } else if (ik == "max_request_chunks") {
          RETURN_IF_ERROR(NeedUnsigned(iv, where, &ingest.max_call_chunks));
        } else {
          return absl::InvalidArgumentError(StrCat("config: unknown key \"", where, "\""));
        }
      }
    } else if (key == "role") {
      RETURN_IF_ERROR(NeedString(v, key, &role));
    } else if (key == "kafka") {
      RETURN_IF_ERROR(NeedString(v, key, &kafka));
    } else if (key == "topic_prefix") {
      RETURN_IF_ERROR(NeedString(v, key, &topic_prefix));
    } else if (key == "shard_deadline_ms") {
      RETURN_IF_ERROR(NeedUnsigned(v, key, &shard_deadline_ms));
    } else if (key == "shards") {
      if (!v.is_array()) return absl::InvalidArgumentError("config: \"shards\" must be an array of strings");
      shards.clear();
      for (const auto& shard : v) {
        if (!shard.is_string() || shard.get<std::string>().empty()) {
          return absl::InvalidArgumentError("config: \"shards\" must be an array of non-empty strings");
        }
        shards.push_back(shard.get<std::string>());
      }
    } else if (key == "precision") {
      RETURN_IF_ERROR(NeedString(v, key, &precision));
    } else if (key == "log_level") {
      RETURN_IF_ERROR(NeedString(v, key, &log_level));
    } else if (key == "llm") {
      if (!v.is_object()) return absl::InvalidArgumentError("config: \"llm\" must be an object");
      for (const auto& [lk, lv] : v.items()) {
        const std::string where = StrCat("llm.", lk);
        if (lk == "url") {
          RETURN_IF_ERROR(NeedString(lv, where, &llm.url));
        } else if (lk == "model") {
          RETURN_IF_ERROR(NeedString(lv, where, &llm.model));
        } else if (lk == "api_key") {
          RETURN_IF_ERROR(NeedString(lv, where, &llm.api_key));
        } else if (lk == "timeout_ms") {
          RETURN_IF_ERROR(NeedUnsigned(lv, where, &llm.timeout_ms));
        } else if (lk == "max_tokens") {
          RETURN_IF_ERROR(NeedUnsigned(lv, where, &llm.max_tokens));
        } else if (lk == "breaker") {
          ASSIGN_OR_RETURN(llm.breaker, resilience::BreakerOptions::FromJson(lv, StrCat("config: ", where)));
        } else if (lk == "retry") {
          ASSIGN_OR_RETURN(llm.retry, resilience::RetryPolicy::FromJson(lv, StrCat("config: ", where)));
        } else {
          return absl::InvalidArgumentError(StrCat("config: unknown key \"", where, "\""));
        }
      }
    } else if (key == "compaction") {
      if (!v.is_object()) return absl::InvalidArgumentError("config: \"compaction\" must be an object");
      for (const auto& [ck, cv] : v.items()) {
        const std::string where = StrCat("compaction.", ck);
        if (ck == "min_segments") {
          RETURN_IF_ERROR(NeedUnsigned(cv, where, &compaction.min_segments));
        } else if (ck == "max_dead_fraction") {
          if (!cv.is_number() || cv.get<double>() < 0 || cv.get<double>() > 1) {
            return absl::InvalidArgumentError(StrCat("config: \"", where, "\" must be a number in [0, 1]"));
          }
          compaction.max_dead_fraction = cv.get<double>();
        } else if (ck == "min_growing_rows") {
          RETURN_IF_ERROR(NeedUnsigned(cv, where, &compaction.min_growing_rows));
        } else if (ck == "interval_ms") {
          uint64_t ms = 0;
          RETURN_IF_ERROR(NeedUnsigned(cv, where, &ms));
          if (ms < 10)
            return absl::InvalidArgumentError(StrCat("config: \"", where, "\" must be at least 10"));
          compaction.interval = std::chrono::milliseconds(ms);
        } else {
          return absl::InvalidArgumentError(StrCat("config: unknown key \"", where, "\""));
        }
      }
    } else if (key == "workers") {
      RETURN_IF_ERROR(workers.MergeJson(v));
    } else if (key == "api_keys") {
      if (!v.is_array()) return absl::InvalidArgumentError("config: \"api_keys\" must be an array");
      api_keys.clear();
      for (const auto& k : v) {
        ASSIGN_OR_RETURN(ApiKey parsed, ApiKey::FromJson(k));
        api_keys.push_back(std::move(parsed));
      }
    } else {
      return absl::InvalidArgumentError(StrCat("config: unknown key \"", key, "\""));
    }
  }
  return absl::OkStatus();
}

Status ServerConfig::MergeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat("cannot open config file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError(StrCat(path, ": not valid JSON"));
  Status st = MergeJson(j);
  if (!st.ok()) return absl::InvalidArgumentError(StrCat(path, ": ", std::string(st.message())));
  return absl::OkStatus();
}

resilience::AdmissionOptions ServerConfig::Admission() const {
  resilience::AdmissionOptions a;
  a.max_in_flight = admission_max_in_flight.value_or(std::max<size_t>(1, threads / 2));
  a.max_queue = admission_max_queue.value_or(std::max<size_t>(1, threads / 4));
  a.max_wait = std::chrono::milliseconds(admission_max_wait_ms);
  return a;
}

void ServerConfig::MergeEnvironment() { llm.MergeEnvironment(); }

Status ServerConfig::Validate() const {
  if (role == "router") {
    if (shards.empty()) {
      return absl::InvalidArgumentError("a router needs shards: give --shard URL[,URL...] once per shard");
    }
    if (!data_dir.empty()) return absl::InvalidArgumentError("a router holds no data: leave out --data");
    if (shard_deadline_ms < 1 || shard_deadline_ms > 600'000)
      return absl::InvalidArgumentError("shard_deadline_ms must be in [1, 600000]");
  } else if (!kafka.empty()) {
    return absl::InvalidArgumentError("--kafka is for a router (a node ingests itself: POST .../documents)");
  } else if (role != "node") {
    return absl::InvalidArgumentError(StrCat("role must be \"node\" or \"router\", got \"", role, "\""));
  } else if (data_dir.empty()) {
    return absl::InvalidArgumentError("no data directory: give --data DIR (or \"data\" in the config)");
  }
  if (port < 0 || port > 65535)
    return absl::InvalidArgumentError(StrCat("port must be in [0, 65535], got ", port));
  if (threads < 1 || threads > 1024) return absl::InvalidArgumentError("threads must be in [1, 1024]");
  if (max_body_bytes < 1024) return absl::InvalidArgumentError("max_body_bytes must be at least 1024");
  if (max_header_bytes < 1024) return absl::InvalidArgumentError("max_header_bytes must be at least 1024");
  if (shutdown_grace_ms > 3'600'000)
    return absl::InvalidArgumentError("shutdown_grace_ms must be at most 3600000");
  if (request_timeout_ms < 1 || request_timeout_ms > 3'600'000)
    return absl::InvalidArgumentError("request_timeout_ms must be in [1, 3600000]");
  if (max_queued_requests > 1'000'000)
    return absl::InvalidArgumentError("max_queued_requests must be at most 1000000 (0 = no bound)");
  if (fallback_capacity > 10'000'000 || fallback_refresh_ms < 10 || fallback_refresh_ms > 86'400'000 ||
      fallback_search_timeout_ms < 1 || fallback_search_timeout_ms > 3'600'000) {
    return absl::InvalidArgumentError(
        "fallback: capacity at most 10000000, refresh_ms in [10, 86400000], search_timeout_ms in [1, "
        "3600000]");
  }
  if (admission_max_in_flight.value_or(0) > 100'000 || admission_max_queue.value_or(0) > 1'000'000 ||
      admission_max_wait_ms > 3'600'000) {
    return absl::InvalidArgumentError(
        "admission: max_in_flight at most 100000 (0 = no limit), max_queue at most 1000000, max_wait_ms at "
        "most "
        "3600000");
  }
  if (ingest.max_document_bytes == 0 || ingest.max_document_chunks == 0 || ingest.max_call_chunks == 0) {
    return absl::InvalidArgumentError(
        "ingest.max_document_bytes, ingest.max_document_chunks and ingest.max_request_chunks must be at "
        "least 1");
  }
  if (question_batch.workers > 256 || question_batch.max_batch_tokens < 1 ||
      question_batch.max_batch_tokens > 1'000'000 || question_batch.window > std::chrono::seconds(1)) {
    return absl::InvalidArgumentError(
        "question_batching: workers at most 256 (0 = one per hardware thread), max_batch_tokens in [1, 1000000], window_us at most 1000000");
  }
  RETURN_IF_ERROR(embed::ParsePrecision(precision).status());
  if (!llm.url.empty() && llm.model.empty()) {
    return absl::InvalidArgumentError(
        "an LLM URL needs a model name (--llm-model, RAGLINE_LLM_MODEL or llm.model)");
  }
  return absl::OkStatus();
}

}  // namespace ragline::server
