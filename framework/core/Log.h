#pragma once

#include <filesystem>
#include <string>

#include <fmt/format.h>

namespace prunelab {

/// Writes a timestamped line to stderr and, while a run is active, to its log file.
void logLine(const std::string& level, const std::string& message);

/// Directs log lines (and progress summaries) also into `path` (appending); empty path stops it.
void setLogFile(const std::filesystem::path& path);

/// Informational line.
template <class... A>
void logInfo(fmt::format_string<A...> f, A&&... args) {
  logLine("info", fmt::format(f, std::forward<A>(args)...));
}

/// Warning line.
template <class... A>
void logWarn(fmt::format_string<A...> f, A&&... args) {
  logLine("warn", fmt::format(f, std::forward<A>(args)...));
}

/// Error line (the error is still thrown or recorded by the caller).
template <class... A>
void logError(fmt::format_string<A...> f, A&&... args) {
  logLine("error", fmt::format(f, std::forward<A>(args)...));
}

}  // namespace prunelab
