#include "cli/io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace ragline::cli {
namespace {

// A pipe whose write end the test feeds; the read end goes to PumpLines.
class Pipe {
 public:
  Pipe() { EXPECT_EQ(::pipe(fds_), 0); }
  ~Pipe() {
    CloseWriter();
    ::close(fds_[0]);
  }
  int reader() const { return fds_[0]; }
  void Write(const std::string& s) {
    ASSERT_EQ(::write(fds_[1], s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  void CloseWriter() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
  }

 private:
  int fds_[2] = {-1, -1};
};

// Records what PumpLines did: the batches flushed, lines numbered.
struct Batches {
  std::vector<std::string> pending;
  std::vector<std::vector<std::string>> flushed;
  std::vector<size_t> line_numbers;
  size_t batch_size = 2;

  Status Pump(int fd, int idle_ms = 50) {
    return PumpLines(
        fd, idle_ms,
        [&](std::string& line, size_t line_no) -> Status {
          line_numbers.push_back(line_no);
          if (line == "bad") return absl::InvalidArgumentError("line " + std::to_string(line_no) + ": bad");
          pending.push_back(line);
          return absl::OkStatus();
        },
        [&] { return pending.size() >= batch_size; },
        [&]() -> Status {
          if (!pending.empty()) flushed.push_back(std::move(pending));
          pending.clear();
          return absl::OkStatus();
        });
  }
};

TEST(PumpLinesTest, FlushesFullBatchesAndTheRestAtTheEnd) {
  Pipe pipe;
  pipe.Write("a\nb\nc\nd\ne");  // the last line has no newline
  pipe.CloseWriter();
  Batches b;
  ASSERT_TRUE(b.Pump(pipe.reader()).ok());
  ASSERT_EQ(b.flushed.size(), 3u);
  EXPECT_EQ(b.flushed[0], (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(b.flushed[1], (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(b.flushed[2], (std::vector<std::string>{"e"}));
  EXPECT_EQ(b.line_numbers, (std::vector<size_t>{1, 2, 3, 4, 5}));
}

TEST(PumpLinesTest, BadLineFlushesTheLinesBeforeItAndStops) {
  Pipe pipe;
  pipe.Write("a\nbad\nc\n");
  pipe.CloseWriter();
  Batches b;
  b.batch_size = 10;
  Status st = b.Pump(pipe.reader());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "line 2: bad");
  ASSERT_EQ(b.flushed.size(), 1u);
  EXPECT_EQ(b.flushed[0], (std::vector<std::string>{"a"}));
  EXPECT_EQ(b.line_numbers, (std::vector<size_t>{1, 2}));  // nothing read past the bad line
}

TEST(PumpLinesTest, IdleInputFlushesAPartialBatch) {
  Pipe pipe;
  Batches b;
  b.batch_size = 100;
  std::thread producer([&] {
    pipe.Write("a\nb\n");
    // A paused producer: the two lines must be flushed while the pipe stays open.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    pipe.Write("c\n");
    pipe.CloseWriter();
  });
  ASSERT_TRUE(b.Pump(pipe.reader(), /*idle_ms=*/20).ok());
  producer.join();
  ASSERT_EQ(b.flushed.size(), 2u);
  EXPECT_EQ(b.flushed[0], (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(b.flushed[1], (std::vector<std::string>{"c"}));
}

TEST(PumpLinesTest, FlushErrorStopsAtOnce) {
  Pipe pipe;
  pipe.Write("a\nb\nc\n");
  pipe.CloseWriter();
  size_t lines = 0;
  Status st = PumpLines(
      pipe.reader(), 50,
      [&](std::string&, size_t) -> Status {
        ++lines;
        return absl::OkStatus();
      },
      [] { return true; }, [] { return absl::UnavailableError("disk full"); });
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(lines, 1u);
}

TEST(PumpLinesTest, ReadErrorIsReported) {
  const int dir = ::open("/", O_RDONLY | O_DIRECTORY);  // read() fails with EISDIR
  ASSERT_GE(dir, 0);
  Batches b;
  Status st = b.Pump(dir);
  ::close(dir);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(st.message()).find("reading input"), std::string::npos);
}

}  // namespace
}  // namespace ragline::cli
