#include <gtest/gtest.h>

#include <algorithm>
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

// `prunelab train model=mini_blip2` needs no dataset=...: each FashionScenes model preset picks the
// scenes it is trained on (the tiny ones the tiny scenes), and the command line still overrides it.
TEST_F(PresetsTest, EachSceneModelPresetPicksItsDataset) {
  std::size_t checked = 0;
  for (const auto& p : composer_.groupOptions("model")) {
    const auto composed = composer_.compose({"model=" + p});
    const std::string type = composed.config["model"]["type"].Scalar();
    if (type == "mlp") {
      EXPECT_EQ(composed.choices.at("dataset"), "fashion_mnist") << p;
      continue;
    }
    const bool tiny = p.size() > 5 && p.compare(p.size() - 5, 5, "_tiny") == 0;
    EXPECT_EQ(composed.choices.at("dataset"), tiny ? "fashion_scenes_tiny" : "fashion_scenes") << p;
    expectValid({"model=" + p}, "model preset " + p + " alone");
    ++checked;
  }
  EXPECT_GE(checked, 8u);
  EXPECT_EQ(composer_.compose({"model=mini_blip2", "dataset=fashion_scenes_tiny"}).choices.at("dataset"),
            "fashion_scenes_tiny");
}

// The preset named after a model or dataset type holds every option that type declares, so each
// documented option is overridable as `model.key=value` (an override of a key missing from the
// composed config is refused and would need `+model.key=...`).
TEST_F(PresetsTest, ThePresetNamedAfterATypeListsEveryOption) {
  auto check = [&](const std::string& group, const auto& registry, std::size_t minimum) {
    std::size_t checked = 0;
    const auto presets = composer_.groupOptions(group);
    for (const auto& name : registry.names()) {
      if (std::find(presets.begin(), presets.end(), name) == presets.end()) continue;
      const auto node = composer_.compose({group + "=" + name}).config[group];
      ++checked;
      for (const auto& help : registry.entry(name).help()) {
        const auto top = help.key.substr(0, help.key.find('.'));
        EXPECT_TRUE(node[top].IsDefined()) << "experiments/conf/" << group << "/" << name << ".yaml lacks '" << top
                                           << "' (" << help.doc << ")";
      }
    }
    EXPECT_GE(checked, minimum) << group;
  };
  check("model", registries_.models, 5);
  check("dataset", registries_.datasets, 2);
}

}  // namespace
}  // namespace prunelab
