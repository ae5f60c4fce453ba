#include "pipeline/kafka.h"

#include <librdkafka/rdkafka.h>

#include <mutex>
#include <thread>

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace ragline::pipeline {
namespace {

using Conf = std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)>;

Result<Conf> MakeConf(const std::string& bootstrap, const KafkaConfig& settings) {
  Conf conf(rd_kafka_conf_new(), &rd_kafka_conf_destroy);
  char err[512];
  KafkaConfig all = settings;
  all.emplace("bootstrap.servers", bootstrap);
  all.emplace("log_level", "3");  // errors only on stderr; they also come back as Status
  for (const auto& [key, value] : all) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(StrCat("kafka config ", key, "=", value, ": ", err));
    }
  }
  return conf;
}

// Creates a client; takes the conf on success.
Result<rd_kafka_t*> NewClient(rd_kafka_type_t type, Conf conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (rk == nullptr) return absl::InvalidArgumentError(StrCat("kafka client: ", err));
  conf.release();  // owned by rk now
  return rk;
}

using Client = std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)>;

Status KafkaError(std::string_view what, rd_kafka_resp_err_t err) {
  const std::string message = StrCat(what, ": ", rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return absl::DeadlineExceededError(message);
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return absl::NotFoundError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// Takes `error` (may be null: OK).
Status TxnError(std::string_view what, rd_kafka_error_t* error) {
  if (error == nullptr) return absl::OkStatus();
  const std::string message = StrCat(what, ": ", rd_kafka_error_string(error));
  Status st;
  if (rd_kafka_error_txn_requires_abort(error)) {
    st = absl::AbortedError(message);
  } else if (rd_kafka_error_is_fatal(error)) {
    st = absl::FailedPreconditionError(message);
  } else {
    st = absl::UnavailableError(message);
  }
  rd_kafka_error_destroy(error);
  return st;
}

}  // namespace

std::string PositionKey(const std::string& topic, int32_t partition) { return StrCat(topic, "/", partition); }

Status CreateKafkaTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                        int replication_factor, std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(Conf conf, MakeConf(bootstrap, {}));
  ASSIGN_OR_RETURN(rd_kafka_t * raw, NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  Client rk(raw, &rd_kafka_destroy);
  char err[512];
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, err, sizeof(err));
  if (new_topic == nullptr) return absl::InvalidArgumentError(StrCat("topic ", topic, ": ", err));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk.get());
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, static_cast<int>(timeout.count()), err, sizeof(err));
  rd_kafka_CreateTopics(rk.get(), &new_topic, 1, options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
  Status st;
  if (event == nullptr) {
    st = absl::DeadlineExceededError(StrCat("creating topic ", topic, ": no answer from ", bootstrap));
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    st = KafkaError(StrCat("creating topic ", topic), rd_kafka_event_error(event));
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* why = rd_kafka_topic_result_error_string(results[i]);
        st = absl::UnavailableError(StrCat("creating topic ", topic, ": ", why ? why : rd_kafka_err2str(e)));
      }
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy(new_topic);
  rd_kafka_queue_destroy(queue);
  return st;
}

