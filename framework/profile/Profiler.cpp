#include "framework/profile/Profiler.h"

#include <algorithm>
#include <exception>

#include "framework/profile/MemoryTracker.h"

#ifdef PRUNELAB_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <torch/cuda.h>
#endif

namespace prunelab::profile {

namespace {
#ifdef PRUNELAB_CUDA
void cudaResetPeak() {
  if (!torch::cuda::is_available()) return;
  for (int d = 0; d < static_cast<int>(torch::cuda::device_count()); ++d)
    c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<decltype(c10::cuda::current_device())>(d));
}
std::int64_t cudaPeak() {
  if (!torch::cuda::is_available()) return -1;
  torch::cuda::synchronize();
  std::int64_t peak = 0;
  for (int d = 0; d < static_cast<int>(torch::cuda::device_count()); ++d) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(
        static_cast<decltype(c10::cuda::current_device())>(d));
    peak += stats.allocated_bytes[0].peak;
  }
  return peak;
}
#else
void cudaResetPeak() {}
std::int64_t cudaPeak() { return -1; }
#endif
}  // namespace

Profiler::Profiler() {
  MemoryTracker::install();
  rssResettable_ = resetRssPeak();
}

Profiler::Stage Profiler::stage(std::string name) { return Stage(*this, std::move(name)); }

Profiler::Stage::Stage(Profiler& owner, std::string name) : owner_(&owner), uncaught_(std::uncaught_exceptions()) {
  record_.stage = std::move(name);
  record_.startMs = store::nowMs();
  record_.tensorBytesStart = MemoryTracker::currentBytes();
  outerPeak_ = MemoryTracker::resetPeak();
  if (owner.depth_ == 0) {
    resetRssPeak();
    cudaResetPeak();
  }
  ++owner.depth_;
  start_ = std::chrono::steady_clock::now();
}

Profiler::Stage::Stage(Stage&& other) noexcept
    : owner_(other.owner_),
      record_(std::move(other.record_)),
      start_(other.start_),
      outerPeak_(other.outerPeak_),
      uncaught_(other.uncaught_) {
  other.owner_ = nullptr;
}

Profiler::Stage::~Stage() {
  if (!owner_) return;
  record_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  record_.endMs = store::nowMs();
  const PeakSnapshot peak = MemoryTracker::peak();
  record_.peakTensorBytes = peak.bytes;
  for (int c = 1; c < kMemoryCategories; ++c)
    record_.peakByCategory[memoryCategoryName(static_cast<MemoryCategory>(c))] = peak.byCategory[c];
  record_.peakRssBytes = readRss().peak;
  record_.peakCudaBytes = cudaPeak();
  if (std::uncaught_exceptions() > uncaught_) record_.status = "FAILED";
  // The enclosing stage keeps the larger of its own earlier peak and this stage's.
  MemoryTracker::raisePeak(outerPeak_.bytes >= peak.bytes ? outerPeak_ : peak);
  --owner_->depth_;
  try {
    owner_->finish(std::move(record_));
  } catch (...) {
    // A failing store write must not turn into std::terminate during unwinding.
  }
}

void Profiler::finish(store::StageRecord record) {
  records_.push_back(record);
  if (callback_) callback_(records_.back());
}

}  // namespace prunelab::profile
