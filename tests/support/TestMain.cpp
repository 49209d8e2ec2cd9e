#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "framework/core/BlasCore.h"

// Tests named *_CUDA need a GPU; without one they are filtered out (PyTorch's test/cpp convention).
int main(int argc, char** argv) {
  prunelab::ensureBlasCore(argc, argv);  // the kernels the CLI runs with (BlasCore.h)
  ::testing::InitGoogleTest(&argc, argv);
  if (!torch::cuda::is_available()) {
    std::string filter = ::testing::GTEST_FLAG(filter);
    filter += (filter.find('-') == std::string::npos ? "-" : ":") + std::string("*_CUDA");
    ::testing::GTEST_FLAG(filter) = filter;
  }
  return RUN_ALL_TESTS();
}
