// The ingestion pipeline against a real collection and the real
// all-MiniLM-L6-v2 model (skipped when models/all-MiniLM-L6-v2 is not fetched).
#include "pipeline/ingestor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "core/strings.h"
#include "pipeline/chunk_payload.h"
#include "store/filter.h"

namespace ragline::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path kModelDir = fs::path(RAGLINE_SOURCE_DIR) / "models" / "all-MiniLM-L6-v2";

// Counts Embed calls and texts; fails every call after `fail_after` calls.
class CountingEmbedder : public embed::Embedder {
 public:
  explicit CountingEmbedder(embed::Embedder& inner) : inner_(inner) {}
  size_t dim() const override { return inner_.dim(); }
  const std::string& model_id() const override { return inner_.model_id(); }
  Result<Matrix> Embed(std::span<const std::string> texts) override {
    const size_t call = calls++;
    if (call >= fail_after) return failure;
    if (gate) gate(texts);
    texts_embedded += texts.size();
    return inner_.Embed(texts);
  }
  std::atomic<size_t> calls{0};
  std::atomic<size_t> texts_embedded{0};
  size_t fail_after = static_cast<size_t>(-1);
  Status failure = absl::InvalidArgumentError("injected embedding failure");  // from call fail_after on
  std::function<void(std::span<const std::string>)> gate;  // runs before each Embed (may block)

 private:
  embed::Embedder& inner_;
};

// Prose of `sentences` distinct sentences about `topic`.
std::string Prose(const std::string& topic, int sentences) {
  std::string s;
  for (int i = 0; i < sentences; ++i) {
    s += StrCat("Sentence ", i, " explains how ", topic, " works in practice and why it matters. ");
    if (i % 4 == 3) s += "\n\n";
  }
  return s;
}

SourceDocument Doc(std::string id, std::string content, std::string type = "text/plain") {
  SourceDocument d;
  d.id = std::move(id);
  d.content = std::move(content);
  d.content_type = std::move(type);
  d.source = "test";
  return d;
}

std::string Gzip(const std::string& plain) {
  std::string out(compressBound(plain.size()) + 32, '\0');
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void WriteFile(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

class IngestorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kModelDir / "model.safetensors")) return;
    auto e = embed::LocalEmbedder::Open(kModelDir, {}, nullptr);
    if (e.ok()) model_ = e->release();
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }

  void SetUp() override {
    if (model_ == nullptr) GTEST_SKIP() << "no model at " << kModelDir << " (scripts/fetch_model.sh)";
    char tmpl[] = "/tmp/ragline_pipeline_test_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    counting_ = std::make_unique<CountingEmbedder>(*model_);
    tokenizer_ = std::make_unique<WordPieceChunkTokenizer>(model_->tokenizer());
    options_.chunker.max_tokens = 40;  // small chunks keep the model cheap
    options_.chunker.overlap_tokens = 8;
    options_.chunker.lookback_tokens = 16;
    options_.embed_batch_chunks = 8;
    OpenCollection(true);
  }
  void TearDown() override {
    ingestor_.reset();
    if (collection_) (void)collection_->Close();
    collection_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void OpenCollection(bool create) {
    ingestor_.reset();
    if (collection_) {
      ASSERT_TRUE(collection_->Close().ok());
    }
    collection_.reset();
    store::CollectionConfig config;
    config.name = "docs";
    config.dim = static_cast<uint32_t>(model_->dim());
    config.index_kind = index::IndexKind::kFlat;
    auto c = create ? store::Collection::Create(*store::Env::Default(), dir_ + "/c", config, pool_)
                    : store::Collection::Open(*store::Env::Default(), dir_ + "/c", pool_);
    ASSERT_TRUE(c.ok()) << c.status();
    collection_ = std::move(*c);
    ingestor_ = std::make_unique<Ingestor>(*collection_, *counting_, *tokenizer_, options_);
  }

  IngestReport MustIngest(std::vector<SourceDocument> docs) {
    auto r = ingestor_->Ingest(std::move(docs));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : IngestReport{};
  }

  // All record ids in the collection.
  std::set<std::string> Ids() {
    std::set<std::string> ids;
    for (const auto& r : collection_->ListRecords(nullptr)) ids.insert(r.id);
    return ids;
  }
  // doc#0 .. doc#(n-1) for each committed document, from its chunk #0.
  std::set<std::string> ExpectedIds(const std::vector<std::string>& doc_ids) {
    std::set<std::string> ids;
    for (const auto& d : doc_ids) {
      auto info = ingestor_->GetDocument(d);
      EXPECT_TRUE(info.ok() && info->has_value()) << d << " is not committed";
      if (info.ok() && *info) ids.insert((*info)->chunk_ids.begin(), (*info)->chunk_ids.end());
    }
    return ids;
  }

  static embed::LocalEmbedder* model_;
  std::string dir_;
  ThreadPool pool_{1};
  IngestOptions options_;
  std::unique_ptr<CountingEmbedder> counting_;
  std::unique_ptr<WordPieceChunkTokenizer> tokenizer_;
  std::unique_ptr<store::Collection> collection_;
  std::unique_ptr<Ingestor> ingestor_;
};
embed::LocalEmbedder* IngestorTest::model_ = nullptr;

