#include "framework/profile/MemoryTracker.h"

#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/version.h>

namespace prunelab::profile {

namespace {

std::atomic<std::int64_t> gCurrent{0};
std::atomic<std::int64_t> gPeak{0};
std::atomic<bool> gInstalled{false};
std::array<std::atomic<std::int64_t>, kMemoryCategories> gCategory{};
std::array<std::atomic<std::int64_t>, kMemoryCategories> gPeakCategory{};
thread_local MemoryCategory tCategory = MemoryCategory::Other;

CategoryBytes loadAll(const std::array<std::atomic<std::int64_t>, kMemoryCategories>& from) {
  CategoryBytes out{};
  for (int c = 0; c < kMemoryCategories; ++c) out[c] = from[c].load(std::memory_order_relaxed);
  return out;
}

void storePeakSplit(const CategoryBytes& split) {
  for (int c = 0; c < kMemoryCategories; ++c) gPeakCategory[c].store(split[c], std::memory_order_relaxed);
}

// Raises the peak to `value`; the thread that raises it records the category split of that moment.
void raise(std::int64_t value) {
  std::int64_t prev = gPeak.load(std::memory_order_relaxed);
  while (value > prev) {
    if (gPeak.compare_exchange_weak(prev, value, std::memory_order_relaxed)) {
      storePeakSplit(loadAll(gCategory));
      return;
    }
  }
}

// Each block carries a 64-byte header holding its size and category, so the data pointer can double as the
// deleter context: LibTorch's raw_allocate() requires data == context, which rules out wrapping
// another allocator's DataPtr. 64 bytes keep alloc_cpu's 64-byte alignment for the data.
constexpr std::size_t kHeader = 64;

void deleteTracked(void* data) {
  if (data == nullptr) return;
  char* base = static_cast<char*>(data) - kHeader;
  std::int64_t bytes;
  std::int32_t category;
  std::memcpy(&bytes, base, sizeof bytes);
  std::memcpy(&category, base + sizeof bytes, sizeof category);
  gCategory[category].fetch_sub(bytes, std::memory_order_relaxed);
  gCurrent.fetch_sub(bytes, std::memory_order_relaxed);
  c10::free_cpu(base);
}

// LibTorch 2.3 made allocate() non-const and added copy_data(); 1.13 has the const form only.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define PRUNELAB_ALLOC_CONST
#else
#define PRUNELAB_ALLOC_CONST const
#endif

class TrackingAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) PRUNELAB_ALLOC_CONST override {
    char* base = static_cast<char*>(c10::alloc_cpu(n + kHeader));
    const auto bytes = static_cast<std::int64_t>(n);
    const auto category = static_cast<std::int32_t>(tCategory);
    std::memcpy(base, &bytes, sizeof bytes);
    std::memcpy(base + sizeof bytes, &category, sizeof category);
    gCategory[category].fetch_add(bytes, std::memory_order_relaxed);
    raise(gCurrent.fetch_add(bytes, std::memory_order_relaxed) + bytes);
    void* data = base + kHeader;
    return {data, data, &deleteTracked, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &deleteTracked; }

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif
};

std::int64_t readStatusKb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size(), field) == 0 && line.size() > field.size() && line[field.size()] == ':') {
      return std::stoll(line.substr(field.size() + 1)) * 1024;
    }
  }
  return -1;
}

}  // namespace

void MemoryTracker::install() {
  static std::once_flag once;
  std::call_once(once, [] {
    static TrackingAllocator allocator;
    c10::SetCPUAllocator(&allocator, /*priority=*/100);
    gInstalled = true;
  });
}

bool MemoryTracker::installed() { return gInstalled.load(); }
std::int64_t MemoryTracker::currentBytes() { return gCurrent.load(); }
CategoryBytes MemoryTracker::currentByCategory() { return loadAll(gCategory); }

PeakSnapshot MemoryTracker::peak() { return {gPeak.load(), loadAll(gPeakCategory)}; }

PeakSnapshot MemoryTracker::resetPeak() {
  PeakSnapshot previous = peak();
  gPeak.store(gCurrent.load());
  storePeakSplit(loadAll(gCategory));
  return previous;
}

void MemoryTracker::raisePeak(const PeakSnapshot& snapshot) {
  std::int64_t prev = gPeak.load(std::memory_order_relaxed);
  while (snapshot.bytes > prev) {
    if (gPeak.compare_exchange_weak(prev, snapshot.bytes, std::memory_order_relaxed)) {
      storePeakSplit(snapshot.byCategory);
      return;
    }
  }
}

const char* memoryCategoryName(MemoryCategory category) {
  switch (category) {
    case MemoryCategory::Activations: return "activations";
    case MemoryCategory::Gradients: return "gradients";
    case MemoryCategory::Scores: return "scores";
    case MemoryCategory::Statistics: return "statistics";
    default: return "other";
  }
}

MemoryScope::MemoryScope(MemoryCategory category) : previous_(tCategory) { tCategory = category; }
MemoryScope::~MemoryScope() { tCategory = previous_; }

RssInfo readRss() { return {readStatusKb("VmRSS"), readStatusKb("VmHWM")}; }

bool resetRssPeak() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace prunelab::profile
