// Reading BEIR datasets: both id spellings, qrels locations and headers,
// dropped judgments, and errors that name the file and line.
#include "search/beir_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ragline::search {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class BeirDatasetTest : public ::testing::Test {
 protected:
  BeirDatasetTest() {
    char tmpl[] = "/tmp/ragline_beir_test_XXXXXX";
    root_ = ::mkdtemp(tmpl);
    dir_ = root_ / "tiny";
    fs::create_directories(dir_ / "qrels");
    Write("corpus.jsonl",
          "{\"_id\": \"d1\", \"title\": \"Foxes\", \"text\": \"The fox runs.\"}\n"
          "{\"id\": 7, \"text\": \"No title here.\"}\n"
          "\n"
          "{\"_id\": \"d3\", \"title\": null, \"text\": \"Third.\"}\r\n");
    Write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"fox\"}\n{\"_id\": 2, \"text\": \"title\"}\n");
    Write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\t7\t0\n2\t7\t1\n");
  }
  ~BeirDatasetTest() override { fs::remove_all(root_); }

  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
  }
  std::string Error() {
    auto ds = LoadBeirDataset(dir_);
    EXPECT_FALSE(ds.ok());
    return std::string(ds.status().message());
  }

  fs::path root_, dir_;
};

TEST_F(BeirDatasetTest, ReadsCorpusQueriesAndQrels) {
  auto ds = LoadBeirDataset(dir_);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->name, "tiny");
  ASSERT_EQ(ds->corpus.size(), 3u);
  EXPECT_EQ(ds->corpus[0].id, "d1");
  EXPECT_EQ(ds->corpus[0].title, "Foxes");
  EXPECT_EQ(ds->corpus[1].id, "7");
  EXPECT_EQ(ds->corpus[1].title, "");
  EXPECT_EQ(ds->corpus[2].text, "Third.");
  ASSERT_EQ(ds->queries.size(), 2u);
  EXPECT_EQ(ds->queries[1].id, "2");
  ASSERT_EQ(ds->qrels.size(), 2u);
  EXPECT_EQ(ds->qrels["q1"].at("d1"), 2);
  EXPECT_EQ(ds->qrels["q1"].at("7"), 0);
  EXPECT_EQ(ds->qrels["2"].at("7"), 1);
  EXPECT_EQ(ds->qrels_path, dir_ / "qrels" / "test.tsv");
  EXPECT_NE(ds->corpus_fingerprint, 0u);
}

TEST_F(BeirDatasetTest, FingerprintFollowsTheCorpusBytes) {
  const uint64_t before = LoadBeirDataset(dir_)->corpus_fingerprint;
  EXPECT_EQ(LoadBeirDataset(dir_)->corpus_fingerprint, before);
  Write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"changed\"}\n{\"id\": 7, \"text\": \"x\"}\n");
  EXPECT_NE(LoadBeirDataset(dir_)->corpus_fingerprint, before);
}

TEST_F(BeirDatasetTest, FallsBackToQrelsTsvWithoutHeader) {
  fs::remove_all(dir_ / "qrels");
  Write("qrels.tsv", "q1 d1 1\n");
  auto ds = LoadBeirDataset(dir_);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->qrels["q1"].at("d1"), 1);
  EXPECT_EQ(ds->qrels_path, dir_ / "qrels.tsv");
}

TEST_F(BeirDatasetTest, DropsAndCountsJudgmentsOfUnknownIds) {
  Write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\tghost\t1\nq9\td1\t1\n");
  auto ds = LoadBeirDataset(dir_);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->warnings.qrels_unknown_documents, 1u);
  EXPECT_EQ(ds->warnings.qrels_unknown_queries, 1u);
  ASSERT_EQ(ds->warnings.examples.size(), 2u);
  EXPECT_THAT(ds->warnings.examples[0], HasSubstr("test.tsv line 3: document 'ghost' is not in corpus.jsonl"));
  EXPECT_EQ(ds->qrels["q1"].size(), 1u);
}

TEST_F(BeirDatasetTest, ErrorsNameFileAndLine) {
  Write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"ok\"}\n{\"_id\": \"d2\", \"text\": \n");
  EXPECT_THAT(Error(), HasSubstr("corpus.jsonl line 2: malformed JSON"));
  Write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"ok\"}\n{\"_id\": \"d2\"}\n");
  EXPECT_THAT(Error(), HasSubstr("corpus.jsonl line 2: missing \"text\""));
  Write("corpus.jsonl", "{\"text\": \"ok\"}\n");
  EXPECT_THAT(Error(), HasSubstr("corpus.jsonl line 1: missing \"_id\""));
  Write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d1\", \"text\": \"b\"}\n");
  EXPECT_THAT(Error(), HasSubstr("corpus.jsonl line 2: document id 'd1' appears twice"));
  Write("corpus.jsonl", "[1, 2]\n");
  EXPECT_THAT(Error(), HasSubstr("corpus.jsonl line 1: expected a JSON object"));
  Write("corpus.jsonl", "\n");
  EXPECT_THAT(Error(), HasSubstr("corpus.jsonl: no documents"));
  Write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"ok\"}\n");
  Write("queries.jsonl", "{\"_id\": \"q1\", \"text\": 5}\n");
  EXPECT_THAT(Error(), HasSubstr("queries.jsonl line 1: \"text\" must be a string"));
  Write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"fox\"}\n");
  Write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\tvery\n");
  EXPECT_THAT(Error(), HasSubstr("test.tsv line 2: expected 'query-id<TAB>corpus-id<TAB>integer score'"));
  Write("qrels/test.tsv", "q1\td1\n");
  EXPECT_THAT(Error(), HasSubstr("test.tsv line 1: expected"));
}

TEST_F(BeirDatasetTest, MissingFilesAreNamed) {
  fs::remove(dir_ / "queries.jsonl");
  EXPECT_THAT(Error(), HasSubstr("queries.jsonl"));
  fs::remove_all(dir_ / "qrels");
  Write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"fox\"}\n");
  EXPECT_THAT(Error(), HasSubstr("expected qrels/test.tsv or qrels.tsv"));
  EXPECT_FALSE(LoadBeirDataset(root_ / "nope").ok());
}

}  // namespace
}  // namespace ragline::search