TEST_F(IngestorTest, WritesOneRecordPerChunkWithItsPayload) {
  const std::string md = "# Install\n\n" + Prose("the installer", 6) + "\n\n## Debian\n\n" + Prose("apt", 6);
  SourceDocument d = Doc("guide.md", md, "md");
  d.metadata = {{"lang", "en"}, {"team", "docs"}};
  d.version = 42;
  d.source = "/srv/guide.md";
  IngestReport report = MustIngest({d});
  EXPECT_EQ(report.documents_added, 1u);
  EXPECT_EQ(report.documents_failed, 0u);
  ASSERT_GT(report.chunks_upserted, 2u);

  auto info = ingestor_->GetDocument("guide.md");
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->chunk_count, report.chunks_upserted);
  EXPECT_EQ((*info)->version, 42u);
  EXPECT_EQ((*info)->content_hash, ContentHash(md));
  EXPECT_EQ((*info)->title, "Install");
  EXPECT_EQ((*info)->metadata["team"], "docs");
  EXPECT_EQ(collection_->Stats().vector_count, report.chunks_upserted);

  auto extracted = text::Extract(md, "md");
  ASSERT_TRUE(extracted.ok());
  bool saw_debian = false;
  for (size_t k = 0; k < (*info)->chunk_count; ++k) {
    auto r = collection_->Get(ChunkId("guide.md", k));
    ASSERT_TRUE(r) << k;
    const json& p = r->payload;
    EXPECT_EQ(r->version, 42u);
    EXPECT_EQ(p["doc_id"], "guide.md");
    EXPECT_EQ(p["ordinal"], k);
    EXPECT_EQ(p["chunk_count"], (*info)->chunk_count);
    EXPECT_EQ(p["content_hash"], ContentHash(md));
    EXPECT_EQ(p["source"], "/srv/guide.md");
    EXPECT_EQ(p["title"], "Install");
    EXPECT_EQ(p["metadata"]["lang"], "en");
    const size_t b = p["offsets"][0], e = p["offsets"][1];
    EXPECT_EQ(p["text"], extracted->text.substr(b, e - b));
    EXPECT_EQ(p["heading_path"], std::string(extracted->HeadingPathAt(b)));
    if (p["heading_path"] == "Install > Debian") saw_debian = true;
    EXPECT_NEAR(std::sqrt(std::inner_product(r->vector.begin(), r->vector.end(), r->vector.begin(), 0.0)), 1.0,
                1e-4);
  }
  EXPECT_TRUE(saw_debian);

  // The caller's metadata is addressable by filters and the text by BM25.
  auto filter = store::PayloadFilter::Parse({{"metadata.lang", "en"}});
  ASSERT_TRUE(filter.ok());
  auto hits = collection_->LexicalSearch("apt", 3, &*filter);
  ASSERT_TRUE(hits.ok());
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ((*hits)[0].payload["doc_id"], "guide.md");
  auto none = store::PayloadFilter::Parse({{"metadata.lang", "de"}});
  EXPECT_TRUE(collection_->LexicalSearch("apt", 3, &*none)->empty());
}

TEST_F(IngestorTest, EmbedsChunksOfManyDocumentsInSharedBatches) {
  std::vector<SourceDocument> docs;
  for (int i = 0; i < 12; ++i) docs.push_back(Doc(StrCat("d", i), StrCat("Short note number ", i, ".")));
  IngestReport report = MustIngest(std::move(docs));
  EXPECT_EQ(report.documents_added, 12u);
  EXPECT_EQ(report.chunks_upserted, 12u);
  EXPECT_EQ(counting_->texts_embedded, 12u);
  EXPECT_EQ(counting_->calls, 2u);  // 8 + 4 with embed_batch_chunks = 8
}

