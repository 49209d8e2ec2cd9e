#include "framework/core/Threads.h"

#include <exception>
#include <thread>
#include <vector>

namespace prunelab {

void runOnThreads(std::int64_t n, const std::function<void(std::int64_t)>& fn) {
  if (n <= 1) {
    if (n == 1) fn(0);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
  const auto guarded = [&](std::int64_t i) {
    try {
      fn(i);
    } catch (...) {
      errors[static_cast<std::size_t>(i)] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n - 1));
  for (std::int64_t i = 1; i < n; ++i) threads.emplace_back(guarded, i);
  guarded(0);
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace prunelab
