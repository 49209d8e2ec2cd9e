#include "tests/support/RunFixture.h"

#include "experiments/App.h"
#include "framework/run/Job.h"

namespace prunelab::testing {

void TinyRunTest::SetUp() {
  if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  app::registerAllPlugins(registries_);
}

std::vector<std::string> TinyRunTest::overrides(const std::vector<std::string>& extra) const {
  auto o = tinyRunOverrides(dir_.path());
  o.insert(o.end(), extra.begin(), extra.end());
  return o;
}

run::RunOutcome TinyRunTest::run(const std::vector<std::string>& extra) {
  run::Runner runner(registries_, store_, {":memory:", PRUNELAB_SOURCE_DIR, false, {}});
  return runner.run(run::prepareJob(composer_, overrides(extra), registries_));
}

}  // namespace prunelab::testing