TEST_F(IngestorTest, UnchangedDocumentsAreNotReembedded) {
  std::vector<SourceDocument> docs = {Doc("a", Prose("alpha", 10)), Doc("b", Prose("beta", 3))};
  IngestReport first = MustIngest(docs);
  EXPECT_EQ(first.documents_added, 2u);
  const size_t calls = counting_->calls;
  const size_t records = collection_->Stats().vector_count;

  IngestReport second = MustIngest(docs);
  EXPECT_EQ(second.documents_unchanged, 2u);
  EXPECT_EQ(second.documents_added + second.documents_replaced, 0u);
  EXPECT_EQ(second.chunks_upserted, 0u);
  EXPECT_EQ(counting_->calls, calls) << "unchanged documents were embedded again";
  EXPECT_EQ(collection_->Stats().vector_count, records);

  // New metadata is a change even with the same bytes.
  docs[1].metadata = {{"tag", "x"}};
  IngestReport third = MustIngest(docs);
  EXPECT_EQ(third.documents_unchanged, 1u);
  EXPECT_EQ(third.documents_replaced, 1u);
  EXPECT_EQ(collection_->Get("b#0")->payload["metadata"]["tag"], "x");
}

TEST_F(IngestorTest, ChangedDocumentReplacesItsChunksAndDropsTheRest) {
  MustIngest({Doc("doc", Prose("long topic", 24))});
  auto before = ingestor_->GetDocument("doc");
  ASSERT_TRUE(before.ok() && before->has_value());
  const size_t old_count = (*before)->chunk_count;
  ASSERT_GT(old_count, 4u);

  IngestReport report = MustIngest({Doc("doc", "Now it is a single short sentence.")});
  EXPECT_EQ(report.documents_replaced, 1u);
  EXPECT_EQ(report.chunks_upserted, 1u);
  EXPECT_EQ(report.chunks_deleted, old_count - 1);
  auto after = ingestor_->GetDocument("doc");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->chunk_count, 1u);
  EXPECT_GT((*after)->version, (*before)->version);
  EXPECT_EQ(Ids(), std::set<std::string>{"doc#0"});
  EXPECT_EQ(collection_->Get("doc#0")->payload["text"], "Now it is a single short sentence.");

  // Emptied: no chunks at all.
  report = MustIngest({Doc("doc", "  \n ")});
  EXPECT_EQ(report.documents_failed, 0u);
  EXPECT_TRUE(Ids().empty());
  auto gone = ingestor_->GetDocument("doc");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST_F(IngestorTest, StaleCallerVersionFailsTheDocument) {
  SourceDocument d = Doc("v", "First content.");
  d.version = 10;
  MustIngest({d});
  d.content = "Second content.";
  d.version = 9;
  IngestReport report = MustIngest({d});
  EXPECT_EQ(report.documents_failed, 1u);
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_NE(report.failures[0].error.find("not newer"), std::string::npos) << report.failures[0].error;
  EXPECT_EQ(collection_->Get("v#0")->payload["text"], "First content.");
}

TEST_F(IngestorTest, BadDocumentsFailAloneAndTheRestIngest) {
  std::vector<SourceDocument> docs = {
      Doc("good1", "A perfectly fine document."),
      Doc("broken.pdf", "%PDF-1.4 this is not really a pdf at all", "pdf"),
      Doc("weird.xyz", "whatever", "xyz"),
      Doc("latin1.txt", std::string("caf\xe9 au lait"), "txt"),
      Doc("", "no id"),
      Doc("good2", "<html><body><p>Fine HTML too.</p></body></html>", "text/html"),
      Doc("good1", "duplicate id"),
  };
  IngestReport report = MustIngest(std::move(docs));
  EXPECT_EQ(report.documents_added, 2u);
  EXPECT_EQ(report.documents_failed, 5u);
  std::map<std::string, std::string> errors;
  for (const auto& f : report.failures) errors[f.id] += f.error;
  EXPECT_TRUE(errors.count("broken.pdf"));
  EXPECT_NE(errors["weird.xyz"].find("xyz"), std::string::npos) << errors["weird.xyz"];
  EXPECT_NE(errors["latin1.txt"].find("UTF-8"), std::string::npos) << errors["latin1.txt"];
  EXPECT_TRUE(errors.count(""));
  EXPECT_NE(errors["good1"].find("duplicate"), std::string::npos);
  EXPECT_EQ(Ids(), (std::set<std::string>{"good1#0", "good2#0"}));
  EXPECT_EQ(collection_->Get("good1#0")->payload["text"], "A perfectly fine document.");
}

