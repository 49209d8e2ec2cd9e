#include "framework/core/Interrupt.h"

#include <atomic>
#include <csignal>

#include <fmt/format.h>

namespace prunelab {

namespace {
std::atomic<int> gPending{0};

extern "C" void onSignal(int sig) {
  if (gPending.load() == sig) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  gPending.store(sig);
}
}  // namespace

Interrupted::Interrupted(int signal, const char* file, int line)
    : Error(fmt::format("interrupted by signal {} ({})", signal,
                        signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "other"),
            file, line),
      signal_(signal) {}

void installInterruptHandlers() {
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
}

void requestInterrupt(int signal) { gPending.store(signal); }

void clearInterrupt() { gPending.store(0); }

int pendingInterrupt() { return gPending.load(); }

void throwIfInterrupted() {
  const int sig = gPending.load();
  if (sig != 0) throw Interrupted(sig, __FILE__, __LINE__);
}

}  // namespace prunelab
