#include "framework/core/BlasCore.h"

#include <dlfcn.h>
#include <unistd.h>

#include <array>
#include <cstdlib>

namespace prunelab {

std::string openblasCoreName() {
  using CoreName = char* (*)();
  auto* fn = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (fn == nullptr) return "";
  const char* name = fn();
  return name != nullptr ? std::string(name) : std::string();
}

std::string bestOpenblasCore() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

bool openblasCoreMisdetected(const std::string& detected, const std::string& best) {
  if (detected.empty() || best.empty()) return false;
  // The x86-64 cores of OpenBLAS 0.3.21's dynamic build that have AVX2 kernels (names as
  // openblas_get_corename() spells them).
  static const std::array<const char*, 6> withAvx2 = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids",
                                                      "Excavator"};
  for (const char* c : withAvx2)
    if (detected == c) return false;
  return true;
}

void ensureBlasCore(int argc, char** argv) {
  (void)argc;
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || std::getenv("PRUNELAB_KEEP_BLAS_CORE") != nullptr) return;
  const std::string best = bestOpenblasCore();
  if (!openblasCoreMisdetected(openblasCoreName(), best)) return;
  if (setenv("OPENBLAS_CORETYPE", best.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // The exec failed (no /proc): go on with OpenBLAS's own choice; the run records it.
  unsetenv("OPENBLAS_CORETYPE");
}

namespace {
using SetThreads = void (*)(int);
SetThreads setThreadsFn() { return reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")); }
}  // namespace

int openblasThreads() {
  using GetThreads = int (*)();
  auto* fn = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return fn != nullptr ? fn() : 0;
}

SingleThreadedBlas::SingleThreadedBlas(bool enabled) : previous_(enabled ? openblasThreads() : 0) {
  if (auto* set = setThreadsFn(); set != nullptr && previous_ > 1) set(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
  if (auto* set = setThreadsFn(); set != nullptr && previous_ > 1) set(previous_);
}

}  // namespace prunelab