TEST_F(IngestorTest, ResumesAfterAFailureMidwayWithoutDuplicatesOrLosses) {
  // v1 of every document, committed.
  std::vector<std::string> ids;
  std::vector<SourceDocument> v1, v2;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(StrCat("doc", i));
    v1.push_back(Doc(ids.back(), Prose(StrCat("first topic ", i), 6 + 3 * i)));
    // v2: some grow, some shrink.
    v2.push_back(Doc(ids.back(), Prose(StrCat("second topic ", i), i % 2 == 0 ? 2 : 20)));
  }
  IngestReport r1 = MustIngest(v1);
  ASSERT_EQ(r1.documents_added, 6u);

  // v2 with an embedder that dies after a few batches: the documents it
  // reached are left whole at v1 (all or nothing), never v2 chunks beside a
  // v1 #0 or v1 chunks past a v2 count.
  counting_->calls = 0;
  counting_->fail_after = 3;
  IngestReport r2 = MustIngest(v2);
  EXPECT_GT(r2.documents_failed, 0u);
  EXPECT_EQ(r2.documents_failed + r2.documents_replaced, 6u);
  for (const auto& f : r2.failures) EXPECT_NE(f.error.find("injected"), std::string::npos);
  std::map<std::string, size_t> chunks_of;
  for (const auto& r : collection_->ListRecords(nullptr)) {
    const std::string doc_id = r.payload["doc_id"].get<std::string>();
    auto head = collection_->Get(ChunkId(doc_id, 0));
    ASSERT_TRUE(head) << r.id;
    const bool head_v2 = head->payload["text"].get<std::string>().find("second topic") != std::string::npos;
    const bool row_v2 = r.payload["text"].get<std::string>().find("second topic") != std::string::npos;
    EXPECT_EQ(row_v2, head_v2) << r.id << " is from another version than its document's #0";
    EXPECT_EQ(r.version, head->version) << r.id;
    ++chunks_of[doc_id];
  }
  for (const auto& d : ids) {
    auto info = ingestor_->GetDocument(d);
    ASSERT_TRUE(info.ok() && *info) << d;
    EXPECT_EQ(chunks_of[d], (*info)->chunk_count) << d << " has chunks past its count, or misses some";
  }

  // "Restart": reopen the collection from disk, then rerun with a healthy model.
  OpenCollection(false);
  counting_->fail_after = static_cast<size_t>(-1);
  IngestReport r3 = MustIngest(v2);
  EXPECT_EQ(r3.documents_failed, 0u);
  EXPECT_EQ(r3.documents_replaced, r2.documents_failed);
  EXPECT_EQ(r3.documents_unchanged, r2.documents_replaced);
  EXPECT_EQ(Ids(), ExpectedIds(ids));
  EXPECT_EQ(collection_->Stats().vector_count, ExpectedIds(ids).size());
  for (const auto& d : ids) {
    auto info = ingestor_->GetDocument(d);
    for (const auto& cid : (*info)->chunk_ids) {
      EXPECT_NE(collection_->Get(cid)->payload["text"].get<std::string>().find("second topic"), std::string::npos)
          << cid << " still holds v1 text";
    }
  }
}

// An embedder that is down (Unavailable) fails the call, not its documents:
// the caller can retry the whole call. What was committed before is whole;
// nothing is reported failed.
TEST_F(IngestorTest, AnUnavailableEmbedderFailsTheCallWholeAndLosesNothing) {
  std::vector<SourceDocument> docs;
  for (int i = 0; i < 12; ++i) docs.push_back(Doc(StrCat("d", i), StrCat("Short note number ", i, ".")));
  counting_->fail_after = 1;  // the first batch of 8 goes in, the second finds the embedder down
  counting_->failure = absl::UnavailableError("embeddings server refused the connection");
  auto r = ingestor_->Ingest(docs);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("refused"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("committed whole before it stopped"));
  const size_t committed = Ids().size();
  EXPECT_LE(committed, 8u);

  counting_->fail_after = static_cast<size_t>(-1);  // it is back: the same call again
  IngestReport again = MustIngest(docs);
  EXPECT_EQ(again.documents_failed, 0u);
  EXPECT_EQ(again.documents_added + again.documents_unchanged, 12u);
  EXPECT_EQ(again.documents_unchanged, committed);
  EXPECT_EQ(collection_->Stats().vector_count, 12u);
}

