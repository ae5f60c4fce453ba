// Lexical (BM25) search through a Collection: growing + sealed segments,
// versions and deletes, filters, restart, old formats, compaction, concurrency.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "store/collection_fixture_for_test.h"
#include "core/crc32c.h"
#include "core/strings.h"
#include "store/collection.h"

namespace ragline::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kWords = {
    "search", "engine", "index",   "vector", "lexical", "ranking", "query",  "document", "token",
    "stem",   "running", "runner", "fast",   "slow",    "memory",  "disk",   "segment",  "compaction",
    "filter", "payload", "score",  "term",   "bm25",    "dense",   "hybrid", "fusion",   "graph",
    "node",   "edge",    "cache",  "thread", "lock",    "write",   "read",   "the",      "of"};

std::string RandomText(std::mt19937& rng) {
  // Skewed word choice so document frequencies differ.
  std::string text;
  const int n = 3 + static_cast<int>(rng() % 12);
  for (int i = 0; i < n; ++i) {
    const size_t a = rng() % kWords.size(), b = rng() % kWords.size();
    text += (i ? " " : "") + kWords[std::min(a, b)];
  }
  return text;
}

Record Doc(const std::string& id, uint64_t version, const std::string& text, json extra = json::object()) {
  extra["text"] = text;
  return Record{id, version, {1.0f, 0.5f}, extra.dump()};
}

CollectionConfig Config(uint32_t seal_threshold) {
  CollectionConfig c;
  c.name = "lex";
  c.dim = 2;
  c.metric = DistanceMetric::kCosine;
  c.index_kind = index::IndexKind::kFlat;
  c.seal_threshold = seal_threshold;
  return c;
}

// Plain double-precision BM25 (Lucene's formula) over the analysed text of
// `docs`, written independently of index/lexical_index.
std::vector<std::pair<std::string, double>> BruteForceBm25(const text::Analyzer& analyzer,
                                                           const std::map<std::string, std::string>& docs,
                                                           const std::string& query, size_t k, double k1 = 1.2,
                                                           double b = 0.75) {
  std::map<std::string, std::map<std::string, int>> tf;
  std::map<std::string, int> len;
  double total = 0, n = 0;
  for (const auto& [id, text] : docs) {
    auto terms = analyzer.Analyze(text);
    if (terms.empty()) continue;
    for (const auto& t : terms) ++tf[id][t];
    len[id] = static_cast<int>(terms.size());
    total += terms.size();
    ++n;
  }
  std::map<std::string, int> qtf;
  for (const auto& t : analyzer.Analyze(query)) ++qtf[t];
  std::map<std::string, double> df;
  for (const auto& [t, q] : qtf) {
    for (const auto& [other, other_terms] : tf) df[t] += other_terms.count(t);
  }
  std::vector<std::pair<std::string, double>> scored;
  for (const auto& [id, terms] : tf) {
    double score = 0;
    for (const auto& [t, q] : qtf) {
      auto it = terms.find(t);
      if (it == terms.end()) continue;
      const double idf = std::log(1 + (n - df[t] + 0.5) / (df[t] + 0.5));
      score += q * idf * it->second / (it->second + k1 * (1 - b + b * len[id] / (total / n)));
    }
    if (score > 0) scored.emplace_back(id, score);
  }
  std::sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  if (scored.size() > k) scored.resize(k);
  return scored;
}

void ExpectMatchesBruteForce(const Collection& c, const std::map<std::string, std::string>& docs,
                             const std::string& query, size_t k, const std::string& context,
                             const index::Bm25Params* override_params = nullptr) {
  auto hits = c.LexicalSearch(query, k, nullptr, override_params);
  ASSERT_TRUE(hits.ok()) << hits.status();
  const index::Bm25Params p = override_params != nullptr ? *override_params : c.config().lexical.bm25;
  const auto expected = BruteForceBm25(c.analyzer(), docs, query, k, p.k1, p.b);
  ASSERT_EQ(hits->size(), expected.size()) << context << " query '" << query << "'";
  std::map<std::string, double> expected_score;
  for (const auto& [id, s] : BruteForceBm25(c.analyzer(), docs, query, docs.size(), p.k1, p.b)) expected_score[id] = s;
  for (size_t i = 0; i < hits->size(); ++i) {
    // Same score at each rank (ties may order differently), and each hit's own score is right.
    EXPECT_NEAR((*hits)[i].score, expected[i].second, 1e-4 * expected[i].second) << context << " rank " << i;
    ASSERT_TRUE(expected_score.count((*hits)[i].id)) << (*hits)[i].id;
    EXPECT_NEAR((*hits)[i].score, expected_score[(*hits)[i].id], 1e-4 * expected[i].second) << (*hits)[i].id;
  }
}

