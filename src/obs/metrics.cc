#include "obs/metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/strings.h"

namespace ragline::obs {
namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "ragline obs: %s\n", message.c_str());
  std::abort();
}

std::string_view MessageOf(const Status& status) {
  return std::string_view(status.message().data(), status.message().size());
}

bool IsNameStart(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}
bool IsNameChar(char c, bool allow_colon) { return IsNameStart(c, allow_colon) || (c >= '0' && c <= '9'); }

bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty() || !IsNameStart(name[0], allow_colon)) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return IsNameChar(c, allow_colon); });
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Replaces each invalid byte with U+FFFD.
std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

void AppendEscapedHelp(std::string* out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

void AppendEscapedLabelValue(std::string* out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '"') {
      out->append("\\\"");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

// Appends `{a="x",b="y"}` (or nothing for no labels) plus an optional `le`.
void AppendLabels(std::string* out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                  std::string_view le = {}) {
  if (names.empty() && le.empty()) return;
  out->push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append(names[i]);
    out->append("=\"");
    AppendEscapedLabelValue(out, values[i]);
    out->push_back('"');
  }
  if (!le.empty()) {
    if (!names.empty()) out->push_back(',');
    out->append("le=\"");
    out->append(le);
    out->push_back('"');
  }
  out->push_back('}');
}

void AppendSample(std::string* out, std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& label_names, const std::vector<std::string>& values,
                  std::string_view value_text, std::string_view le = {}) {
  out->append(name);
  out->append(suffix);
  AppendLabels(out, label_names, values, le);
  out->push_back(' ');
  out->append(value_text);
  out->push_back('\n');
}

}  // namespace

Status ValidateMetricName(std::string_view name) {
  if (!IsValidName(name, /*allow_colon=*/true)) {
    return absl::InvalidArgumentError(
        StrCat("invalid metric name '", name, "': must match [a-zA-Z_:][a-zA-Z0-9_:]*"));
  }
  return absl::OkStatus();
}

Status ValidateLabelName(std::string_view name) {
  if (!IsValidName(name, /*allow_colon=*/false)) {
    return absl::InvalidArgumentError(StrCat("invalid label name '", name, "': must match [a-zA-Z_][a-zA-Z0-9_]*"));
  }
  if (name.starts_with("__")) {
    return absl::InvalidArgumentError(StrCat("label name '", name, "' is reserved (starts with \"__\")"));
  }
  return absl::OkStatus();
}

Status ValidateBuckets(std::span<const double> upper_bounds) {
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i])) {
      return absl::InvalidArgumentError(
          StrCat("bucket bound ", i, " is not finite (the +Inf bucket is implicit)"));
    }
    if (i > 0 && !(upper_bounds[i] > upper_bounds[i - 1])) {
      return absl::InvalidArgumentError(StrCat("bucket bounds must be strictly increasing: bound ", i, " (",
                                               upper_bounds[i], ") <= bound ", i - 1, " (",
                                               upper_bounds[i - 1], ")"));
    }
  }
  return absl::OkStatus();
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 0) {
    Die(StrCat("ExponentialBuckets(", start, ", ", factor, ", ", count, "): need start > 0, factor > 1, count >= 0"));
  }
  std::vector<double> bounds;
  bounds.reserve(count);
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

std::string FormatPrometheusValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Go's 'g' with the shortest precision uses the exponent form when the
  // decimal exponent is < -4 or >= 6 ("1e+06", "5e-05"), else fixed ("0.0005").
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  std::string_view text(buf, sci.ptr - buf);
  int exponent = 0;
  size_t e = text.find('e');
  std::from_chars(text.data() + e + 1 + (text[e + 1] == '+' ? 1 : 0), text.data() + text.size(), exponent);
  if (exponent < -4 || exponent >= 6) return std::string(text);
  auto fixed = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// ---- Counter, Histogram

void Counter::Increment(double amount) {
  assert(amount >= 0 && "counters only go up");
  if (!(amount >= 0)) return;  // negative or NaN
  fractional_.fetch_add(amount, std::memory_order_relaxed);
}