TEST_F(IngestorTest, IngestPathAddsChangesAndDeletesFiles) {
  const fs::path root = fs::path(dir_) / "docs";
  WriteFile(root / "a.txt", Prose("apples", 4));
  WriteFile(root / "sub/b.md", "# Bananas\n\n" + Prose("bananas", 4));
  WriteFile(root / "sub/c.html", "<html><head><title>Cherries</title></head><body><p>" + Prose("cherries", 3) +
                                     "</p></body></html>");
  WriteFile(root / "logo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  WriteFile(root / ".hidden/d.txt", "ignored: hidden");
  WriteFile(root / "broken.pdf", "%PDF-1.7 garbage");

  std::vector<size_t> progress;
  size_t last_chunks = 0;
  auto r1 = ingestor_->IngestPath(root, [&](size_t done, size_t total, size_t chunks) {
    EXPECT_EQ(total, 4u);
    EXPECT_GE(chunks, last_chunks);
    last_chunks = chunks;
    if (done > 0 && (progress.empty() || progress.back() != done)) progress.push_back(done);
  });
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->documents_added, 3u);
  EXPECT_EQ(r1->documents_failed, 1u);
  ASSERT_EQ(r1->failures.size(), 1u);
  EXPECT_EQ(r1->failures[0].id, "broken.pdf");
  ASSERT_EQ(r1->skipped.size(), 1u);
  EXPECT_EQ(r1->skipped[0].id, "logo.png");
  EXPECT_EQ(r1->skipped[0].error, "binary data (NUL byte at offset 8)");
  EXPECT_EQ(r1->ToJson()["files_skipped"], 1);
  EXPECT_EQ(progress, (std::vector<size_t>{1, 2, 3, 4}));
  EXPECT_EQ(last_chunks, r1->chunks_upserted);
  auto b = ingestor_->GetDocument("sub/b.md");
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->title, "Bananas");
  EXPECT_EQ((*b)->source, (fs::canonical(root) / "sub/b.md").string());

  auto r2 = ingestor_->IngestPath(root);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->documents_unchanged, 3u);
  EXPECT_EQ(r2->chunks_upserted, 0u);

  WriteFile(root / "a.txt", "Apples are now a one-liner.");
  fs::remove(root / "sub/c.html");
  const size_t c_chunks = (*ingestor_->GetDocument("sub/c.html"))->chunk_count;
  auto r3 = ingestor_->IngestPath(root);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->documents_replaced, 1u);
  EXPECT_EQ(r3->documents_unchanged, 1u);
  EXPECT_EQ(r3->documents_deleted, 1u);
  EXPECT_GE(r3->chunks_deleted, c_chunks);
  EXPECT_FALSE(ingestor_->GetDocument("sub/c.html")->has_value());
  EXPECT_EQ(Ids(), ExpectedIds({"a.txt", "sub/b.md"}));

  // A single file: doc_id is its name, the root its directory; one that is
  // no document is refused with the reason.
  auto r4 = ingestor_->IngestPath(root / "broken.pdf");
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(r4->documents_failed, 1u);
  auto r5 = ingestor_->IngestPath(root / "logo.png");
  EXPECT_TRUE(absl::IsInvalidArgument(r5.status())) << r5.status();
  EXPECT_THAT(std::string(r5.status().message()), HasSubstr("logo.png: skipped: binary data"));
  EXPECT_FALSE(ingestor_->IngestPath(root / "missing").ok());
}

TEST_F(IngestorTest, ProgressMovesWithinALongDocument) {
  std::vector<std::pair<size_t, size_t>> calls;  // docs_done, chunks_embedded
  std::vector<SourceDocument> docs;
  docs.push_back(Doc("long", Prose("glaciers", 60)));
  auto done = ingestor_->Ingest(std::move(docs), [&](size_t d, size_t, size_t chunks) { calls.emplace_back(d, chunks); });
  ASSERT_TRUE(done.ok()) << done.status();
  const IngestReport& r = *done;
  ASSERT_GT(r.chunks_upserted, 2 * options_.embed_batch_chunks);
  // Each embed batch is reported before the document is done.
  ASSERT_GE(calls.size(), 3u);
  EXPECT_EQ(calls[0], std::make_pair(size_t{0}, options_.embed_batch_chunks));
  EXPECT_EQ(calls.back(), std::make_pair(size_t{1}, r.chunks_upserted));
}