class CollectionLexicalTest : public CollectionFixture {
 protected:
  std::unique_ptr<Collection> Reopen(bool read_only = false) { return CollectionFixture::Reopen(nullptr, read_only); }
  // Upserts `n` random documents with ids "d<i>" at version 1, in batches of 50.
  std::map<std::string, std::string> Fill(Collection& c, size_t n, size_t first = 0) {
    std::map<std::string, std::string> docs;
    std::vector<Record> batch;
    for (size_t i = first; i < first + n; ++i) {
      const std::string id = "d" + std::to_string(i), text = RandomText(rng_);
      docs[id] = text;
      batch.push_back(Doc(id, 1, text, {{"tag", static_cast<int>(i % 10)}}));
      if (batch.size() == 50) {
        EXPECT_TRUE(c.Upsert(std::move(batch)).ok());
        batch.clear();
      }
    }
    if (!batch.empty()) {
      EXPECT_TRUE(c.Upsert(std::move(batch)).ok());
    }
    return docs;
  }

  std::mt19937 rng_{11};
  const std::vector<std::string> queries_ = {"search engine", "running runner", "the bm25 score of a term",
                                             "hybrid fusion graph", "compaction", "stem stemming stemmed"};
};

TEST_F(CollectionLexicalTest, ResultsAcrossGrowingAndSealedSegmentsEqualBruteForceBm25) {
  auto c = Create(Config(100));
  auto docs = Fill(*c, 350);  // three sealed segments and a growing one
  ASSERT_TRUE(c->WaitForIndexing().ok());
  size_t sealed = 0;
  for (const auto& s : c->Stats().segments) sealed += s.sealed;
  EXPECT_EQ(sealed, 3u);
  for (const auto& q : queries_) ExpectMatchesBruteForce(*c, docs, q, 10, "mixed segments");
  // Per-query parameters override the collection's, and bad ones are refused.
  const index::Bm25Params anserini{0.9, 0.4};
  for (const auto& q : queries_) ExpectMatchesBruteForce(*c, docs, q, 10, "k1=0.9,b=0.4", &anserini);
  const index::Bm25Params bad{1.2, 2.0};
  EXPECT_EQ(c->LexicalSearch("search", 1, nullptr, &bad).status().code(), absl::StatusCode::kInvalidArgument);
  // Hits carry the payload and version like dense hits.
  auto hits = c->LexicalSearch("search", 1, nullptr);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].version, 1u);
  EXPECT_TRUE((*hits)[0].payload.contains("text"));
}

