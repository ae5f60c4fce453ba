#include "pipeline/workers.h"

#include <map>
#include <utility>

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace ragline::pipeline {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
constexpr std::chrono::milliseconds kTxnTimeout = 30s;
constexpr std::chrono::milliseconds kIdlePoll = 200ms;

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// What goes to the dead-letter topic: where the message was, why, and the value.
std::string DeadLetter(const KafkaMessage& m, std::string_view reason) {
  const json j = {{"topic", m.topic}, {"partition", m.partition}, {"offset", m.offset},  {"key", m.key},
                  {"reason", reason}, {"value", m.value},         {"timestamp", NowMs()}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);  // a value may not be UTF-8
}

// Parses a message's JSON value with `from_json`.
template <typename T, typename FromJson>
Result<T> ParseValue(const KafkaMessage& m, FromJson from_json) {
  json j = json::parse(m.value, nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("the value is not JSON");
  return from_json(j);
}

std::string Reason(const Status& st) { return std::string(st.message()); }

// Passes everything to `inner`.
class ForwardingEvents : public StageEvents {
 public:
  explicit ForwardingEvents(StageEvents& inner) : inner_(inner) {}
  void Unchanged(const std::string& id) override { inner_.Unchanged(id); }
  void Failed(const std::string& id, const std::string& e, bool l) override { inner_.Failed(id, e, l); }
  void Committed(const std::string& id, CommitOutcome o, size_t n) override { inner_.Committed(id, o, n); }
  void ChunksDeleted(size_t n) override { inner_.ChunksDeleted(n); }
  void StageTime(std::string_view stage, double s) override { inner_.StageTime(stage, s); }
  bool ShouldStop() override { return inner_.ShouldStop(); }

 private:
  StageEvents& inner_;
};

// Remembers the last failure reason.
class FailureCatcher final : public ForwardingEvents {
 public:
  using ForwardingEvents::ForwardingEvents;
  void Failed(const std::string& id, const std::string& error, bool over_limit) override {
    failure = error;
    ForwardingEvents::Failed(id, error, over_limit);
  }
  std::string failure;
};

// Also stops when `stop` is requested.
class StopEvents final : public ForwardingEvents {
 public:
  StopEvents(StageEvents& inner, std::stop_token stop) : ForwardingEvents(inner), stop_(std::move(stop)) {}
  bool ShouldStop() override { return stop_.stop_requested() || ForwardingEvents::ShouldStop(); }

 private:
  std::stop_token stop_;
};

// Reports a consumer's lag to options.on_lag at most once a second.
class LagReporter {
 public:
  explicit LagReporter(const WorkerOptions& o) : on_lag_(o.on_lag) {}
  void MaybeReport(const KafkaConsumer& consumer) {
    if (!on_lag_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    on_lag_(consumer.Lag());
  }

 private:
  const std::function<void(const std::vector<PartitionLag>&)>& on_lag_;
  std::chrono::steady_clock::time_point last_{};
};

// Produces the transform of one batch of input messages.
using Transform = std::function<Status(const std::vector<KafkaMessage>& batch, KafkaProducer& producer)>;

// Consume-transform-produce, one transaction per batch: the outputs and the
// batch's offsets commit together. A failed transaction is aborted and the
// consumer reconnects, so the batch is read again from the group's
// committed offsets; a fenced producer (another process took this
// transactional id) ends the loop.
Status RunTransactions(const WorkerOptions& o, const std::string& input, const Transform& transform,
                       const std::stop_token& stop) {
  std::unique_ptr<KafkaConsumer> consumer;
  auto connect = [&]() -> Status {
    consumer.reset();  // leaves the group
    ASSIGN_OR_RETURN(consumer, KafkaConsumer::Create(o.bootstrap, o.group, {{"session.timeout.ms", "6000"}}));
    return consumer->Subscribe({input});
  };
  RETURN_IF_ERROR(connect());
  ASSIGN_OR_RETURN(auto producer, KafkaProducer::Create(
                                      o.bootstrap, {{"transactional.id", StrCat(o.group, "-", o.instance)}}));
  LagReporter lag(o);
  while (!stop.stop_requested()) {
    lag.MaybeReport(*consumer);
    std::vector<KafkaMessage> batch;
    auto first = std::chrono::steady_clock::now();
    while (batch.size() < o.batch && !stop.stop_requested()) {
      std::chrono::milliseconds wait = kIdlePoll;
      if (!batch.empty()) {
        wait = o.linger - std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - first);
        if (wait <= 0ms) break;
      }
      auto m = consumer->Poll(wait);
      if (!m.ok()) continue;  // a broker away: librdkafka reconnects; keep polling
      if (!m->has_value()) {
        if (batch.empty()) continue;
        break;
      }
      if (batch.empty()) first = std::chrono::steady_clock::now();
      batch.push_back(std::move(**m));
    }
    if (batch.empty()) continue;
    std::map<std::pair<std::string, int32_t>, int64_t> next;
    for (const auto& m : batch) {
      int64_t& n = next[{m.topic, m.partition}];
      n = std::max(n, m.offset + 1);
    }
    std::vector<PartitionStart> offsets;
    for (const auto& [tp, offset] : next) offsets.push_back({tp.first, tp.second, offset});
    Status st = producer->BeginTransaction();
    if (st.ok()) st = transform(batch, *producer);
    // Stopped part-way: the batch is not done; leave it to whoever reads it next.
    if (st.ok() && stop.stop_requested()) st = absl::AbortedError("stopping");
    // A rebalance took one of the batch's partitions: its new owner reads
    // from the committed offset, so this batch must not commit (it would
    // move that partition's offset under the new owner's feet).
    for (const auto& p : offsets) {
      if (st.ok() && !consumer->Owns(p.topic, p.partition)) st = absl::AbortedError("partition reassigned");
    }
    if (st.ok()) st = producer->CommitTransaction(*consumer, offsets, kTxnTimeout);
    if (!st.ok()) {
      (void)producer->AbortTransaction(kTxnTimeout);
      if (absl::IsFailedPrecondition(st)) return st;
      if (stop.stop_requested()) break;
      RETURN_IF_ERROR(connect());
    }
  }
  return absl::OkStatus();
}

}  // namespace

Topics Topics::WithPrefix(std::string_view prefix) {
  Topics t;
  for (std::string* name : {&t.raw, &t.chunks, &t.upserts, &t.deadletter}) *name = StrCat(prefix, *name);
  return t;
}

int32_t DocumentPartition(std::string_view doc_id, int partitions) {
  return partitions <= 0 ? 0 : static_cast<int32_t>(Fnv1a64(doc_id) % static_cast<uint64_t>(partitions));
}

Status CreateTopics(const WorkerOptions& o) {
  for (const std::string* topic :
       {&o.topics.raw, &o.topics.chunks, &o.topics.upserts, &o.topics.deadletter}) {
    RETURN_IF_ERROR(CreateKafkaTopic(o.bootstrap, *topic, o.partitions, o.replication));
  }
  return absl::OkStatus();
}

Result<std::unique_ptr<DocumentPublisher>> DocumentPublisher::Create(const WorkerOptions& o) {
  RETURN_IF_ERROR(CreateTopics(o));
  ASSIGN_OR_RETURN(int partitions, KafkaPartitionCount(o.bootstrap, o.topics.raw));
  ASSIGN_OR_RETURN(auto producer, KafkaProducer::Create(o.bootstrap));
  return std::unique_ptr<DocumentPublisher>(
      new DocumentPublisher(o.topics.raw, partitions, std::move(producer)));
}

DocumentPublisher::DocumentPublisher(std::string topic, int partitions,
                                     std::unique_ptr<KafkaProducer> producer)
    : topic_(std::move(topic)), partitions_(partitions), producer_(std::move(producer)) {}

DocumentPublisher::~DocumentPublisher() = default;

Status DocumentPublisher::Publish(const std::vector<RawDocument>& docs) {
  for (const RawDocument& d : docs) {
    RETURN_IF_ERROR(
        producer_->Produce(topic_, DocumentPartition(d.doc.id, partitions_), d.doc.id,
                           RawDocumentToJson(d).dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  return producer_->Flush(kTxnTimeout);
}

Status PublishDocuments(const WorkerOptions& o, const std::vector<RawDocument>& docs) {
  ASSIGN_OR_RETURN(auto publisher, DocumentPublisher::Create(o));
  return publisher->Publish(docs);
}

Status RunChunkWorker(const WorkerOptions& o, const ChunkStage& stage, StageEvents& events,
                      std::stop_token stop) {
  RETURN_IF_ERROR(CreateTopics(o));
  ASSIGN_OR_RETURN(int partitions, KafkaPartitionCount(o.bootstrap, o.topics.chunks));
  auto transform = [&](const std::vector<KafkaMessage>& batch, KafkaProducer& producer) -> Status {
    for (const KafkaMessage& m : batch) {
      Result<RawDocument> raw = ParseValue<RawDocument>(m, RawDocumentFromJson);
      if (!raw.ok()) {
        RETURN_IF_ERROR(
            producer.Produce(o.topics.deadletter, -1, m.key, DeadLetter(m, Reason(raw.status()))));
        continue;
      }
      FailureCatcher caught(events);
      VectorSink<ChunkMessage> out;
      stage.Process(std::move(*raw), out, caught);
      if (!caught.failure.empty()) {
        RETURN_IF_ERROR(producer.Produce(o.topics.deadletter, -1, m.key, DeadLetter(m, caught.failure)));
      }
      for (const ChunkMessage& c : out.Take()) {
        RETURN_IF_ERROR(producer.Produce(o.topics.chunks, DocumentPartition(c.chunk.doc_id, partitions),
                                         ChunkId(c.chunk.doc_id, c.chunk.ordinal),
                                         ChunkMessageToJson(c).dump()));
      }
    }
    return absl::OkStatus();
  };
  return RunTransactions(o, o.topics.raw, transform, stop);
}

Status RunEmbedWorker(const WorkerOptions& o, const EmbedStage& stage, const std::string& vector_store,
                      StageEvents& events, std::stop_token stop) {
  RETURN_IF_ERROR(CreateTopics(o));
  ASSIGN_OR_RETURN(int partitions, KafkaPartitionCount(o.bootstrap, o.topics.upserts));
  StopEvents stoppable(events, stop);
  auto transform = [&](const std::vector<KafkaMessage>& batch, KafkaProducer& producer) -> Status {
    std::vector<ChunkMessage> chunks;
    for (const KafkaMessage& m : batch) {
      Result<ChunkMessage> c = ParseValue<ChunkMessage>(m, ChunkMessageFromJson);
      if (!c.ok()) {
        RETURN_IF_ERROR(producer.Produce(o.topics.deadletter, -1, m.key, DeadLetter(m, Reason(c.status()))));
        continue;
      }
      chunks.push_back(std::move(*c));
    }
    VectorSource<ChunkMessage> in(std::move(chunks));
    VectorSink<EmbeddedChunk> out;
    stage.Run(in, out, stoppable);
    const uint64_t now = NowMs();
    for (const EmbeddedChunk& e : out.Take()) {
      const ChunkPayload& c = e.message.chunk;
      RETURN_IF_ERROR(producer.Produce(o.topics.upserts, DocumentPartition(c.doc_id, partitions),
                                       ChunkId(c.doc_id, c.ordinal),
                                       EmbeddedChunkToJson(e, vector_store, now).dump()));
    }
    return absl::OkStatus();
  };
  return RunTransactions(o, o.topics.chunks, transform, stop);
}

Status RunIndexNode(const WorkerOptions& o, store::Collection& collection,
                    const std::vector<int32_t>& partitions, StageEvents& events, std::stop_token stop) {
  RETURN_IF_ERROR(CreateTopics(o));
  ASSIGN_OR_RETURN(auto deadletters, KafkaProducer::Create(o.bootstrap));
  Status bad_status;
  auto on_bad = [&](const KafkaMessage& m, const Status& why) {
    Status st = deadletters->Produce(o.topics.deadletter, -1, m.key, DeadLetter(m, Reason(why)));
    if (!st.ok() && bad_status.ok()) bad_status = st;
  };
  ASSIGN_OR_RETURN(auto source,
                   KafkaUpsertSource::Open(o.bootstrap, o.group, o.topics.upserts, collection.config().dim,
                                           collection.source_positions(), partitions, on_bad));
  // Stops on `stop`; reports the lag whenever the stage asks whether to stop.
  class IndexEvents final : public ForwardingEvents {
   public:
    IndexEvents(StageEvents& inner, std::stop_token stop, const WorkerOptions& o,
                const KafkaConsumer& consumer)
        : ForwardingEvents(inner), stop_(std::move(stop)), lag_(o), consumer_(consumer) {}
    bool ShouldStop() override {
      lag_.MaybeReport(consumer_);
      return stop_.stop_requested() || ForwardingEvents::ShouldStop();
    }

   private:
    std::stop_token stop_;
    LagReporter lag_;
    const KafkaConsumer& consumer_;
  } stoppable(events, stop, o, source->consumer());
  Status st = IndexStage(collection).Run(*source, stoppable);
  Status flushed = deadletters->Flush(kTxnTimeout);
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(bad_status);
  return flushed;
}

}  // namespace ragline::pipeline
