#include "framework/core/Progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "framework/core/Interrupt.h"
#include "framework/core/Log.h"

namespace prunelab {

Progress::Progress(std::string label, std::int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      tty_(isatty(fileno(stderr)) == 1),
      start_(std::chrono::steady_clock::now()),
      lastDraw_(start_) {}

Progress::~Progress() {
  if (!finished_ && done_ > 0) {
    try {
      finish();
    } catch (...) {
    }
  }
}

std::string Progress::formatDuration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

void Progress::advance(std::int64_t n, const std::string& note) {
  done_ += n;
  if (!note.empty()) note_ = note;
  throwIfInterrupted();
  const auto now = std::chrono::steady_clock::now();
  const double sinceDraw = std::chrono::duration<double>(now - lastDraw_).count();
  const double fraction = total_ > 0 ? static_cast<double>(done_) / total_ : 0.0;
  if (done_ >= total_) return;  // finish() prints the closing line
  if (tty_ ? sinceDraw >= 0.1 : (fraction - lastFraction_ >= 0.25 || sinceDraw >= 30.0)) {
    draw(false);
    lastDraw_ = now;
    lastFraction_ = fraction;
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  const double eta = rate > 0 && total_ > done_ ? (total_ - done_) / rate : 0.0;
  const int pct = total_ > 0 ? static_cast<int>(100.0 * done_ / total_) : 100;
  std::string line = fmt::format("{} {}/{} ({}%) {:.1f} {}/s {} {}{}", label_, done_, total_, pct, rate, unit_,
                                 final ? "in" : "ETA", Progress::formatDuration(final ? elapsed : eta),
                                 note_.empty() ? "" : "  " + note_);
  if (tty_) {
    if (final) {
      std::fputs("\r\033[K", stderr);
      logLine("progress", line);  // the final summary stays on screen and goes to the run log
    } else {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      std::fflush(stderr);
    }
  } else {
    logLine("progress", line);
  }
}

}  // namespace prunelab