TEST_F(CollectionLexicalTest, ShardsScoringWithSummedStatisticsRankLikeOneCollection) {
  // Two shards of one corpus (what a router fans out to): each scores with the
  // statistics summed over both, so their merged hits are one collection's.
  auto shard0 = Create(Config(100));
  auto docs = Fill(*shard0, 230);
  TempDir other("ragline_collection_test_shard1");
  auto shard1 = Collection::Create(*Env::Default(), other.path() + "/c", Config(100), pool_);
  ASSERT_TRUE(shard1.ok()) << shard1.status();
  auto more = Fill(**shard1, 170, 230);
  docs.insert(more.begin(), more.end());
  for (const auto& q : queries_) {
    LexicalTermStats global = shard0->LexicalQueryStats(q);
    const LexicalTermStats s1 = (*shard1)->LexicalQueryStats(q);
    global.doc_count += s1.doc_count;
    global.total_doc_length += s1.total_doc_length;
    for (const auto& [term, df] : s1.doc_freq) global.doc_freq[term] += df;
    std::vector<SearchHit> merged;
    for (const Collection* c : {shard0.get(), shard1->get()}) {
      auto hits = c->LexicalSearch(q, 10, nullptr, nullptr, &global);
      ASSERT_TRUE(hits.ok()) << hits.status();
      merged.insert(merged.end(), hits->begin(), hits->end());
    }
    std::stable_sort(merged.begin(), merged.end(),
                     [](const SearchHit& a, const SearchHit& b) { return a.score > b.score; });
    merged.resize(std::min<size_t>(merged.size(), 10));
    const auto expected = BruteForceBm25(shard0->analyzer(), docs, q, 10);
    ASSERT_EQ(merged.size(), expected.size()) << q;
    for (size_t i = 0; i < merged.size(); ++i) {
      EXPECT_NEAR(merged[i].score, expected[i].second, 1e-3 * std::max(1.0, expected[i].second)) << q << " #" << i;
    }
    // Each shard's own statistics give different scores: the point of summing.
    auto local = shard0->LexicalSearch(q, 1, nullptr);
    auto with_global = shard0->LexicalSearch(q, 1, nullptr, nullptr, &global);
    ASSERT_TRUE(local.ok() && with_global.ok());
    if (!local->empty()) {
      EXPECT_NE((*local)[0].score, (*with_global)[0].score) << q;
    }
  }
}

TEST_F(CollectionLexicalTest, GrowingSegmentChunkIndexesGiveTheSameAnswersAsTheScan) {
  // 2600 rows stay in the growing segment: two full 1024-row chunks are read
  // through their inverted indexes, the rest is scanned.
  auto c = Create(Config(4096));
  auto docs = Fill(*c, 2600);
  ASSERT_EQ(c->Stats().segments.size(), 1u);
  for (const auto& q : queries_) ExpectMatchesBruteForce(*c, docs, q, 10, "growing chunks");
  // Replacements, deletes and filters inside indexed chunks.
  std::vector<Record> updates;
  for (int i = 0; i < 2600; i += 5) updates.push_back(Doc("d" + std::to_string(i), 2, "zebra " + docs["d" + std::to_string(i)]));
  ASSERT_TRUE(c->Upsert(std::move(updates)).ok());
  ASSERT_TRUE(c->Delete(std::vector<std::string>{"d10", "d1500"}).ok());
  auto filter = PayloadFilter::Parse({{"tag", 3}});
  ASSERT_TRUE(filter.ok());
  auto hits = c->LexicalSearch("zebra", 10000, nullptr);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 520u - 2);
  for (const auto& h : *hits) EXPECT_EQ(h.version, 2u) << h.id;
  auto filtered = c->LexicalSearch("search engine", 10000, &*filter);
  ASSERT_TRUE(filtered.ok());
  EXPECT_GT(filtered->size(), 0u);
  for (const auto& h : *filtered) EXPECT_EQ(h.payload["tag"], 3) << h.id;
}

