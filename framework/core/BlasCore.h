#pragma once

#include <string>

namespace prunelab {

/// The kernel family ("core") OpenBLAS runs on, as openblas_get_corename() reports it; "" when
/// no OpenBLAS is loaded (another BLAS, or none).
std::string openblasCoreName();

/// The OpenBLAS core this CPU supports best by its own feature flags: "SkylakeX" (AVX-512
/// F/CD/BW/DQ/VL), "Haswell" (AVX2 + FMA), or "" (older CPUs: OpenBLAS's own choice stands).
std::string bestOpenblasCore();

/// Whether OpenBLAS fell back below what the CPU can run: `detected` is a core without AVX2
/// kernels while `best` (bestOpenblasCore()) is not empty.
bool openblasCoreMisdetected(const std::string& detected, const std::string& best);

/// Call first thing in main(). OpenBLAS 0.3.21 (Debian bookworm) does not know CPUs newer than
/// itself (e.g. Intel model 207, Emerald Rapids) and then runs its SSE3 "Prescott" kernels, about
/// 2.5x slower than its AVX-512 ones on the same machine. OpenBLAS reads OPENBLAS_CORETYPE only when
/// it loads, so when it misdetected, this sets OPENBLAS_CORETYPE to bestOpenblasCore() and re-executes
/// the program (/proc/self/exe, same arguments). It does nothing when OPENBLAS_CORETYPE is already set
/// (a user's choice, or after the re-exec), when PRUNELAB_KEEP_BLAS_CORE is set, or when no OpenBLAS is
/// loaded; if the exec fails, the program goes on as it is. Each run records the core it ran on.
void ensureBlasCore(int argc, char** argv);

/// OpenBLAS's thread count (openblas_get_num_threads()); 0 when no OpenBLAS is loaded.
int openblasThreads();

/// While alive, OpenBLAS runs on one thread (openblas_set_num_threads(1)); the count it had is
/// restored on destruction. For code that runs its own threads side by side, each calling BLAS:
/// OpenBLAS's pool beside them would oversubscribe the cores. Does nothing without OpenBLAS, or
/// when `enabled` is false (for a caller whose own thread count may be 1).
class SingleThreadedBlas {
 public:
  explicit SingleThreadedBlas(bool enabled = true);
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace prunelab
