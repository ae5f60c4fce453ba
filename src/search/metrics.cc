#include "search/metrics.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace ragline::search {
namespace {

int Grade(const Judgments& judgments, const std::string& id) {
  auto it = judgments.find(id);
  return it == judgments.end() ? 0 : it->second;
}

}  // namespace

size_t CountRelevant(const Judgments& judgments) {
  return static_cast<size_t>(
      std::count_if(judgments.begin(), judgments.end(), [](const auto& j) { return j.second > 0; }));
}

double RecallAt(std::span<const std::string> ranked, const Judgments& judgments, size_t k) {
  const size_t relevant = CountRelevant(judgments);
  if (relevant == 0) return 0;
  size_t found = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    if (Grade(judgments, ranked[i]) > 0) ++found;
  }
  return static_cast<double>(found) / static_cast<double>(relevant);
}

double NdcgAt(std::span<const std::string> ranked, const Judgments& judgments, size_t k) {
  std::vector<int> grades;
  for (const auto& [id, grade] : judgments) {
    if (grade > 0) grades.push_back(grade);
  }
  std::sort(grades.begin(), grades.end(), std::greater<>());
  double ideal = 0;
  for (size_t i = 0; i < std::min(k, grades.size()); ++i) ideal += grades[i] / std::log2(static_cast<double>(i) + 2);
  if (ideal == 0) return 0;
  double dcg = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    const int g = Grade(judgments, ranked[i]);
    if (g > 0) dcg += g / std::log2(static_cast<double>(i) + 2);
  }
  return dcg / ideal;
}

double ReciprocalRankAt(std::span<const std::string> ranked, const Judgments& judgments, size_t k) {
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    if (Grade(judgments, ranked[i]) > 0) return 1.0 / static_cast<double>(i + 1);
  }
  return 0;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const size_t index = rank < 1 ? 0 : std::min(values.size(), static_cast<size_t>(rank)) - 1;
  return values[index];
}

}  // namespace ragline::search
