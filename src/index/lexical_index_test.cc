#include "index/lexical_index.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/byte_io.h"

namespace ragline::index {
namespace {

TermVector Doc(std::vector<std::string> terms) { return TermVector::FromTerms(terms); }

// d0 "a b", d1 "a a c", d2 "b c c d", d3 "" (no terms: not counted in N or avgdl).
std::vector<TermVector> SmallCorpus() {
  return {Doc({"a", "b"}), Doc({"a", "a", "c"}), Doc({"b", "c", "c", "d"}), Doc({})};
}

Bm25Stats StatsOf(const LexicalIndex& index, const TermVector& query) {
  Bm25Stats s{index.doc_count(), index.total_doc_length(), {}};
  for (const auto& e : query.entries) s.doc_freq.push_back(index.DocFreq(e.term));
  return s;
}

TEST(TermVectorTest, CountsRepeatsAndSortsByHash) {
  TermVector v = Doc({"x", "y", "x", "x"});
  EXPECT_EQ(v.length, 4u);
  ASSERT_EQ(v.entries.size(), 2u);
  EXPECT_LT(v.entries[0].term, v.entries[1].term);
  EXPECT_EQ(v.Frequency(HashTerm("x")), 3u);
  EXPECT_EQ(v.Frequency(HashTerm("y")), 1u);
  EXPECT_EQ(v.Frequency(HashTerm("z")), 0u);
}

TEST(TermVectorTest, HashIsStableAcrossVersions) {
  // Persisted in segment files: these values must never change.
  // Values from an independent Python transcription of FNV-1a + splitmix64.
  EXPECT_EQ(HashTerm(""), 0xf52a15e9a9b5e89bull);
  EXPECT_EQ(HashTerm("run"), 0x7accee37ebbf3c57ull);
  EXPECT_NE(HashTerm("run"), HashTerm("runs"));
}

TEST(LexicalIndexTest, ScoresMatchHandComputedBm25) {
  LexicalIndex index;
  const auto docs = SmallCorpus();
  index.Build(docs);
  EXPECT_EQ(index.size(), 4u);
  EXPECT_EQ(index.doc_count(), 3u);
  EXPECT_EQ(index.total_doc_length(), 9u);
  EXPECT_EQ(index.DocFreq(HashTerm("a")), 2u);
  EXPECT_EQ(index.DocFreq(HashTerm("d")), 1u);
  EXPECT_EQ(index.DocFreq(HashTerm("zzz")), 0u);

  // N = 3, avgdl = 3, k1 = 0.9, b = 0.4; idf(a) = idf(c) = ln(1 + 1.5 / 2.5) = ln 1.6.
  // d1: ln1.6 · (2 / (2 + 0.9)            + 1 / (1 + 0.9))            = 0.571511
  // d2: ln1.6 · (2 / (2 + 0.9·(0.6+0.4·4/3)))                          = 0.311261
  // d0: ln1.6 · (1 / (1 + 0.9·(0.6+0.4·2/3)))                          = 0.264047
  const TermVector q = Doc({"a", "c"});
  Bm25Query query(q, StatsOf(index, q), Bm25Params{0.9, 0.4});
  auto hits = index.Search(query, 10, nullptr);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].label, 1u);
  EXPECT_NEAR(-hits[0].distance, 0.5715107651, 1e-6);
  EXPECT_EQ(hits[1].label, 2u);
  EXPECT_NEAR(-hits[1].distance, 0.3112606816, 1e-6);
  EXPECT_EQ(hits[2].label, 0u);
  EXPECT_NEAR(-hits[2].distance, 0.2640469827, 1e-6);
  // The forward scorer (the growing segment's path) agrees.
  for (const auto& h : hits) EXPECT_FLOAT_EQ(query.Score(docs[h.label]), -h.distance);
}

TEST(LexicalIndexTest, RepeatedQueryTermsWeighByQueryFrequency) {
  LexicalIndex index;
  index.Build(SmallCorpus());
  const TermVector once = Doc({"d"}), twice = Doc({"d", "d"});
  auto a = index.Search(Bm25Query(once, StatsOf(index, once), {}), 1, nullptr);
  auto b = index.Search(Bm25Query(twice, StatsOf(index, twice), {}), 1, nullptr);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_FLOAT_EQ(b[0].distance, 2 * a[0].distance);
}

