#include "pipeline/workers.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <thread>
#include <utility>

#include "core/strings.h"
#include "nlohmann/json.hpp"
#include "resilience/retry.h"

namespace ragline::pipeline {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
constexpr std::chrono::milliseconds kTxnTimeout = 30s;
constexpr std::chrono::milliseconds kIdlePoll = 200ms;
// Between tries of a batch whose transform failed transiently: 0.5 s, 1 s,
// ... up to 30 s, jittered.
const resilience::RetryPolicy kTransientRetry{.initial_backoff = 500ms, .max_backoff = 30s};

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
  explicit LagReporter(const WorkerOptions& o) : on_lag_(o.on_lag), group_(o.group) {}
  void MaybeReport(const KafkaConsumer& consumer) {
    if (!on_lag_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    on_lag_(group_, consumer.Lag());
  }

 private:
  const std::function<void(const std::string&, const std::vector<PartitionLag>&)>& on_lag_;
  const std::string& group_;
  std::chrono::steady_clock::time_point last_{};
};

// Produces the transform of one batch of input messages.
using Transform = std::function<Status(const std::vector<KafkaMessage>& batch, KafkaProducer& producer)>;

// Consume-transform-produce, one transaction per batch: the outputs and the
// batch's offsets commit together. A failed transaction is aborted and the
// consumer reconnects, so the batch is read again from the group's
// committed offsets; a fenced producer (another process took this
// transactional id) ends the loop. A transform that failed for a transient
// reason (the embedder unavailable) is retried after a back-off that grows
// while it keeps failing (kTransientRetry), so a worker whose dependency is
// down neither loses its input nor spins on it.
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
  int transient_failures = 0;  // in a row
  while (!stop.stop_requested()) {
    std::vector<KafkaMessage> batch;
    auto first = std::chrono::steady_clock::now();
    while (batch.size() < o.batch && !stop.stop_requested()) {
      lag.MaybeReport(*consumer);  // here too: an idle worker's lag must fall to 0, not stay where it was
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
    const bool transient = !st.ok() && resilience::IsTransient(st);
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
      if (transient) {
        const auto pause = kTransientRetry.Backoff(++transient_failures);
        if (o.on_retry) o.on_retry(st, pause);
        std::mutex mu;
        std::condition_variable_any cv;
        std::unique_lock<std::mutex> l(mu);
        cv.wait_for(l, stop, pause, [] { return false; });  // wakes early on stop
        if (stop.stop_requested()) break;
      }
      RETURN_IF_ERROR(connect());
    } else {
      transient_failures = 0;
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

Status RunEmbedWorker(const WorkerOptions& o, const EmbedStage& stage, StageEvents& events,
                      std::stop_token stop) {
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
    RETURN_IF_ERROR(stage.Run(in, out, stoppable));  // the embedder unavailable: the batch rolls back
    const uint64_t now = NowMs();
    for (const EmbeddedChunk& e : out.Take()) {
      const ChunkPayload& c = e.message.chunk;
      RETURN_IF_ERROR(producer.Produce(o.topics.upserts, DocumentPartition(c.doc_id, partitions),
                                       ChunkId(c.doc_id, c.ordinal), EmbeddedChunkToJson(e, now).dump()));
    }
    return absl::OkStatus();
  };
  return RunTransactions(o, o.topics.chunks, transform, stop);
}

struct IndexNode::Reader {
  std::stop_source stop;
  std::atomic<bool> done{false};
  Status status;  // set before done
  std::thread thread;
};

IndexNode::IndexNode(WorkerOptions options, store::Database& db, std::vector<int32_t> partitions,
                     StageEvents& events)
    : options_(std::move(options)), db_(db), partitions_(std::move(partitions)), events_(events) {}

IndexNode::~IndexNode() { StopReaders(); }

std::map<std::string, std::unique_ptr<IndexNode::Reader>> IndexNode::StopReaders() {
  std::map<std::string, std::unique_ptr<Reader>> readers;
  {
    std::lock_guard<std::mutex> l(mu_);
    readers.swap(readers_);
  }
  for (auto& [name, r] : readers) r->stop.request_stop();
  for (auto& [name, r] : readers) r->thread.join();
  return readers;
}

namespace {

// A reader's error, naming its collection.
Status ReaderError(const std::string& name, const Status& st) {
  return Status(st.code(), StrCat("collection '", name, "': ", std::string(st.message())));
}

}  // namespace

void IndexNode::RefreshNames() {
  std::map<std::string, std::string> names;
  if (auto collections = db_.ListCollections(); collections.ok()) {
    for (const auto& c : *collections) names[c] = c;
  }
  if (auto aliases = db_.ListAliases(); aliases.ok()) {
    for (const auto& [alias, target] : *aliases) names[alias] = target;
  }
  std::unique_lock l(names_mu_);
  names_ = std::move(names);
}

Routed IndexNode::Route(const std::string& mine, const std::string& vector_store) const {
  std::shared_lock l(names_mu_);
  auto it = names_.find(vector_store);
  if (it != names_.end()) return it->second == mine ? Routed::kMine : Routed::kOther;
  // A stray: the reader of the first collection reports it (names_ holds
  // aliases too; the first name that is a collection's own).
  for (const auto& [name, target] : names_) {
    if (name == target) return name == mine ? Routed::kStray : Routed::kOther;
  }
  return Routed::kOther;
}

Status IndexNode::RunReader(const std::string& name, std::stop_token stop) {
  ASSIGN_OR_RETURN(store::Collection * collection, db_.GetCollection(name));
  const std::string group = StrCat(options_.group, ".", name);
  ASSIGN_OR_RETURN(auto deadletters, KafkaProducer::Create(options_.bootstrap));
  Status bad_status;
  auto on_bad = [&](const KafkaMessage& m, const Status& why) {
    Status st = deadletters->Produce(options_.topics.deadletter, -1, m.key, DeadLetter(m, Reason(why)));
    if (!st.ok() && bad_status.ok()) bad_status = st;
  };
  auto route = [this, name](const std::string& vector_store) { return Route(name, vector_store); };
  ASSIGN_OR_RETURN(
      auto source,
      KafkaUpsertSource::Open(options_.bootstrap, group, options_.topics.upserts, collection->config().dim,
                              collection->source_positions(), partitions_, route, on_bad));
  // Stops on `stop`; reports the lag whenever the stage asks whether to stop.
  class ReaderEvents final : public ForwardingEvents {
   public:
    ReaderEvents(StageEvents& inner, std::stop_token stop, const WorkerOptions& o, std::string group,
                 const KafkaConsumer& consumer)
        : ForwardingEvents(inner),
          stop_(std::move(stop)),
          o_(o),
          group_(std::move(group)),
          consumer_(consumer) {}
    bool ShouldStop() override {
      if (o_.on_lag) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_ >= std::chrono::seconds(1)) {
          last_ = now;
          o_.on_lag(group_, consumer_.Lag());
        }
      }
      return stop_.stop_requested() || ForwardingEvents::ShouldStop();
    }

   private:
    std::stop_token stop_;
    const WorkerOptions& o_;
    std::string group_;
    const KafkaConsumer& consumer_;
    std::chrono::steady_clock::time_point last_{};
  } events(events_, stop, options_, group, source->consumer());
  Status st = IndexStage(*collection).Run(*source, events);
  Status flushed = deadletters->Flush(kTxnTimeout);
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(bad_status);
  return flushed;
}