TEST_F(CollectionLexicalTest, ReplacedAndDeletedRecordsNeverMatch) {
  auto c = Create(Config(4));
  ASSERT_TRUE(c->Upsert({Doc("a", 1, "zebra crossing"), Doc("b", 1, "zebra stripes"), Doc("c", 1, "plain"),
                         Doc("d", 1, "filler")})
                  .ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());  // a..d are now in a sealed segment
  ASSERT_TRUE(c->Upsert({Doc("a", 2, "giraffe neck"), Doc("e", 1, "zebra herd")}).ok());
  ASSERT_TRUE(c->Delete(std::vector<std::string>{"b"}).ok());
  auto ids = [&](const std::string& q) {
    std::vector<std::string> out;
    auto hits = c->LexicalSearch(q, 10, nullptr);
    EXPECT_TRUE(hits.ok()) << hits.status();
    if (!hits.ok()) return out;
    for (const auto& h : *hits) out.push_back(h.id);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(ids("zebra"), (std::vector<std::string>{"e"}));
  EXPECT_EQ(ids("giraffe"), (std::vector<std::string>{"a"}));
  // Replace inside the growing segment too.
  ASSERT_TRUE(c->Upsert({Doc("e", 2, "lion")}).ok());
  EXPECT_TRUE(ids("zebra").empty());
  EXPECT_EQ(ids("lion"), (std::vector<std::string>{"e"}));
  // Stale versions are discarded and do not resurrect text.
  ASSERT_TRUE(c->Upsert({Doc("a", 1, "zebra again")}).ok());
  EXPECT_TRUE(ids("zebra").empty());
}

TEST_F(CollectionLexicalTest, PayloadFilterAppliesInsideTheSearchAndStillYieldsK) {
  auto c = Create(Config(200));
  std::vector<Record> batch;
  for (int i = 0; i < 600; ++i) {
    // Every document matches "common"; the rare tag is on 1 in 50 of them, and
    // those score lowest (longest documents), so a post-filter on the top k would find none.
    const bool rare = i % 50 == 7;
    batch.push_back(Doc("r" + std::to_string(i), 1, rare ? "common words words words words words" : "common",
                        {{"tag", rare ? "rare" : "usual"}}));
  }
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  auto filter = PayloadFilter::Parse({{"tag", "rare"}});
  ASSERT_TRUE(filter.ok());
  auto hits = c->LexicalSearch("common", 5, &*filter);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 5u);
  for (const auto& h : *hits) EXPECT_EQ(h.payload["tag"], "rare") << h.id;
  EXPECT_EQ(c->LexicalSearch("common", 100, &*filter)->size(), 12u);
}

TEST_F(CollectionLexicalTest, QueriesWithoutTermsAndRecordsWithoutTextMatchNothing) {
  CollectionConfig config = Config(100);
  config.lexical.text_field = "body";
  auto c = Create(config);
  ASSERT_TRUE(c->Upsert({Record{"no_text", 1, {1, 0}, R"({"title":"zebra"})"},
                         Record{"array", 1, {1, 0}, R"({"body":["zebra", 3, "lion"]})"},
                         Record{"number", 1, {1, 0}, R"({"body":42})"}})
                  .ok());
  EXPECT_TRUE(c->LexicalSearch("", 10, nullptr)->empty());
  EXPECT_TRUE(c->LexicalSearch("the of and", 10, nullptr)->empty());
  auto hits = c->LexicalSearch("zebra lion", 10, nullptr);
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].id, "array");
  const auto stats = c->Stats();
  EXPECT_EQ(stats.lexical.documents, 1u);
  EXPECT_EQ(stats.lexical.bm25_documents, 1u);
  EXPECT_EQ(stats.lexical.bm25_terms, 2u);
  EXPECT_GT(stats.lexical.memory_bytes, 0u);
}

TEST_F(CollectionLexicalTest, SurvivesRestartFromSegmentsAndWalReplay) {
  std::map<std::string, std::string> docs;
  std::map<std::string, std::vector<SearchHit>> before;
  {
    auto c = Create(Config(100));
    docs = Fill(*c, 260);  // two sealed segments + 60 rows only in the WAL
    ASSERT_TRUE(c->WaitForIndexing().ok());
    for (const auto& q : queries_) before[q] = *c->LexicalSearch(q, 10, nullptr);
  }
  for (bool read_only : {false, true}) {
    auto c = Reopen(read_only);
    ASSERT_NE(c, nullptr);
    for (const auto& q : queries_) {
      auto hits = c->LexicalSearch(q, 10, nullptr);
      ASSERT_TRUE(hits.ok());
      ASSERT_EQ(hits->size(), before[q].size()) << q;
      for (size_t i = 0; i < hits->size(); ++i) {
        EXPECT_EQ((*hits)[i].id, before[q][i].id) << q << " " << i;
        EXPECT_FLOAT_EQ((*hits)[i].score, before[q][i].score) << q << " " << i;
      }
      ExpectMatchesBruteForce(*c, docs, q, 10, read_only ? "read-only reopen" : "reopen");
    }
  }
}