TEST_F(IngestorTest, FilesWithoutAKnownExtensionAreReadByContentAndGzipIsDecompressed) {
  const fs::path root = fs::path(dir_) / "share-doc";
  WriteFile(root / "README", "Bash README\n\n" + Prose("shells", 3));
  WriteFile(root / "NEWS.Debian.gz", Gzip("Debian NEWS\n\n" + Prose("releases", 3)));
  WriteFile(root / "manual.html.gz", Gzip("<html><head><title>The Manual</title></head><body><p>" +
                                          Prose("manuals", 2) + "</p></body></html>"));
  WriteFile(root / "index.page", "<!DOCTYPE html><title>Index</title><p>" + Prose("indexes", 2));
  WriteFile(root / "empty", "");
  WriteFile(root / "latin1.conf", "caf\xe9");
  WriteFile(root / "archive.tar.gz", Gzip(std::string("README\0\0\0\0\0\0", 12)));

  auto listed = ListSourceFiles(root);
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::map<std::string, std::string> types, skipped;
  for (const auto& f : listed->files) types[f.id] = f.content_type;
  for (const auto& k : listed->skipped) skipped[k.id] = k.error;
  EXPECT_EQ(types, (std::map<std::string, std::string>{{"NEWS.Debian.gz", "text/plain"},
                                                       {"README", "text/plain"},
                                                       {"index.page", "text/html"},
                                                       {"manual.html.gz", ".html"}}));
  EXPECT_EQ(skipped, (std::map<std::string, std::string>{
                         {"archive.tar.gz", "binary data (NUL byte at offset 6)"},
                         {"empty", "empty file"},
                         {"latin1.conf", "not UTF-8 text (invalid byte at offset 3)"}}));

  auto r = ingestor_->IngestPath(root);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->documents_added, 4u);
  EXPECT_EQ(r->documents_failed, 0u);
  EXPECT_EQ(r->skipped.size(), 3u);
  auto news = ingestor_->GetDocument("NEWS.Debian.gz");
  ASSERT_TRUE(news.ok() && news->has_value());
  EXPECT_EQ((*news)->content_type, "text/plain");
  EXPECT_GE((*news)->chunk_count, 1u);
  auto manual = ingestor_->GetDocument("manual.html.gz");
  ASSERT_TRUE(manual.ok() && manual->has_value());
  EXPECT_EQ((*manual)->title, "The Manual");

  // The caller's type wins over extension and content: nothing is skipped.
  auto forced = ListSourceFiles(root, "txt");
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->files.size(), 7u);
  EXPECT_TRUE(forced->skipped.empty());
}

TEST_F(IngestorTest, PdfChunksCarryThePageTheyBeginOn) {
  IngestOptions options = options_;
  options.chunker.overlap_tokens = 0;  // else page 2's chunk begins with the end of page 1
  Ingestor ingestor(*collection_, *counting_, *tokenizer_, options);
  auto r = ingestor.IngestPath(fs::path(RAGLINE_SOURCE_DIR) / "src/text/testdata/sample.pdf");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->documents_added, 1u);
  std::map<size_t, std::string> first_text_on;  // page -> text of its first chunk
  for (const auto& id : Ids()) {
    auto payload = ChunkPayload::FromJson(collection_->Get(id)->payload);
    ASSERT_TRUE(payload.ok()) << payload.status();
    first_text_on.emplace(payload->page, payload->text);
    EXPECT_EQ(payload->ToJson()["page"], payload->page);
  }
  ASSERT_EQ(first_text_on.size(), 2u) << "40-token chunks: both pages begin one";
  EXPECT_THAT(first_text_on[1], HasSubstr("first page"));
  EXPECT_THAT(first_text_on[2], HasSubstr("second page"));
}

TEST_F(IngestorTest, AGzipFileThatDecompressesPastTheLimitFailsAsOverTheLimit) {
  const fs::path root = fs::path(dir_) / "bomb";
  WriteFile(root / "big.txt.gz", Gzip(std::string(4 << 20, 'a')));  // 4 MiB of 'a', a few KiB on disk
  IngestOptions options = options_;
  options.limits.max_document_bytes = 1 << 20;
  Ingestor ingestor(*collection_, *counting_, *tokenizer_, options);
  auto r = ingestor.IngestPath(root);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->failures.size(), 1u);
  EXPECT_THAT(r->failures[0].error, HasSubstr("decompresses to more than 1048576 bytes"));
  EXPECT_THAT(r->failures[0].error, HasSubstr("max_document_bytes"));
}

