// StageTimer: times one stage of a request (embed, search, generate, ...) and,
// when it ends, observes the elapsed seconds into a histogram and logs one
// line with stage, duration_ms, request_id and error_code.
//
//   Histogram& embed_latency = pipeline_latency.WithLabels({"embed"});  // cached
//   {
//     StageTimer timer(&embed_latency, &logger, "embed", request_id);
//     ... if (!status.ok()) timer.SetError(status);
//   }  // observes and logs here
//
// The elapsed time comes from std::chrono::steady_clock. The line goes out at
// `level` (debug by default, so per-stage lines cost nothing in production
// unless asked for), or at warn when an error was set.
//
// Ownership: borrows the histogram and logger (either may be null); both must
// outlive the timer. Thread safety: a StageTimer belongs to one thread; the
// histogram and logger it reports to may be shared.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"
#include "obs/log.h"
#include "obs/metrics.h"

namespace ragline::obs {

class StageTimer {
 public:
  StageTimer(Histogram* histogram, Logger* logger, std::string_view stage, std::string_view request_id = {},
             LogLevel level = LogLevel::kDebug);
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;
  ~StageTimer() { Stop(); }

  // Marks the stage failed: the line is logged at warn with this error code.
  void SetErrorCode(std::string_view code) { error_code_ = code; }
  // As above with the status' canonical code name; no-op for OK.
  void SetError(const Status& status);

  // Seconds since construction (or until Stop()).
  double ElapsedSeconds() const;

  // Observes and logs now instead of at destruction; later calls do nothing.
  // Returns the elapsed seconds.
  double Stop();

 private:
  Histogram* histogram_;
  Logger* logger_;
  std::string stage_;
  std::string request_id_;
  LogLevel level_;
  std::string error_code_;
  std::string error_message_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point end_;
  bool stopped_ = false;
};

}  // namespace ragline::obs
