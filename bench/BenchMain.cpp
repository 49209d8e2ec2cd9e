#include <benchmark/benchmark.h>

#include "framework/core/BlasCore.h"

int main(int argc, char** argv) {
  prunelab::ensureBlasCore(argc, argv);  // the kernels the CLI runs with (BlasCore.h)
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