TEST_F(IngestorTest, WatchReingestsNewChangedAndDeletedFiles) {
  const fs::path root = fs::path(dir_) / "watched";
  WriteFile(root / "one.txt", "The first file.");
  std::mutex mu;
  std::condition_variable cv;
  std::vector<IngestReport> passes;
  std::stop_source stop;
  Status watch_status;
  std::thread watcher([&] {
    watch_status = ingestor_->Watch(root, stop.get_token(), [&](const IngestReport& r) {
      std::lock_guard<std::mutex> l(mu);
      passes.push_back(r);
      cv.notify_all();
    });
  });
  auto wait_for = [&](size_t n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(20), [&] { return passes.size() >= n; });
  };
  ASSERT_TRUE(wait_for(1));
  EXPECT_EQ(passes[0].documents_added, 1u);

  WriteFile(root / "sub/two.md", "# Two\n\nA second file in a new directory.");
  ASSERT_TRUE(wait_for(2));
  EXPECT_EQ(passes[1].documents_added, 1u);
  EXPECT_EQ(passes[1].documents_unchanged, 1u);

  fs::remove(root / "one.txt");
  WriteFile(root / "sub/three.txt", "A third file, inside the directory created while watching.");
  ASSERT_TRUE(wait_for(3));
  IngestReport later;  // the changes may land in one pass or two
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, std::chrono::milliseconds(800), [&] { return passes.size() >= 4; });
    for (size_t i = 2; i < passes.size(); ++i) later.Merge(passes[i]);
  }
  EXPECT_EQ(later.documents_deleted, 1u);
  EXPECT_EQ(later.documents_added, 1u);
  stop.request_stop();
  watcher.join();
  EXPECT_TRUE(watch_status.ok()) << watch_status;
  EXPECT_EQ(Ids(), ExpectedIds({"sub/two.md", "sub/three.txt"}));
  EXPECT_FALSE(ingestor_->Watch(root / "sub/two.md", stop.get_token(), {}).ok());
}

TEST_F(IngestorTest, DeleteDocumentRemovesCommittedAndLeftoverChunks) {
  MustIngest({Doc("x", Prose("x", 10)), Doc("y", "keep me")});
  const size_t n = (*ingestor_->GetDocument("x"))->chunk_count;
  ASSERT_GT(n, 2u);
  // A leftover from a crashed run beyond the committed count.
  auto extra = *collection_->Get("x#1");
  ASSERT_TRUE(collection_->Upsert({store::Record{ChunkId("x", n), extra.version, extra.vector, extra.payload.dump()}})
                  .ok());
  auto r = ingestor_->DeleteDocument("x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->documents_deleted, 1u);
  EXPECT_EQ(r->chunks_deleted, n + 1);
  EXPECT_EQ(Ids(), std::set<std::string>{"y#0"});
  auto again = ingestor_->DeleteDocument("x");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->documents_deleted, 0u);
}

TEST_F(IngestorTest, ReportsStageTimings) {
  std::map<std::string, int> seen;
  options_.stage_observer = [&](std::string_view stage, double seconds) {
    EXPECT_GE(seconds, 0.0);
    seen[std::string(stage)]++;
  };
  options_.extract_threads = 2;
  ingestor_ = std::make_unique<Ingestor>(*collection_, *counting_, *tokenizer_, options_);
  MustIngest({Doc("s1", Prose("stages", 5)), Doc("s2", "Tiny.")});
  EXPECT_EQ(seen["extract"], 2);
  EXPECT_EQ(seen["chunk"], 2);
  EXPECT_GE(seen["embed"], 1);
  EXPECT_GE(seen["upsert"], 1);
}

// Issue #13 item 9: a long ingest does not hold up another one, and a
// version committed meanwhile wins over the slower one.
TEST_F(IngestorTest, IngestsRunSideBySideAndTheNewerVersionWins) {
  std::mutex mu;
  std::condition_variable cv;
  bool slow_waiting = false, release = false;
  counting_->gate = [&](std::span<const std::string> texts) {
    bool slow = false;
    for (const auto& t : texts) slow = slow || t.find("glaciers") != std::string::npos;
    if (!slow) return;
    std::unique_lock lock(mu);
    slow_waiting = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  auto slow = std::async(std::launch::async,
                         [&] { return ingestor_->Ingest({Doc("shared", Prose("glaciers", 30))}); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return slow_waiting; }));
  }
  // While the slow call embeds: another document, and a newer version of the same one.
  SourceDocument newer = Doc("shared", Prose("rivers", 3));
  newer.version = 4'000'000'000'000;  // later than any "now" in ms
  auto fast = std::async(std::launch::async, [&] {
    return ingestor_->Ingest({Doc("other", Prose("volcanoes", 3)), newer});
  });
  const bool fast_done = fast.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(fast_done) << "the second ingest waited for the first";
  auto fast_report = fast.get();
  ASSERT_TRUE(fast_report.ok()) << fast_report.status();
  EXPECT_EQ(fast_report->documents_added, 2u);
  auto slow_report = slow.get();
  ASSERT_TRUE(slow_report.ok()) << slow_report.status();
  EXPECT_EQ(slow_report->documents_superseded, 1u);
  auto info = ingestor_->GetDocument("shared");
  ASSERT_TRUE(info.ok() && *info);
  EXPECT_EQ((*info)->version, newer.version);
  EXPECT_EQ(Ids(), ExpectedIds({"shared", "other"}));  // no chunk of the slow version
}