// Rewrites a version-2 segment file as version 1: no lexical section, old magic.
void DowngradeSegmentFile(const std::string& path) {
  auto bytes = Env::Default()->ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  std::string s = *bytes;
  ASSERT_EQ(s.substr(0, 8), "RLSEG002");
  // The file ends with [u64 lexical_len][lexical bytes][u32 crc].
  size_t lexical_len = 0;
  bool found = false;
  for (size_t len = 0; len + 12 + 8 <= s.size(); ++len) {
    uint64_t stored;
    std::memcpy(&stored, s.data() + s.size() - 4 - len - 8, 8);
    if (stored == len && s.compare(s.size() - 4 - len, 8, "RLLEX001") == 0) {
      lexical_len = len;
      found = true;
      break;
    }
  }
  ASSERT_TRUE(found);
  s.resize(s.size() - 4 - lexical_len - 8);
  s[7] = '1';
  const uint32_t crc = crc32c::Mask(crc32c::Value(s));
  s.append(reinterpret_cast<const char*>(&crc), 4);
  ASSERT_TRUE(Env::Default()->WriteFileAtomically(path, s).ok());
}

TEST_F(CollectionLexicalTest, OldDataDirsWithoutLexicalConfigOrIndexStillOpenAndSearch) {
  std::map<std::string, std::string> docs;
  {
    auto c = Create(Config(100));
    docs = Fill(*c, 230);
    ASSERT_TRUE(c->WaitForIndexing().ok());
  }
  // What a data dir from before lexical search looks like: no "lexical" key
  // in collection.json, version-1 segment files.
  const std::string config_path = Dir() + "/collection.json";
  json config = json::parse(*Env::Default()->ReadFile(config_path));
  config.erase("lexical");
  ASSERT_TRUE(Env::Default()->WriteFileAtomically(config_path, config.dump(2)).ok());
  for (const auto& entry : fs::directory_iterator(Dir() + "/segments")) DowngradeSegmentFile(entry.path());

  auto c = Reopen();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->config().lexical.text_field, "text");
  EXPECT_EQ(c->config().lexical.analyzer, text::AnalyzerOptions{});
  for (const auto& q : queries_) ExpectMatchesBruteForce(*c, docs, q, 10, "version-1 segments");
  // Compaction rewrites them in the current format (a dead row in each makes both inputs).
  ASSERT_TRUE(c->Delete(std::vector<std::string>{"d0", "d150"}).ok());
  docs.erase("d0");
  docs.erase("d150");
  ASSERT_TRUE(c->Compact().ok());
  for (const auto& entry : fs::directory_iterator(Dir() + "/segments")) {
    EXPECT_EQ(Env::Default()->ReadFile(entry.path())->substr(0, 8), "RLSEG002") << entry.path();
  }
  ASSERT_TRUE(c->Seal().ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  for (const auto& q : queries_) ExpectMatchesBruteForce(*c, docs, q, 10, "compacted from version 1");
}

