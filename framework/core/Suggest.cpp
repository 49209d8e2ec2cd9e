#include "framework/core/Suggest.h"

#include <algorithm>
#include <numeric>

#include "framework/core/Error.h"

namespace prunelab {

std::size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  std::iota(prev.begin(), prev.end(), 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> nearestNames(const std::string& name, const std::vector<std::string>& candidates,
                                      std::size_t maxResults) {
  const std::size_t limit = std::max<std::size_t>(2, name.size() / 3);
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const auto& c : candidates) {
    std::size_t d = editDistance(name, c);
    if (d > 0 && d <= limit) scored.emplace_back(d, c);  // the name itself is no suggestion
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (const auto& s : scored) {
    if (out.size() >= maxResults) break;
    out.push_back(s.second);
  }
  return out;
}

std::string quotedList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += "'" + n + "'";
  }
  return out;
}

std::string didYouMean(const std::string& name, const std::vector<std::string>& candidates) {
  auto near = nearestNames(name, candidates);
  if (near.empty()) return "";
  if (near.size() == 1) return " (did you mean '" + near[0] + "'?)";
  return " (did you mean one of " + quotedList(near) + "?)";
}

void checkOneOf(const std::string& key, const std::string& value, const std::vector<std::string>& allowed) {
  PL_CHECK(std::find(allowed.begin(), allowed.end(), value) != allowed.end(), "{} '{}' is not supported{}; use {}", key,
           value, didYouMean(value, allowed), quotedList(allowed));
}

}  // namespace prunelab
