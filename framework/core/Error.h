#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace prunelab {

/// The one exception type of prunelab: what went wrong, and how to fix it.
/// Thrown anywhere below the run boundary; caught once by the Runner (or the CLI).
class Error : public std::runtime_error {
 public:
  Error(std::string message, const char* file, int line)
      : std::runtime_error(std::move(message)), file_(file), line_(line) {}

  /// Source file that raised the error (for logs, not for users).
  const char* file() const { return file_; }
  /// Source line that raised the error.
  int line() const { return line_; }

 private:
  const char* file_;
  int line_;
};

}  // namespace prunelab

/// Throws prunelab::Error with an fmt-formatted message and the source location.
#define PL_THROW(...) throw ::prunelab::Error(::fmt::format(__VA_ARGS__), __FILE__, __LINE__)

/// Throws prunelab::Error unless `cond` holds.
#define PL_CHECK(cond, ...)   \
  do {                        \
    if (!(cond)) {            \
      PL_THROW(__VA_ARGS__);  \
    }                         \
  } while (0)