TEST_F(CollectionLexicalTest, CompactionKeepsAnswersAndDropsDeadRowsFromTheStatistics) {
  auto c = Create(Config(100));
  auto docs = Fill(*c, 300);
  ASSERT_TRUE(c->WaitForIndexing().ok());
  // Replace and delete some sealed rows: those stay in BM25's statistics (as in
  // Lucene) until compaction, so compare with brute force only afterwards.
  std::vector<Record> updates;
  for (int i = 0; i < 300; i += 7) {
    const std::string id = "d" + std::to_string(i), text = RandomText(rng_);
    docs[id] = text;
    updates.push_back(Doc(id, 2, text));
  }
  ASSERT_TRUE(c->Upsert(std::move(updates)).ok());
  std::vector<std::string> gone;
  for (int i = 3; i < 300; i += 11) gone.push_back("d" + std::to_string(i));
  for (const auto& id : gone) docs.erase(id);
  ASSERT_TRUE(c->Delete(gone).ok());
  EXPECT_GT(c->Stats().lexical.bm25_documents, docs.size());
  ASSERT_TRUE(c->Seal().ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  ASSERT_TRUE(c->Compact().ok());
  const auto stats = c->Stats();
  EXPECT_EQ(stats.deleted, 0u);
  EXPECT_EQ(stats.lexical.bm25_documents, docs.size());
  EXPECT_EQ(stats.lexical.documents, docs.size());
  for (const auto& q : queries_) ExpectMatchesBruteForce(*c, docs, q, 10, "after compaction");
  auto reopened = (c.reset(), Reopen());
  for (const auto& q : queries_) ExpectMatchesBruteForce(*reopened, docs, q, 10, "compacted, reopened");
}

// Readers race the writer's appends, chunk-index builds (seal_threshold 4096,
// 1100 ids: a 1024-row chunk fills every version), seals and compaction.
void RaceSearchesWithWrites(Collection* collection, int ids, std::mt19937& rng) {
  Collection* c = collection;
  // "marker" is in every document at every version: each search must see
  // exactly one hit per id, never a stale duplicate, and only its newest text.
  std::atomic<bool> stop{false};
  std::atomic<int> searches{0}, problems{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto hits = c->LexicalSearch("marker", 10000, nullptr);
        if (!hits.ok()) {
          ++problems;
          continue;
        }
        std::set<std::string> ids;
        for (const auto& h : *hits) {
          if (!ids.insert(h.id).second || !(h.score > 0)) ++problems;
          const std::string text = h.payload["text"];
          if (text.find("v" + std::to_string(h.version) + " ") == std::string::npos) ++problems;
        }
        ++searches;
      }
    });
  }
  for (uint64_t version = 1; version <= 6; ++version) {
    std::vector<Record> batch;
    for (int i = 0; i < ids; ++i) {
      batch.push_back(Doc("x" + std::to_string(i), version, "v" + std::to_string(version) + " marker " + RandomText(rng)));
    }
    ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
    if (version % 2 == 0) {
      ASSERT_TRUE(c->WaitForIndexing().ok());
      ASSERT_TRUE(c->Compact().ok());
    }
  }
  ASSERT_TRUE(c->WaitForIndexing().ok());
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(problems.load(), 0);
  EXPECT_GT(searches.load(), 0);
  auto hits = c->LexicalSearch("marker", 10000, nullptr);
  ASSERT_EQ(hits->size(), static_cast<size_t>(ids));
  for (const auto& h : *hits) EXPECT_EQ(h.version, 6u);
}

TEST_F(CollectionLexicalTest, SearchesRunWhileUpsertsSealsAndCompactionGoOn) {
  auto c = Create(Config(64));
  RaceSearchesWithWrites(c.get(), 150, rng_);
}

TEST_F(CollectionLexicalTest, SearchesRunWhileGrowingChunksGetTheirIndexes) {
  auto c = Create(Config(4096));
  RaceSearchesWithWrites(c.get(), 1100, rng_);
}

TEST(LexicalConfigTest, RoundTripsAndRejectsBadValues) {
  LexicalConfig config;
  config.text_field = "body";
  config.analyzer.stemmer = "porter";
  config.bm25 = {0.9, 0.4};
  auto back = LexicalConfig::FromJson(config.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->text_field, "body");
  EXPECT_EQ(back->analyzer.stemmer, "porter");
  EXPECT_EQ(back->bm25.k1, 0.9);
  EXPECT_EQ(back->bm25.b, 0.4);
  EXPECT_FALSE(LexicalConfig::FromJson({{"text_field", ""}}).ok());
  EXPECT_FALSE(LexicalConfig::FromJson({{"analyzer", {{"stemmer", "klingon"}}}}).ok());
  EXPECT_FALSE(LexicalConfig::FromJson({{"bm25", {{"b", 2}}}}).ok());
  EXPECT_FALSE(LexicalConfig::FromJson({{"fields", 1}}).ok());
  CollectionConfig bad = Config(10);
  bad.lexical.analyzer.stemmer = "klingon";
  Status st = bad.Validate();
  EXPECT_NE(st.message().find("unknown stemmer language 'klingon'"), std::string::npos) << st;
}

}  // namespace
}  // namespace ragline::store