TEST(LexicalIndexTest, GlobalStatsDecideTheScore) {
  // The same segment scored with collection-wide stats from elsewhere.
  LexicalIndex index;
  index.Build(SmallCorpus());
  const TermVector q = Doc({"d"});
  Bm25Stats global{100, 300, {10}};
  auto hits = index.Search(Bm25Query(q, global, Bm25Params{0.9, 0.4}), 1, nullptr);
  ASSERT_EQ(hits.size(), 1u);
  const double idf = std::log(1 + (100 - 10 + 0.5) / (10 + 0.5));
  EXPECT_NEAR(-hits[0].distance, idf * 1 / (1 + 0.9 * (0.6 + 0.4 * 4 / 3.0)), 1e-5);
}

TEST(LexicalIndexTest, FilterIsAppliedInsideTheSearchAndStillYieldsK) {
  std::mt19937 rng(3);
  std::vector<TermVector> docs;
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::string> terms = {"common"};
    for (int j = 0; j < 5; ++j) terms.push_back("w" + std::to_string(rng() % 50));
    docs.push_back(TermVector::FromTerms(terms));
  }
  LexicalIndex index;
  index.Build(docs);
  const TermVector q = Doc({"common", "w7"});
  Bm25Query query(q, StatsOf(index, q), {});
  LabelFilter odd{[](Label l) { return l % 97 == 1; }, 2000 / 97};
  auto hits = index.Search(query, 10, &odd);
  ASSERT_EQ(hits.size(), 10u);
  for (const auto& h : hits) EXPECT_EQ(h.label % 97, 1u);
  // Equal to the best 10 admitted rows by brute force.
  std::vector<Neighbor> all;
  for (Label l = 0; l < docs.size(); ++l) {
    if (l % 97 == 1) all.push_back({-query.Score(docs[l]), l});
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < hits.size(); ++i) EXPECT_FLOAT_EQ(hits[i].distance, all[i].distance) << i;
  // Fewer admitted matches than k: all of them.
  LabelFilter one{[](Label l) { return l == 5; }, 1};
  EXPECT_EQ(index.Search(query, 10, &one).size(), 1u);
}

TEST(LexicalIndexTest, NoMatchingTermsMeansNoHits) {
  LexicalIndex index;
  index.Build(SmallCorpus());
  const TermVector q = Doc({"nothing"});
  EXPECT_TRUE(index.Search(Bm25Query(q, StatsOf(index, q), {}), 5, nullptr).empty());
  LexicalIndex empty;
  empty.Build({});
  EXPECT_TRUE(empty.Search(Bm25Query(q, {}, {}), 5, nullptr).empty());
}

TEST(LexicalIndexTest, TermVectorsRoundTripThroughThePostings) {
  LexicalIndex index;
  const auto docs = SmallCorpus();
  index.Build(docs);
  const auto back = index.ToTermVectors();
  ASSERT_EQ(back.size(), docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    EXPECT_EQ(back[i].length, docs[i].length);
    ASSERT_EQ(back[i].entries.size(), docs[i].entries.size());
    for (size_t j = 0; j < docs[i].entries.size(); ++j) {
      EXPECT_EQ(back[i].entries[j].term, docs[i].entries[j].term);
      EXPECT_EQ(back[i].entries[j].tf, docs[i].entries[j].tf);
    }
  }
}

TEST(LexicalIndexTest, SerialisationRoundTrips) {
  LexicalIndex index;
  index.Build(SmallCorpus());
  std::string bytes;
  index.Serialize(&bytes);
  LexicalIndex loaded;
  ASSERT_TRUE(loaded.Deserialize(bytes, 4).ok());
  EXPECT_EQ(loaded.term_count(), index.term_count());
  EXPECT_EQ(loaded.doc_count(), 3u);
  EXPECT_EQ(loaded.total_doc_length(), 9u);
  const TermVector q = Doc({"a", "c"});
  auto a = index.Search(Bm25Query(q, StatsOf(index, q), {}), 3, nullptr);
  auto b = loaded.Search(Bm25Query(q, StatsOf(loaded, q), {}), 3, nullptr);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].label, b[i].label);
    EXPECT_EQ(a[i].distance, b[i].distance);
  }
}