Result<int> KafkaPartitionCount(const std::string& bootstrap, const std::string& topic,
                                std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(Conf conf, MakeConf(bootstrap, {}));
  ASSIGN_OR_RETURN(rd_kafka_t * raw, NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  Client rk(raw, &rd_kafka_destroy);
  // A topic created a moment ago may not be in every broker's metadata yet:
  // ask again until the deadline.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk.get(), 1, nullptr, &metadata, static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(StrCat("metadata of ", topic), err);
    int count = 0;
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = metadata->topics[i];
      if (topic == t.topic && t.err == RD_KAFKA_RESP_ERR_NO_ERROR) count = t.partition_cnt;
    }
    rd_kafka_metadata_destroy(metadata);
    if (count > 0) return count;
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::NotFoundError(StrCat("topic ", topic, " does not exist"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<store::SourcePositions> KafkaEndPositions(const std::string& bootstrap, const std::string& topic,
                                                 const std::vector<int32_t>& partitions,
                                                 std::chrono::milliseconds timeout) {
  std::vector<int32_t> read = partitions;
  if (read.empty()) {
    ASSIGN_OR_RETURN(int count, KafkaPartitionCount(bootstrap, topic, timeout));
    for (int p = 0; p < count; ++p) read.push_back(p);
  }
  ASSIGN_OR_RETURN(Conf conf, MakeConf(bootstrap, {}));
  ASSIGN_OR_RETURN(rd_kafka_t * raw, NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  Client rk(raw, &rd_kafka_destroy);
  store::SourcePositions out;
  for (int32_t p : read) {
    int64_t low = 0, high = 0;
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high,
                                                                     static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(StrCat("end offset of ", topic, "/", p), err);
    out[PositionKey(topic, p)] = static_cast<uint64_t>(high);
  }
  return out;
}

// ---------------------------------------------------------------- producer

struct KafkaProducer::Impl {
  Client rk{nullptr, &rd_kafka_destroy};
  std::mutex mu;
  Status first_error;  // GUARDED_BY(mu): since the last Flush

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    auto* self = static_cast<Impl*>(opaque);
    std::lock_guard<std::mutex> lock(self->mu);
    if (self->first_error.ok()) {
      self->first_error = KafkaError(StrCat("delivery to ", rd_kafka_topic_name(m->rkt)), m->err);
    }
  }
};

KafkaProducer::KafkaProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaProducer::~KafkaProducer() {
  if (impl_->rk) rd_kafka_flush(impl_->rk.get(), 10'000);
}

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(const std::string& bootstrap,
                                                             const KafkaConfig& extra) {
  KafkaConfig settings = extra;
  settings.emplace("enable.idempotence", "true");
  settings.emplace("acks", "all");
  ASSIGN_OR_RETURN(Conf conf, MakeConf(bootstrap, settings));
  auto impl = std::make_unique<Impl>();
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::OnDelivery);
  rd_kafka_conf_set_opaque(conf.get(), impl.get());
  ASSIGN_OR_RETURN(rd_kafka_t * rk, NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  impl->rk.reset(rk);
  if (extra.count("transactional.id")) {
    RETURN_IF_ERROR(TxnError("initialising transactions", rd_kafka_init_transactions(rk, 30'000)));
  }
  return std::unique_ptr<KafkaProducer>(new KafkaProducer(std::move(impl)));
}

Status KafkaProducer::BeginTransaction() {
  return TxnError("beginning a transaction", rd_kafka_begin_transaction(impl_->rk.get()));
}

Status KafkaProducer::CommitTransaction(const KafkaConsumer& consumer,
                                        const std::vector<PartitionStart>& next,
                                        std::chrono::milliseconds timeout) {
  const int ms = static_cast<int>(timeout.count());
  if (!next.empty()) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(next.size()));
    for (const auto& p : next) {
      rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition)->offset = p.offset;
    }
    rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer.rk_);
    Status st = TxnError("sending offsets to the transaction",
                         rd_kafka_send_offsets_to_transaction(impl_->rk.get(), list, group, ms));
    rd_kafka_consumer_group_metadata_destroy(group);
    rd_kafka_topic_partition_list_destroy(list);
    RETURN_IF_ERROR(st);
  }
  RETURN_IF_ERROR(TxnError("committing the transaction", rd_kafka_commit_transaction(impl_->rk.get(), ms)));
  return Flush(timeout);  // delivered with the commit; clears their reports
}

Status KafkaProducer::AbortTransaction(std::chrono::milliseconds timeout) {
  Status st = TxnError("aborting the transaction",
                       rd_kafka_abort_transaction(impl_->rk.get(), static_cast<int>(timeout.count())));
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->first_error = absl::OkStatus();  // purged messages report errors; they were never to land
  return st;
}

Status KafkaProducer::Produce(const std::string& topic, int32_t partition, const std::string& key,
                              const std::string& value) {
  for (;;) {
    const rd_kafka_resp_err_t err =
        rd_kafka_producev(impl_->rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                          RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                          RD_KAFKA_V_KEY(key.data(), key.size()),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return KafkaError(StrCat("producing to ", topic), err);
    rd_kafka_poll(impl_->rk.get(), 100);  // back-pressure: wait for deliveries
  }
}

Status KafkaProducer::Flush(std::chrono::milliseconds timeout) {
  const rd_kafka_resp_err_t err = rd_kafka_flush(impl_->rk.get(), static_cast<int>(timeout.count()));
  std::lock_guard<std::mutex> lock(impl_->mu);
  Status st = std::move(impl_->first_error);
  impl_->first_error = absl::OkStatus();
  if (st.ok() && err != RD_KAFKA_RESP_ERR_NO_ERROR) st = KafkaError("flush", err);
  return st;
}

// ---------------------------------------------------------------- consumer

KafkaConsumer::KafkaConsumer(rd_kafka_t* rk) : rk_(rk) {}
KafkaConsumer::~KafkaConsumer() {
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
}

Result<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(const std::string& bootstrap,
                                                             const std::string& group_id,
                                                             const KafkaConfig& extra) {
  KafkaConfig settings = extra;
  settings.emplace("group.id", group_id);
  settings.emplace("enable.auto.commit", "false");
  settings.emplace("enable.auto.offset.store", "false");
  settings.emplace("isolation.level", "read_committed");
  settings.emplace("enable.partition.eof", "false");
  settings.emplace("auto.offset.reset", "earliest");  // a new group reads a topic from its start
  ASSIGN_OR_RETURN(Conf conf, MakeConf(bootstrap, settings));
  ASSIGN_OR_RETURN(rd_kafka_t * rk, NewClient(RD_KAFKA_CONSUMER, std::move(conf)));
  rd_kafka_poll_set_consumer(rk);
  return std::unique_ptr<KafkaConsumer>(new KafkaConsumer(rk));
}

Status KafkaConsumer::Assign(const std::vector<PartitionStart>& partitions) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& p : partitions) {
    rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition)->offset = p.offset;
  }
  const rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("assigning partitions", err);
  return absl::OkStatus();
}

Status KafkaConsumer::Subscribe(const std::vector<std::string>& topics) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const auto& t : topics) rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("subscribing", err);
  return absl::OkStatus();
}

