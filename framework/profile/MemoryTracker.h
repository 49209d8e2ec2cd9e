#pragma once

#include <array>
#include <cstdint>

namespace prunelab::profile {

/// What a live tensor byte is for, so that a stage's peak can be broken down (issue 5's memory
/// comparison of zeroth- vs first-order scoring). Code tags its allocations with a MemoryScope;
/// untagged allocations are `Other`. Model weights are not a category: they are allocated before
/// pruning starts, and the Runner reports them from the parameter sizes.
enum class MemoryCategory : int {
  Other = 0,
  Activations,  ///< calibration inputs, captured block inputs, activations a forward keeps
  Gradients,    ///< everything a backward pass allocates (weight and activation gradients)
  Scores,       ///< accumulated importance scores and score matrices
  Statistics,   ///< input statistics of the fine step (Wanda's norms, SparseGPT's Hessian)
  Count
};
constexpr int kMemoryCategories = static_cast<int>(MemoryCategory::Count);
/// "other", "activations", "gradients", "scores", "statistics".
const char* memoryCategoryName(MemoryCategory category);

/// Tags the CPU tensor allocations made by this thread while it lives (scopes nest; the innermost
/// wins). Allocations of LibTorch's intra-op worker threads keep their own thread's tag (`Other`);
/// in the tagged regions of prunelab they are small temporaries.
class MemoryScope {
 public:
  explicit MemoryScope(MemoryCategory category);
  ~MemoryScope();
  MemoryScope(const MemoryScope&) = delete;
  MemoryScope& operator=(const MemoryScope&) = delete;

 private:
  MemoryCategory previous_;
};

/// Live bytes per category.
using CategoryBytes = std::array<std::int64_t, kMemoryCategories>;

/// A peak and the live bytes of each category at the moment it was reached. Under concurrent
/// allocation from several threads the split is approximate (the total is exact).
struct PeakSnapshot {
  std::int64_t bytes = 0;
  CategoryBytes byCategory{};
};

/// Counts live CPU tensor bytes by wrapping LibTorch's CPU allocator (c10::SetCPUAllocator).
/// Tensors allocated before install() are not counted. The peak can be reset per stage; nested
/// stages keep the outer stage's peak correct (see Profiler).
class MemoryTracker {
 public:
  /// Installs the tracking allocator once per process (idempotent, thread-safe).
  static void install();
  /// True once install() ran.
  static bool installed();
  /// Live bytes of tensors allocated through the tracker.
  static std::int64_t currentBytes();
  /// Live bytes per category.
  static CategoryBytes currentByCategory();
  /// Peak live bytes since the last resetPeak(), with the category split at that moment.
  static PeakSnapshot peak();
  static std::int64_t peakBytes() { return peak().bytes; }
  /// Sets the peak to the current live bytes and returns the previous peak.
  static PeakSnapshot resetPeak();
  /// Raises the peak to `snapshot` if it is higher (restoring an outer stage's peak after a nested one).
  static void raisePeak(const PeakSnapshot& snapshot);
};

/// Resident-set figures of this process from /proc/self/status (bytes; -1 when unavailable).
struct RssInfo {
  std::int64_t current = -1;  ///< VmRSS
  std::int64_t peak = -1;     ///< VmHWM
};
RssInfo readRss();

/// Resets VmHWM to the current RSS by writing 5 to /proc/self/clear_refs; false when not allowed
/// (then per-stage RSS peaks are process peaks so far, as documented in the stage record).
bool resetRssPeak();

}  // namespace prunelab::profile
