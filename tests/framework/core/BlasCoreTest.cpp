#include <gtest/gtest.h>

#include <cstdlib>

#include "framework/core/BlasCore.h"

namespace prunelab {
namespace {

TEST(BlasCoreTest, AFallbackBelowAvx2IsAMisdetectionOnlyWhereTheCpuHasAvx2) {
  EXPECT_TRUE(openblasCoreMisdetected("Prescott", "SkylakeX"));
  EXPECT_TRUE(openblasCoreMisdetected("Sandybridge", "Haswell"));
  EXPECT_FALSE(openblasCoreMisdetected("SkylakeX", "SkylakeX"));
  EXPECT_FALSE(openblasCoreMisdetected("Haswell", "SkylakeX")) << "a core with AVX2 kernels is OpenBLAS's own choice";
  EXPECT_FALSE(openblasCoreMisdetected("Zen", "Haswell"));
  EXPECT_FALSE(openblasCoreMisdetected("Prescott", "")) << "an old CPU keeps OpenBLAS's choice";
  EXPECT_FALSE(openblasCoreMisdetected("", "SkylakeX")) << "no OpenBLAS loaded";
}

// The test binary's main() ran ensureBlasCore, as the CLI's does: OpenBLAS must now run kernels
// this CPU supports (on the Emerald Rapids machines here it first picks Prescott).
TEST(BlasCoreTest, ThisProcessRunsTheKernelsItsCpuSupports) {
  const std::string core = openblasCoreName(), best = bestOpenblasCore();
  std::printf("[ info ] OpenBLAS core %s, best for this CPU %s, OPENBLAS_CORETYPE=%s\n", core.c_str(), best.c_str(),
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "(unset)");
  if (std::getenv("PRUNELAB_KEEP_BLAS_CORE") != nullptr) GTEST_SKIP() << "PRUNELAB_KEEP_BLAS_CORE keeps OpenBLAS's choice";
  EXPECT_FALSE(openblasCoreMisdetected(core, best)) << core;
}

TEST(BlasCoreTest, SingleThreadedBlasRestoresTheThreadCount) {
  const int before = openblasThreads();
  if (before == 0) GTEST_SKIP() << "no OpenBLAS loaded";
  {
    SingleThreadedBlas one;
    EXPECT_EQ(openblasThreads(), 1);
  }
  EXPECT_EQ(openblasThreads(), before);
  {
    SingleThreadedBlas off(false);
    EXPECT_EQ(openblasThreads(), before) << "a disabled guard leaves the thread count alone";
  }
  EXPECT_EQ(openblasThreads(), before);
}

}  // namespace
}  // namespace prunelab
