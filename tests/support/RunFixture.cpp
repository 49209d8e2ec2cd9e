#include "tests/support/RunFixture.h"

#include "experiments/App.h"
#include "framework/run/Job.h"

namespace prunelab::testing {

void TinyRunTest::SetUp() {
  if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  app::registerAllPlugins(registries_);
}

run::RunOutcome TinyRunTest::run(const std::vector<std::string>& extra) {
  auto o = tinyRunOverrides(dir_.path());
  o.insert(o.end(), extra.begin(), extra.end());
  run::Runner runner(registries_, store_, {":memory:", PRUNELAB_SOURCE_DIR, false, {}});
  return runner.run(run::prepareJob(composer_, o, registries_));
}

}  // namespace prunelab::testing