bool KafkaConsumer::Owns(const std::string& topic, int32_t partition) const {
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(rk_, &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  const bool owned = rd_kafka_topic_partition_list_find(list, topic.c_str(), partition) != nullptr;
  rd_kafka_topic_partition_list_destroy(list);
  return owned;
}

std::vector<PartitionLag> KafkaConsumer::Lag() const {
  std::vector<PartitionLag> out;
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(rk_, &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  if (rd_kafka_position(rk_, list) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = list->elems[i];
      int64_t low = 0, high = 0;
      if (tp.offset < 0 ||
          rd_kafka_get_watermark_offsets(rk_, tp.topic, tp.partition, &low, &high) !=
              RD_KAFKA_RESP_ERR_NO_ERROR ||
          high < 0) {
        continue;  // nothing fetched yet
      }
      out.push_back({tp.topic, tp.partition, std::max<int64_t>(0, high - tp.offset)});
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

Result<std::optional<KafkaMessage>> KafkaConsumer::Poll(std::chrono::milliseconds wait) {
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, static_cast<int>(wait.count()));
  if (m == nullptr) return std::optional<KafkaMessage>();
  std::unique_ptr<rd_kafka_message_t, decltype(&rd_kafka_message_destroy)> owned(m,
                                                                                 &rd_kafka_message_destroy);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(
        StrCat("consuming ", m->rkt ? rd_kafka_topic_name(m->rkt) : "", " [", m->partition, "]"), m->err);
  }
  KafkaMessage out;
  out.topic = rd_kafka_topic_name(m->rkt);
  out.partition = m->partition;
  out.offset = m->offset;
  if (m->key) out.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) out.value.assign(static_cast<const char*>(m->payload), m->len);
  return std::optional<KafkaMessage>(std::move(out));
}

// ---------------------------------------------------------------- upserts source

Result<std::unique_ptr<KafkaUpsertSource>> KafkaUpsertSource::Open(const std::string& bootstrap,
                                                                   const std::string& group_id,
                                                                   const std::string& topic, size_t dim,
                                                                   const store::SourcePositions& positions,
                                                                   const std::vector<int32_t>& partitions,
                                                                   Route route, BadMessage on_bad) {
  std::vector<int32_t> read = partitions;
  if (read.empty()) {
    ASSIGN_OR_RETURN(int count, KafkaPartitionCount(bootstrap, topic));
    for (int p = 0; p < count; ++p) read.push_back(p);
  }
  ASSIGN_OR_RETURN(auto consumer, KafkaConsumer::Create(bootstrap, group_id));
  std::vector<PartitionStart> starts;
  for (int32_t p : read) {
    auto it = positions.find(PositionKey(topic, p));
    starts.push_back({topic, p, it == positions.end() ? 0 : static_cast<int64_t>(it->second)});
  }
  RETURN_IF_ERROR(consumer->Assign(starts));
  return std::unique_ptr<KafkaUpsertSource>(
      new KafkaUpsertSource(std::move(consumer), dim, std::move(route), std::move(on_bad)));
}

Pulled KafkaUpsertSource::Pull(EmbeddedChunk* out, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto polled = consumer_->Poll(std::max(left, std::chrono::milliseconds(0)));
    if (!polled.ok()) {
      last_error_ = polled.status();
      return Pulled::kIdle;
    }
    if (!polled->has_value()) return Pulled::kIdle;
    KafkaMessage& m = **polled;
    const SourceOffset from{PositionKey(m.topic, m.partition), static_cast<uint64_t>(m.offset)};
    nlohmann::json value = nlohmann::json::parse(m.value, nullptr, false);
    const std::optional<std::string> collection =
        value.is_discarded() ? std::nullopt : UpsertCollection(value);
    const Routed routed = route_(collection.value_or(""));
    if (routed != Routed::kMine) {
      if (routed == Routed::kStray && on_bad_) {
        on_bad_(m, absl::NotFoundError(value.is_discarded() ? std::string("the value is not JSON")
                                       : !collection
                                           ? std::string("\"vector_store\" must be a non-empty string")
                                           : StrCat("no collection '", *collection, "' on this index node")));
      }
      *out = EmbeddedChunk{};
      out->passing = true;
      out->from = from;
      return Pulled::kItem;
    }
    Result<EmbeddedChunk> chunk = EmbeddedChunkFromJson(value, dim_);
    if (!chunk.ok()) {
      if (on_bad_) on_bad_(m, chunk.status());
      if (std::chrono::steady_clock::now() >= deadline) return Pulled::kIdle;
      continue;
    }
    *out = std::move(*chunk);
    out->from = from;
    return Pulled::kItem;
  }
}

}  // namespace ragline::pipeline
