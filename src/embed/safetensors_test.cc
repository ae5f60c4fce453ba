#include "embed/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ragline::embed {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ragline_safetensors_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes raw bytes as dir_/name and returns the path.
  fs::path WriteRaw(const std::string& name, const std::string& bytes) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  // A well-formed file: 8-byte little-endian length, header, data.
  static std::string Build(const std::string& header, const std::string& data) {
    const uint64_t n = header.size();
    std::string out(8, '\0');
    std::memcpy(out.data(), &n, 8);
    return out + header + data;
  }

  static std::string Floats(std::initializer_list<float> values) {
    std::string out(values.size() * 4, '\0');
    size_t i = 0;
    for (float v : values) std::memcpy(out.data() + 4 * (i++), &v, 4);
    return out;
  }

  fs::path dir_;
};

TEST_F(SafetensorsTest, ReadsF32TensorsAndMetadata) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[24,28]}})";
  const fs::path path = WriteRaw("m.safetensors", Build(header, Floats({1, 2, 3, 4, 5, 6, -7})));
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->tensors().size(), 2u);
  const std::vector<size_t> shape = {2, 3};
  auto a = file->ReadFloat32("a", shape);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  const std::vector<size_t> one = {1};
  EXPECT_EQ(*file->ReadFloat32("b", one), std::vector<float>{-7});
}

TEST_F(SafetensorsTest, ConvertsF16AndBF16ToFloat) {
  // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, smallest subnormal 0x0001 = 2^-24.
  // BF16: 1.0 = 0x3f80, -0.5 = 0xbf00, 3.140625 = 0x4049.
  const uint16_t halves[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x3f80, 0xbf00, 0x4049, 0x0000};
  std::string data(sizeof(halves), '\0');
  std::memcpy(data.data(), halves, sizeof(halves));
  const std::string header = R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[8,16]}})";
  auto file = SafetensorsFile::Open(WriteRaw("m.safetensors", Build(header, data)));
  ASSERT_TRUE(file.ok()) << file.status();
  const std::vector<size_t> shape = {4};
  EXPECT_EQ(*file->ReadFloat32("h", shape),
            (std::vector<float>{1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24)}));
  EXPECT_EQ(*file->ReadFloat32("b", shape), (std::vector<float>{1.0f, -0.5f, 3.140625f, 0.0f}));
}

TEST_F(SafetensorsTest, HalfToFloatIsExactForEveryFiniteHalf) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const int exp = (bits >> 10) & 0x1f;
    const int mant = bits & 0x3ff;
    if (exp == 0x1f) continue;
    const float magnitude =
        exp == 0 ? std::ldexp(static_cast<float>(mant), -24) : std::ldexp(1.0f + mant / 1024.0f, exp - 15);
    const float expected = (bits & 0x8000) ? -magnitude : magnitude;
    ASSERT_EQ(HalfToFloat(static_cast<uint16_t>(bits)), expected) << "bits " << bits;
  }
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
}

TEST_F(SafetensorsTest, NamesFileAndTensorForWrongShapeMissingTensorAndIntegerDtype) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                             R"("ids":{"dtype":"I64","shape":[2],"data_offsets":[16,32]}})";
  const fs::path path = WriteRaw("model.safetensors", Build(header, std::string(32, '\0')));
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  const std::vector<size_t> want = {2, 3};
  auto wrong_shape = file->ReadFloat32("w", want);
  EXPECT_EQ(wrong_shape.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_shape.status().message()),
              HasSubstr("model.safetensors: tensor 'w' has shape [2,2], expected [2,3]"));
  auto missing = file->ReadFloat32("nope", want);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("model.safetensors: tensor 'nope' is missing"));
  const std::vector<size_t> two = {2};
  auto integer = file->ReadFloat32("ids", two);
  EXPECT_THAT(std::string(integer.status().message()), HasSubstr("tensor 'ids' has dtype I64"));
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  auto file = SafetensorsFile::Open(dir_ / "absent.safetensors");
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("absent.safetensors"));
}

struct Corruption {
  const char* name;
  std::string bytes;
  std::string expected_message;
};

TEST_F(SafetensorsTest, RejectsEveryCorruptionInTheTableWithAMessageNamingTheFile) {
  const std::string good_header = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string good = Build(good_header, Floats({1, 2}));
  std::string huge_length(8, '\0');
  const uint64_t huge = uint64_t{1} << 40;
  std::memcpy(huge_length.data(), &huge, 8);
  const std::vector<Corruption> table = {
      {"empty", "", "truncated: file has 0 bytes"},
      {"short_length", std::string("\x10\x00\x00", 3), "truncated: file has 3 bytes"},
      {"truncated_header", good.substr(0, 20),
       "truncated: header says " + std::to_string(good_header.size()) + " bytes, file has 20"},
      {"implausible_header_length", huge_length + good_header, "implausible"},
      {"bad_json", Build(R"({"t": {"dtype": "F32",)", ""), "bad JSON header"},
      {"header_not_object", Build("[1,2,3]", ""), "not an object"},
      {"entry_without_offsets", Build(R"({"t":{"dtype":"F32","shape":[2]}})", Floats({1, 2})),
       "tensor 't': entry needs dtype"},
      {"unknown_dtype", Build(R"({"t":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,8]}})", Floats({1, 2})),
       "tensor 't': unknown dtype 'F8_E9'"},
      {"negative_dimension",
       Build(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", Floats({1, 2})),
       "tensor 't': shape has a non-integer or negative dimension"},
      {"offsets_past_end", Build(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", Floats({1})),
       "tensor 't': data_offsets [0, 8] lie outside the data section (4 bytes)"},
      {"offsets_reversed", Build(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", Floats({1, 2})),
       "tensor 't': data_offsets [8, 0] lie outside"},
      {"size_does_not_match_shape",
       Build(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", Floats({1, 2})),
       "tensor 't': 8 bytes of data for F32 shape [3] (expected 12)"},
      {"wrong_dtype_for_size",
       Build(R"({"t":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", Floats({1, 2})),
       "tensor 't': 8 bytes of data for F16 shape [2] (expected 4)"},
      {"metadata_not_strings", Build(R"({"__metadata__":{"format":1}})", ""),
       "__metadata__ value of 'format'"},
  };
  for (const Corruption& c : table) {
    SCOPED_TRACE(c.name);
    const std::string file_name = std::string(c.name) + ".safetensors";
    auto file = SafetensorsFile::Open(WriteRaw(file_name, c.bytes));
    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.status().code(), absl::StatusCode::kDataLoss);
    const std::string message(file.status().message());
    EXPECT_THAT(message, HasSubstr(file_name + ": "));
    EXPECT_THAT(message, HasSubstr(c.expected_message));
  }
}

}  // namespace
}  // namespace ragline::embed
