#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "framework/profile/MemoryTracker.h"
#include "framework/store/RunStore.h"

namespace prunelab::profile {

/// Times named stages and records their memory (design.md §7): wall seconds, peak live tensor
/// bytes (tracking CPU allocator; CUDA caching-allocator peak on CUDA builds), the live bytes of
/// each MemoryCategory at that peak, and peak RSS. Stages may nest; an outer stage's peak
/// includes its inner stages.
class Profiler {
 public:
  /// RAII stage: recorded when it goes out of scope (status FAILED if unwinding from an exception).
  class Stage {
   public:
    Stage(Profiler& owner, std::string name);
    ~Stage();
    Stage(Stage&& other) noexcept;
    Stage(const Stage&) = delete;
    Stage& operator=(const Stage&) = delete;
    Stage& operator=(Stage&&) = delete;

   private:
    Profiler* owner_;
    store::StageRecord record_;
    std::chrono::steady_clock::time_point start_;
    PeakSnapshot outerPeak_;
    int uncaught_ = 0;
  };

  /// Installs the tracking allocator if needed.
  Profiler();

  /// Starts a stage; keep the returned object alive for the stage's duration.
  [[nodiscard]] Stage stage(std::string name);

  /// Called with each finished stage (the Runner writes it to the store at once).
  void onRecord(std::function<void(const store::StageRecord&)> callback) { callback_ = std::move(callback); }

  /// Every stage recorded so far, in completion order.
  const std::vector<store::StageRecord>& records() const { return records_; }

  /// True when /proc/self/clear_refs could reset VmHWM (per-stage RSS peaks are exact).
  bool rssResettable() const { return rssResettable_; }

 private:
  void finish(store::StageRecord record);
  std::vector<store::StageRecord> records_;
  std::function<void(const store::StageRecord&)> callback_;
  bool rssResettable_ = false;
  int depth_ = 0;
};

}  // namespace prunelab::profile
