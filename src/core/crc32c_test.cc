#include "core/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace ragline::crc32c {
namespace {

// Vectors from RFC 3720 B.4 (iSCSI) and leveldb util/crc32c_test.cc.
TEST(Crc32cTest, MatchesKnownVectors) {
  std::string buf(32, '\0');
  EXPECT_EQ(Value(buf), 0x8a9136aau);

  buf.assign(32, '\xff');
  EXPECT_EQ(Value(buf), 0x62a8ab43u);

  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(i);
  EXPECT_EQ(Value(buf), 0x46dd794eu);

  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(Value(buf), 0x113fdb5cu);

  EXPECT_EQ(Value("123456789"), 0xe3069283u);
  EXPECT_EQ(Value(""), 0u);
}

TEST(Crc32cTest, PortablePathMatchesKnownVectors) {
  std::string zeros(32, '\0');
  EXPECT_EQ(ExtendPortable(0, zeros.data(), zeros.size()), 0x8a9136aau);
  EXPECT_EQ(ExtendPortable(0, "123456789", 9), 0xe3069283u);
}

TEST(Crc32cTest, IscsiReadCommandVector) {
  const unsigned char data[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  EXPECT_EQ(Value(std::string_view(reinterpret_cast<const char*>(data), sizeof(data))),
            0xd9963a56u);
}

TEST(Crc32cTest, DiffersForDifferentInputs) {
  EXPECT_NE(Value("a"), Value("foo"));
  EXPECT_NE(Value("a"), Value("b"));
}

TEST(Crc32cTest, ExtendEqualsValueOfConcatenation) {
  EXPECT_EQ(Value("hello world"), Extend(Value("hello "), "world"));
}

TEST(Crc32cTest, HardwareAndPortablePathsAgreeAtEveryLengthAndAlignment) {
  std::mt19937 rng(42);
  std::string data(1024 + 16, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t len = 0; len <= 1024; len += (len < 64 ? 1 : 37)) {
      const char* p = data.data() + offset;
      uint32_t seed = static_cast<uint32_t>(rng());
      ASSERT_EQ(Extend(seed, p, len), ExtendPortable(seed, p, len))
          << "offset " << offset << " len " << len
          << " hardware=" << HardwareAccelerated();
    }
  }
}

TEST(Crc32cTest, MaskRoundTripsAndChangesValue) {
  uint32_t crc = Value("foo");
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
}

}  // namespace
}  // namespace ragline::crc32c
