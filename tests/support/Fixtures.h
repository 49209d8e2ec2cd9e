#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace prunelab::testing {

/// A fresh temporary directory, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// The repository's config folder (experiments/conf).
std::filesystem::path repoConfigDir();

/// Overrides that make a run tiny and self-contained: tiny model and data slice, cache and
/// outputs under `dir`.
std::vector<std::string> tinyRunOverrides(const std::filesystem::path& dir);

/// True when Debian's dataset-fashion-mnist is installed (tests that need it skip otherwise,
/// and say so).
bool haveFashionMnist();

/// A run's metrics without its wall times (time/<stage>/seconds), which differ from run to run:
/// what "same config and seed, same metrics" compares.
inline std::map<std::string, double> withoutTimes(std::map<std::string, double> metrics) {
  for (auto it = metrics.begin(); it != metrics.end();) it = it->first.rfind("time/", 0) == 0 ? metrics.erase(it) : ++it;
  return metrics;
}

/// Result of running the prunelab binary.
struct CommandResult {
  int exitCode = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs the built prunelab binary with `args` (shell-quoted here), capturing its output.
CommandResult runPrunelab(const std::vector<std::string>& args);

/// Shell-quotes one argument.
std::string shellQuote(const std::string& arg);

}  // namespace prunelab::testing
