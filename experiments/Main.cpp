#include "experiments/App.h"
#include "framework/core/BlasCore.h"

int main(int argc, char** argv) {
  prunelab::ensureBlasCore(argc, argv);
  return prunelab::app::runCli(argc, argv);
}
