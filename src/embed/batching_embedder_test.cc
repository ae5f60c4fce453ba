#include "embed/batching_embedder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_pool.h"

namespace ragline::embed {
namespace {

namespace fs = std::filesystem;
const fs::path kModelDir = fs::path(RAGLINE_SOURCE_DIR) / "models" / "all-MiniLM-L6-v2";

const std::vector<std::string> kQuestions = {
    "how do I restart the embedding workers",
    "what is a write-ahead log",
    "rollback the index alias",
    "kafka consumer lag alert",
    "which precision does the encoder use on this CPU and why does auto pick int8 there",
    "",
    "HNSW",
    "ünïcödé questions work too",
};

// A sample of `name` from the registry's text exposition (-1 when absent).
double Sample(const obs::MetricsRegistry& metrics, const std::string& name) {
  std::smatch m;
  const std::string text = metrics.ExposeText();
  if (!std::regex_search(text, m, std::regex("\n" + name + " ([0-9.e+]+)\n"))) return -1;
  return std::stod(m[1]);
}

// Each precision the encoder can run: a question's row must not depend on its
// batch-mates in either.
class BatchingEmbedderTest : public ::testing::TestWithParam<Precision> {
 protected:
  static void SetUpTestSuite() { pool_ = new ThreadPool(2); }
  static void TearDownTestSuite() {
    delete local_;
    delete pool_;
  }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kModelDir / "model.safetensors"))
        << kModelDir << " is missing: run scripts/fetch_model.sh";
    if (local_ != nullptr && local_->encoder().precision() == GetParam()) return;
    delete local_;
    local_ = nullptr;
    auto opened = LocalEmbedder::Open(kModelDir, {.precision = GetParam()}, pool_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    local_ = opened->release();
  }

  // What the embedder gives for each question alone.
  static std::vector<std::vector<float>> Alone() {
    std::vector<std::vector<float>> rows;
    for (const std::string& q : kQuestions) {
      auto m = local_->Embed(std::span<const std::string>(&q, 1));
      EXPECT_TRUE(m.ok()) << m.status();
      rows.emplace_back(m->row(0).begin(), m->row(0).end());
    }
    return rows;
  }

  static inline ThreadPool* pool_ = nullptr;
  static inline LocalEmbedder* local_ = nullptr;
};

TEST_P(BatchingEmbedderTest, ConcurrentQuestionsShareAPassAndGetExactlyTheirOwnRows) {
  const auto expected = Alone();
  obs::MetricsRegistry metrics;
  // A long window, so the questions of threads started together meet in one pass
  // even on a loaded machine.
  BatchingEmbedder batcher(*local_, {.window = std::chrono::milliseconds(300)}, &metrics);
  EXPECT_EQ(batcher.dim(), local_->dim());
  EXPECT_EQ(batcher.model_id(), local_->model_id());

  std::vector<std::vector<float>> got(kQuestions.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kQuestions.size(); ++i) {
    threads.emplace_back([&, i] {
      auto m = batcher.Embed(std::span<const std::string>(&kQuestions[i], 1));
      ASSERT_TRUE(m.ok()) << m.status();
      ASSERT_EQ(m->rows(), 1u);
      got[i].assign(m->row(0).begin(), m->row(0).end());
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < kQuestions.size(); ++i) {
    EXPECT_EQ(got[i], expected[i]) << "question " << i << " got another row, or its batch changed it";
  }
  const double passes = Sample(metrics, "rag_embed_batch_texts_count");
  EXPECT_EQ(Sample(metrics, "rag_embed_batch_texts_sum"), static_cast<double>(kQuestions.size()));
  EXPECT_GE(passes, 1);
  EXPECT_LT(passes, static_cast<double>(kQuestions.size())) << "no two questions shared a pass";
  EXPECT_EQ(Sample(metrics, "rag_embed_batch_wait_seconds_count"), static_cast<double>(kQuestions.size()));
}

TEST_P(BatchingEmbedderTest, ManyTextsInOneCallKeepTheirOrderAlongsideOtherCallers) {
  const auto expected = Alone();
  BatchingEmbedder batcher(*local_, {.workers = 2});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 3; ++round) {
        auto m = batcher.Embed(kQuestions);
        ASSERT_TRUE(m.ok()) << m.status();
        ASSERT_EQ(m->rows(), kQuestions.size());
        for (size_t i = 0; i < kQuestions.size(); ++i) {
          EXPECT_EQ(std::vector<float>(m->row(i).begin(), m->row(i).end()), expected[i]) << "row " << i;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
}

TEST_P(BatchingEmbedderTest, ACallOverTheTokenBudgetRunsOnItsOwnAndEmptyCallsGiveNoRows) {
  const auto expected = Alone();
  obs::MetricsRegistry metrics;
  BatchingEmbedder batcher(*local_, {.max_batch_tokens = 8}, &metrics);
  auto m = batcher.Embed(kQuestions);  // far more than 8 tokens: not queued
  ASSERT_TRUE(m.ok()) << m.status();
  for (size_t i = 0; i < kQuestions.size(); ++i) {
    EXPECT_EQ(std::vector<float>(m->row(i).begin(), m->row(i).end()), expected[i]) << "row " << i;
  }
  EXPECT_EQ(Sample(metrics, "rag_embed_batch_texts_count"), 0);

  auto one = batcher.Embed(std::span<const std::string>(&kQuestions[6], 1));  // "HNSW": 3 tokens, queued
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(std::vector<float>(one->row(0).begin(), one->row(0).end()), expected[6]);
  EXPECT_EQ(Sample(metrics, "rag_embed_batch_texts_count"), 1);

  auto none = batcher.Embed({});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->rows(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Precisions, BatchingEmbedderTest,
                         ::testing::Values(Precision::kFp32, Precision::kInt8),
                         [](const auto& info) { return std::string(PrecisionName(info.param)); });

}  // namespace
}  // namespace ragline::embed