TEST_F(IngestorTest, LimitsFailTheDocumentOrTheWholeCallBeforeEmbedding) {
  options_.limits.max_document_chunks = 4;
  options_.limits.max_document_bytes = 20000;
  OpenCollection(false);
  // Without a call limit, a document over a limit fails alone.
  IngestReport report = MustIngest({Doc("long", Prose("deserts", 40)), Doc("short", Prose("oases", 2)),
                                    Doc("huge", std::string(30000, 'x'))});
  EXPECT_EQ(report.documents_added, 1u);
  ASSERT_EQ(report.failures.size(), 2u);
  for (const auto& f : report.failures) {
    EXPECT_TRUE(f.error.find("max_document_chunks is 4") != std::string::npos ||
                f.error.find("max_document_bytes is 20000") != std::string::npos)
        << f.error;
  }
  // With one (the HTTP route's), the call fails whole, before any embedding.
  options_.limits.max_call_chunks = 6;
  OpenCollection(false);
  counting_->calls = 0;
  const size_t before = collection_->Stats().vector_count;
  for (auto docs :
       {std::vector<SourceDocument>{Doc("a", Prose("tides", 2)), Doc("long", Prose("deserts", 40))},
        std::vector<SourceDocument>{Doc("a", Prose("tides", 6)), Doc("b", Prose("moons", 6)),
                                    Doc("c", Prose("suns", 6))}}) {
    auto r = ingestor_->Ingest(std::move(docs));
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(IsLimitExceeded(r.status())) << r.status();
    EXPECT_NE(r.status().message().find("nothing was ingested"), std::string_view::npos) << r.status();
  }
  EXPECT_EQ(counting_->calls, 0u);
  EXPECT_EQ(collection_->Stats().vector_count, before);
}

TEST_F(IngestorTest, CancellationStopsBetweenBatchesAndLeavesEveryDocumentWhole) {
  std::vector<SourceDocument> docs;
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(StrCat("d", i));
    docs.push_back(Doc(ids.back(), Prose(StrCat("topic ", i), 12)));
  }
  counting_->calls = 0;
  auto r = ingestor_->Ingest(std::move(docs), {}, [&] { return counting_->calls >= 3; });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();
  EXPECT_LE(counting_->calls, 4u) << "it went on embedding after the cancel";
  std::vector<std::string> committed;
  for (const auto& id : ids) {
    auto info = ingestor_->GetDocument(id);
    if (info.ok() && *info) committed.push_back(id);
  }
  EXPECT_LT(committed.size(), ids.size());
  EXPECT_EQ(Ids(), ExpectedIds(committed));  // whole documents, and nothing of the others
}

TEST_F(IngestorTest, RefusesAModelOfAnotherDimension) {
  store::CollectionConfig config;
  config.name = "small";
  config.dim = 8;
  config.index_kind = index::IndexKind::kFlat;
  auto c = store::Collection::Create(*store::Env::Default(), dir_ + "/small", config, pool_);
  ASSERT_TRUE(c.ok());
  Ingestor ingestor(**c, *counting_, *tokenizer_, options_);
  auto r = ingestor.Ingest({Doc("a", "text")});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*c)->Close().ok());
}

TEST(IngestReportTest, MergesAndSerialises) {
  IngestReport a, b;
  a.documents_added = 1;
  a.chunks_upserted = 3;
  b.documents_failed = 1;
  b.failures.push_back({"x", "bad"});
  a.Merge(b);
  json j = a.ToJson();
  EXPECT_EQ(j["documents_added"], 1);
  EXPECT_EQ(j["documents_failed"], 1);
  EXPECT_EQ(j["chunks_upserted"], 3);
  EXPECT_EQ(j["failures"][0]["id"], "x");
  EXPECT_EQ(j["failures"][0]["error"], "bad");
}

TEST(ContentHashTest, IsStableFnv1a64) {
  EXPECT_EQ(ContentHash(""), "cbf29ce484222325");
  EXPECT_EQ(ContentHash("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(ChunkId("dir/file.md", 3), "dir/file.md#3");
}

}  // namespace
}  // namespace ragline::pipeline
