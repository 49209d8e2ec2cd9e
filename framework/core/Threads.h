#pragma once

#include <cstdint>
#include <functional>

namespace prunelab {

/// Runs fn(0), ..., fn(n - 1) at once, fn(0) on the calling thread and each other index on a
/// thread of its own, and returns when all have returned. If any threw, the exception of the
/// lowest index is rethrown (after every thread has finished). n <= 1 runs fn(0) inline.
/// Thread-local state does not carry over: a new thread starts with LibTorch's defaults (gradients
/// on), whatever guards the caller holds.
void runOnThreads(std::int64_t n, const std::function<void(std::int64_t)>& fn);

}  // namespace prunelab