Status IndexNode::Run(std::stop_token stop) {
  RETURN_IF_ERROR(CreateTopics(options_));
  Status failed;
  while (!stop.stop_requested() && failed.ok()) {
    RefreshNames();
    auto names = db_.ListCollections();
    {
      std::unique_lock l(mu_);
      for (auto it = readers_.begin(); it != readers_.end();) {  // a reader ended: its error ends the node
        if (!it->second->done) {
          ++it;
          continue;
        }
        it->second->thread.join();
        if (!it->second->status.ok() && failed.ok()) failed = ReaderError(it->first, it->second->status);
        it = readers_.erase(it);
      }
      if (names.ok() && failed.ok()) {
        for (const std::string& name : *names) {
          if (readers_.count(name) || held_.count(name)) continue;
          auto r = std::make_unique<Reader>();
          Reader* raw = r.get();
          raw->thread = std::thread([this, raw, name] {
            raw->status = RunReader(name, raw->stop.get_token());
            raw->done = true;
          });
          readers_.emplace(name, std::move(r));
        }
      }
      wake_.wait_for(l, stop, std::chrono::milliseconds(250), [this] { return changed_; });
      changed_ = false;
    }
  }
  for (auto& [name, r] : StopReaders()) {
    if (!r->status.ok() && failed.ok()) failed = ReaderError(name, r->status);
  }
  return failed;
}

void IndexNode::Hold(const std::string& name) {
  std::unique_ptr<Reader> r;
  {
    std::lock_guard<std::mutex> l(mu_);
    held_.insert(name);
    auto node = readers_.extract(name);
    if (!node) return;
    r = std::move(node.mapped());
  }
  r->stop.request_stop();
  r->thread.join();
  if (!r->status.ok()) {  // ended with an error before it was held: Run reports it once running again
    std::fprintf(stderr, "ragline worker index: collection '%s': %s\n", name.c_str(),
                 std::string(r->status.message()).c_str());
  }
}

Status IndexNode::Adopt(store::Collection& collection) {
  ASSIGN_OR_RETURN(store::SourcePositions ends,
                   KafkaEndPositions(options_.bootstrap, options_.topics.upserts, partitions_));
  return collection.Write({}, {}, &ends).status();
}

void IndexNode::Release(const std::string& name) {
  RefreshNames();
  std::lock_guard<std::mutex> l(mu_);
  held_.erase(name);
  changed_ = true;
  wake_.notify_all();
}

std::vector<std::string> IndexNode::Reading() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [name, r] : readers_) out.push_back(name);
  return out;
}

}  // namespace ragline::pipeline
