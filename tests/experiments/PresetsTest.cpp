#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "experiments/App.h"
#include "framework/config/Composer.h"
#include "framework/run/Job.h"
#include "tests/support/Fixtures.h"

namespace prunelab {
namespace {

// Every shipped preset must compose and validate (prepareJob parses each plugin's options, so a
// misspelt key or a bad value in a preset fails here, not an hour into a sweep).
class PresetsTest : public ::testing::Test {
 protected:
  void SetUp() override { app::registerAllPlugins(registries_); }

  // prepareJob on `overrides`; the failure message names the preset and the error.
  void expectValid(const std::vector<std::string>& overrides, const std::string& what) {
    try {
      run::prepareJob(composer_, overrides, registries_);
    } catch (const std::exception& e) {
      std::string joined;
      for (const auto& o : overrides) joined += " " + o;
      ADD_FAILURE() << what << ":" << joined << ": " << e.what();
    }
  }

  run::Registries registries_;
  config::Composer composer_{testing::repoConfigDir()};
};

TEST_F(PresetsTest, EveryPrunerPresetValidates) {
  const auto presets = composer_.groupOptions("pruner");
  ASSERT_GE(presets.size(), 10u);
  for (const auto& p : presets) expectValid({"pruner=" + p}, "pruner preset " + p);
}

TEST_F(PresetsTest, EveryJobOfEveryExperimentPresetValidates) {
  const auto experiments = composer_.groupOptions("experiment");
  ASSERT_GE(experiments.size(), 2u);
  for (const auto& e : experiments) {
    const std::vector<std::string> base = {"+experiment=" + e};
    const auto composed = composer_.compose(base).config;
    std::vector<std::vector<std::string>> jobs = config::expandSweep(run::configSweepParams(composed));
    for (const auto& extra : run::configSweepExtras(composed)) jobs.push_back(extra);
    if (jobs.empty()) jobs.push_back({});
    for (auto job : jobs) {
      job.insert(job.begin(), base.begin(), base.end());
      expectValid(job, "experiment preset " + e);
    }
  }
}

}  // namespace
}  // namespace prunelab
