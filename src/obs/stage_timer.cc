#include "obs/stage_timer.h"

namespace ragline::obs {

StageTimer::StageTimer(Histogram* histogram, Logger* logger, std::string_view stage, std::string_view request_id,
                       LogLevel level)
    : histogram_(histogram),
      logger_(logger),
      stage_(stage),
      request_id_(request_id),
      level_(level),
      start_(std::chrono::steady_clock::now()) {}

void StageTimer::SetError(const Status& status) {
  if (status.ok()) return;
  error_code_ = absl::StatusCodeToString(status.code());
  error_message_ = std::string(status.message());
}

double StageTimer::ElapsedSeconds() const {
  const auto end = stopped_ ? end_ : std::chrono::steady_clock::now();
  return std::chrono::duration<double>(end - start_).count();
}

double StageTimer::Stop() {
  if (stopped_) return ElapsedSeconds();
  end_ = std::chrono::steady_clock::now();
  stopped_ = true;
  const double seconds = ElapsedSeconds();
  if (histogram_ != nullptr) histogram_->Observe(seconds);
  if (logger_ != nullptr) {
    const bool failed = !error_code_.empty();
    LogEvent event = logger_->Log(failed ? LogLevel::kWarn : level_, failed ? "stage failed" : "stage finished");
    event.Stage(stage_).DurationMs(seconds * 1000);
    if (!request_id_.empty()) event.RequestId(request_id_);
    if (failed) event.ErrorCode(error_code_);
    if (!error_message_.empty()) event.Field("error", error_message_);
  }
  return seconds;
}

}  // namespace ragline::obs
