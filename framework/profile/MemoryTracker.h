#pragma once

#include <cstdint>

namespace prunelab::profile {

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
  /// Peak live bytes since the last resetPeak().
  static std::int64_t peakBytes();
  /// Sets the peak to the current live bytes and returns the previous peak.
  static std::int64_t resetPeak();
  /// Raises the peak to at least `bytes` (restoring an outer stage's peak after a nested one).
  static void raisePeak(std::int64_t bytes);
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
