#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace prunelab {

/// A progress line for long loops: done/total, rate and ETA on stderr. On a terminal it is redrawn
/// in place (at most 10 times a second); otherwise (CI logs, files) a line is printed only every
/// 25% or 30 s, so logs stay short. Every update also checks for SIGINT/SIGTERM (throws Interrupted).
class Progress {
 public:
  /// `label` names the loop ("train mlp"), `total` the number of steps, `unit` the step name.
  Progress(std::string label, std::int64_t total, std::string unit = "it");
  ~Progress();

  /// Advances by `n` steps; `note` (e.g. "loss 0.31") is shown after the counters.
  void advance(std::int64_t n = 1, const std::string& note = "");
  /// Prints the final line (called by the destructor if not called before).
  void finish();

  /// "1:02:03" / "2:03" formatting of seconds, for ETA and elapsed time.
  static std::string formatDuration(double seconds);

 private:
  void draw(bool final);

  std::string label_, unit_, note_;
  std::int64_t total_, done_ = 0;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, lastDraw_;
  double lastFraction_ = 0.0;
};

}  // namespace prunelab