double Counter::Value() const {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) + fractional_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::span<const double> upper_bounds)
    : upper_bounds_(upper_bounds), counts_(new std::atomic<uint64_t>[upper_bounds.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // First bound >= value (le is inclusive); NaN compares false everywhere and
  // falls through to +Inf. Bucket lists are short, so a linear scan wins.
  size_t i = 0;
  while (i < upper_bounds_.size() && !(value <= upper_bounds_[i])) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.upper_bounds.assign(upper_bounds_.begin(), upper_bounds_.end());
  snapshot.cumulative_counts.resize(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts[i] = running;
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

// ---- Families

namespace metrics_internal {

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}

void FamilyBase::CheckArity(size_t num_values) const {
  if (num_values != label_names_.size()) {
    Die(StrCat("metric ", name_, " has ", label_names_.size(), " label(s) but WithLabels got ", num_values,
               " value(s)"));
  }
}

}  // namespace metrics_internal

template <typename Child>
Family<Child>::Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                      std::vector<double> upper_bounds)
    : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {
  if (this->label_names().empty()) {
    std::lock_guard lock(mu_);
    Insert({});
  }
}

template <typename Child>
Child& Family<Child>::Insert(std::vector<std::string> values) {
  std::unique_ptr<Child> child;
  if constexpr (std::is_same_v<Child, Histogram>) {
    child = std::make_unique<Histogram>(upper_bounds_);
  } else {
    child = std::make_unique<Child>();
  }
  Child& ref = *child;
  children_.emplace(std::move(values), std::move(child));
  return ref;
}

template <typename Child>
Child& Family<Child>::WithLabels(std::span<const std::string_view> values) {
  CheckArity(values.size());
  const bool valid = std::all_of(values.begin(), values.end(), IsValidUtf8);
  std::vector<std::string> sanitized;
  if (!valid) {
    for (std::string_view v : values) sanitized.push_back(SanitizeUtf8(v));
  }
  std::lock_guard lock(mu_);
  if (valid) {
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
    return Insert(std::vector<std::string>(values.begin(), values.end()));
  }
  auto it = children_.find(sanitized);
  if (it != children_.end()) return *it->second;
  return Insert(std::move(sanitized));
}

template <typename Child>
Child& Family<Child>::WithLabels(const std::vector<std::string>& values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  return WithLabels(std::span<const std::string_view>(views));
}

template <typename Child>
void Family<Child>::AppendText(std::string* out) const {
  std::lock_guard lock(mu_);
  if (children_.empty()) return;
  out->append("# HELP ");
  out->append(name());
  out->push_back(' ');
  AppendEscapedHelp(out, help());
  out->append("\n# TYPE ");
  out->append(name());
  out->push_back(' ');
  out->append(MetricTypeName(type()));
  out->push_back('\n');
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<Child, Histogram>) {
      Histogram::Snapshot s = child->Read();
      for (size_t i = 0; i < s.cumulative_counts.size(); ++i) {
        std::string le = i < s.upper_bounds.size() ? FormatPrometheusValue(s.upper_bounds[i]) : "+Inf";
        AppendSample(out, name(), "_bucket", label_names(), values, StrCat(s.cumulative_counts[i]), le);
      }
      AppendSample(out, name(), "_sum", label_names(), values, FormatPrometheusValue(s.sum));
      AppendSample(out, name(), "_count", label_names(), values, StrCat(s.count));
    } else {
      AppendSample(out, name(), "", label_names(), values, FormatPrometheusValue(child->Value()));
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Registry

template <typename Child>
Family<Child>& MetricsRegistry::Register(std::string_view name, std::string_view help, MetricType type,
                                         std::vector<std::string> label_names, std::vector<double> upper_bounds) {
  const auto fail = [&](std::string_view why) { Die(StrCat("cannot register metric '", name, "': ", why)); };
  if (Status s = ValidateMetricName(name); !s.ok()) fail(MessageOf(s));
  for (size_t i = 0; i < label_names.size(); ++i) {
    if (Status s = ValidateLabelName(label_names[i]); !s.ok()) fail(MessageOf(s));
    if (type == MetricType::kHistogram && label_names[i] == "le") fail("label name 'le' is reserved for histograms");
    for (size_t j = 0; j < i; ++j) {
      if (label_names[j] == label_names[i]) fail(StrCat("label name '", label_names[i], "' appears twice"));
    }
  }
  if (Status s = ValidateBuckets(upper_bounds); !s.ok()) fail(MessageOf(s));

  std::lock_guard lock(mu_);
  if (auto it = families_.find(name); it != families_.end()) {
    auto* existing = dynamic_cast<Family<Child>*>(it->second.get());
    if (existing == nullptr || existing->type() != type) {
      fail(StrCat("already registered as a ", MetricTypeName(it->second->type())));
    }
    if (existing->label_names() != label_names) fail("already registered with other label names");
    if (existing->upper_bounds() != upper_bounds) fail("already registered with other buckets");
    return *existing;
  }
  // A histogram `h` also writes h_bucket, h_sum and h_count: keep those free.
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (type == MetricType::kHistogram && families_.contains(StrCat(name, suffix))) {
      fail(StrCat("its histogram series would collide with metric '", name, suffix, "'"));
    }
    if (name.ends_with(suffix)) {
      auto it = families_.find(name.substr(0, name.size() - suffix.size()));
      if (it != families_.end() && it->second->type() == MetricType::kHistogram) {
        fail(StrCat("it collides with a series of histogram '", it->first, "'"));
      }
    }
  }
  auto family = std::make_unique<Family<Child>>(std::string(name), std::string(help), type, std::move(label_names),
                                                std::move(upper_bounds));
  Family<Child>& ref = *family;
  families_.emplace(std::string(name), std::move(family));
  return ref;
}

CounterFamily& MetricsRegistry::Counter(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names) {
  return Register<obs::Counter>(name, help, MetricType::kCounter, std::move(label_names), {});
}

GaugeFamily& MetricsRegistry::Gauge(std::string_view name, std::string_view help,
                                    std::vector<std::string> label_names) {
  return Register<obs::Gauge>(name, help, MetricType::kGauge, std::move(label_names), {});
}

HistogramFamily& MetricsRegistry::Histogram(std::string_view name, std::string_view help,
                                            std::vector<std::string> label_names, std::vector<double> upper_bounds) {
  return Register<obs::Histogram>(name, help, MetricType::kHistogram, std::move(label_names),
                                  std::move(upper_bounds));
}

std::string MetricsRegistry::ExposeText() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) family->AppendText(&out);
  return out;
}

MetricsRegistry& DefaultMetricsRegistry() {
  static MetricsRegistry* registry = new MetricsRegistry();  // never destroyed: usable during exit
  return *registry;
}

}  // namespace ragline::obs