// Rewrites the checksum so a deliberate inconsistency reaches the validators.
std::string Reseal(std::string bytes) {
  const uint64_t sum = Checksum64(bytes.data(), bytes.size() - 8);
  std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
  return bytes;
}

TEST(LexicalIndexTest, CorruptInputIsDataLossNeverACrash) {
  LexicalIndex index;
  index.Build(SmallCorpus());
  std::string good;
  index.Serialize(&good);
  // Layout: magic 8, rows 8, terms 8, postings 8, lengths 4·4, terms 8·T, offsets 8·(T+1), labels, tfs, sum.
  const size_t t = index.term_count();
  const size_t lengths_at = 32, terms_at = lengths_at + 16, offsets_at = terms_at + 8 * t,
               labels_at = offsets_at + 8 * (t + 1), tfs_at = labels_at + 4 * index.posting_count();
  auto set_u32 = [](std::string s, size_t at, uint32_t v) { std::memcpy(s.data() + at, &v, 4); return Reseal(s); };
  auto set_u64 = [](std::string s, size_t at, uint64_t v) { std::memcpy(s.data() + at, &v, 8); return Reseal(s); };
  struct Case {
    std::string name;
    std::string bytes;
    size_t n;
    std::string message;
  };
  std::string flipped = good;
  flipped[40] ^= 0x10;
  std::vector<Case> cases = {
      {"empty", "", 4, "truncated header"},
      {"truncated", good.substr(0, good.size() / 2), 4, "checksum mismatch"},
      {"torn tail", good.substr(0, good.size() - 1), 4, "checksum mismatch"},
      {"flipped bit", flipped, 4, "checksum mismatch"},
      {"bad magic", set_u32(good, 0, 0x41414141), 4, "bad magic"},
      {"row count differs from the segment", good, 5, "indexes 4 rows"},
      {"huge term count", set_u64(good, 16, uint64_t{1} << 60), 4, "do not add up"},
      {"huge posting count", set_u64(good, 24, ~uint64_t{0} / 4), 4, "do not add up"},
      {"unsorted terms", set_u64(good, terms_at, ~uint64_t{0}), 4, "terms not sorted"},
      {"offset past the end", set_u64(good, offsets_at + 8, 1000), 4, "bad posting offsets"},
      {"label out of range", set_u32(good, labels_at, 77), 4, "label out of range"},
      {"zero tf", set_u32(good, tfs_at, 0), 4, "zero term frequency"},
      {"wrong document length", set_u32(good, lengths_at, 9), 4, "document length"},
  };
  for (const auto& c : cases) {
    LexicalIndex loaded;
    Status st = loaded.Deserialize(c.bytes, c.n);
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << c.name << ": " << st;
    EXPECT_NE(st.message().find(c.message), std::string::npos) << c.name << ": " << st;
    EXPECT_EQ(loaded.size(), 0u) << c.name;
  }
}

TEST(Bm25ParamsTest, RejectsOutOfRangeValues) {
  EXPECT_TRUE((Bm25Params{1.2, 0.75}).Validate().ok());
  EXPECT_FALSE((Bm25Params{-1, 0.4}).Validate().ok());
  EXPECT_FALSE((Bm25Params{0.9, 1.5}).Validate().ok());
  EXPECT_FALSE((Bm25Params{NAN, 0.4}).Validate().ok());
}

TEST(Bm25ParamsTest, ParsesKeyValueListsAndNamesBadItems) {
  auto p = Bm25Params::Parse("k1=0.9,b=0.4");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->k1, 0.9);
  EXPECT_EQ(p->b, 0.4);
  p = Bm25Params::Parse("b=0.3");  // k1 keeps its default
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->k1, Bm25Params{}.k1);
  EXPECT_EQ(p->b, 0.3);
  EXPECT_TRUE(Bm25Params::Parse("").ok());
  for (const char* bad : {"k2=1", "k1", "k1=x", "k1=1.2x", "b=1.5", "k1=-1"}) {
    auto r = Bm25Params::Parse(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(Bm25Params::Parse("k2=1").status().message().find("'k2=1'"), std::string::npos);
}

}  // namespace
}  // namespace ragline::index
