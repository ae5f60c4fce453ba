// Shared by the WAL and segment targets: a small collection (dim 4, HNSW,
// text payloads) is built once per process in a temporary directory: 40
// records sealed into segment 1, then 8 more, deleted and replaced ones
// among them, in the WAL. Each input replaces one of its files; the
// collection is then opened read-only (nothing on disk changes), searched,
// read and closed. Whatever the bytes: no crash, and an open either works
// or is refused with DataLoss (or, for a salvage open, reports gaps).
//
// RAGLINE_FUZZ_SEED_DIR=DIR: write the fixture's file as DIR/seed and exit
// (fuzz/make_seeds.sh makes the committed corpora this way).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "core/thread_pool.h"
#include "fuzz_check.h"
#include "store/collection.h"

namespace fuzz {

namespace fs = std::filesystem;
using namespace ragline;

inline store::Record FixtureRecord(int i, uint64_t version) {
  const float x = static_cast<float>(i);
  return store::Record{absl::StrCat("r", i),
                       version,
                       {1.0f, x, x * x, -x},
                       absl::StrCat(R"({"text": "record )", i, R"( about fuzzing", "n": )", i, "}")};
}

// The fixture's directory, built on first use.
inline const std::string& FixtureDir() {
  static const std::string* dir = [] {
    auto* d =
        new std::string((fs::temp_directory_path() / absl::StrCat("ragline_fuzz_", ::getpid())).string());
    fs::remove_all(*d);
    store::CollectionConfig config;
    config.name = "c";
    config.dim = 4;
    ThreadPool pool(1);
    auto c = store::Collection::Create(*store::Env::Default(), *d + "/c", config, pool);
    FUZZ_CHECK(c.ok(), "%s", c.status().ToString().c_str());
    std::vector<store::Record> first;
    for (int i = 0; i < 40; ++i) first.push_back(FixtureRecord(i, 1));
    FUZZ_CHECK((*c)->Upsert(first).ok(), "upsert");
    FUZZ_CHECK((*c)->Seal().ok() && (*c)->WaitForIndexing().ok(), "seal");
    std::vector<store::Record> more;
    for (int i = 36; i < 44; ++i) more.push_back(FixtureRecord(i, 2));
    FUZZ_CHECK((*c)->Upsert(more).ok(), "upsert");
    const std::string gone[] = {"r1", "r2"};
    FUZZ_CHECK((*c)->Delete(gone).ok(), "delete");
    FUZZ_CHECK((*c)->Close().ok(), "close");
    std::atexit([] { fs::remove_all(FixtureDir()); });
    return d;
  }();
  return *dir;
}

inline void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(out.good(), "writing %s", path.c_str());
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Seed mode (see above): writes `seed` and exits.
inline void MaybeWriteSeed(const std::string& seed) {
  const char* seed_dir = std::getenv("RAGLINE_FUZZ_SEED_DIR");
  if (seed_dir == nullptr) return;
  fs::create_directories(seed_dir);
  WriteFile(std::string(seed_dir) + "/seed", seed);
  std::exit(0);
}

// Opens the fixture read-only and uses what it recovered.
inline void OpenAndUse(bool salvage) {
  static ThreadPool pool(1);
  store::OpenOptions options;
  options.read_only = true;
  options.salvage = salvage;
  auto c = store::Collection::Open(*store::Env::Default(), FixtureDir() + "/c", pool, options);
  if (!c.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(c.status()), "%s", c.status().ToString().c_str());
    return;
  }
  const float query[4] = {1.0f, 0.5f, 0.25f, -0.5f};
  auto dense = (*c)->Search(query, 10, nullptr);
  FUZZ_CHECK(dense.ok(), "%s", dense.status().ToString().c_str());
  auto lexical = (*c)->LexicalSearch("record fuzzing", 10, nullptr);
  FUZZ_CHECK(lexical.ok(), "%s", lexical.status().ToString().c_str());
  for (const auto& hit : *dense)
    FUZZ_CHECK((*c)->Get(hit.id).has_value(), "hit %s not found", hit.id.c_str());
  (void)(*c)->Stats();
  (void)(*c)->Close();
}

}  // namespace fuzz

namespace fuzz {

// The fixture's one file in `subdir` whose name ends with `suffix` (the
// newest, by name, when there are several).
inline std::string FixtureFile(const std::string& subdir, std::string_view suffix) {
  std::string found;
  for (const auto& entry : fs::directory_iterator(FixtureDir() + "/c/" + subdir)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(suffix) && name > found) found = name;
  }
  FUZZ_CHECK(!found.empty(), "no *%s in %s", std::string(suffix).c_str(), subdir.c_str());
  return FixtureDir() + "/c/" + subdir + "/" + found;
}

}  // namespace fuzz
