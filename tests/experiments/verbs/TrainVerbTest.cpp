#include <gtest/gtest.h>

#include <set>

#include <SQLiteCpp/SQLiteCpp.h>

#include "experiments/verbs/TrainVerb.h"
#include "framework/store/RunStore.h"
#include "tests/support/Assertions.h"
#include "tests/support/Fixtures.h"

namespace prunelab::app {
namespace {

namespace fs = std::filesystem;
using testing::errorOf;

TEST(TrainVerb, OverridesThatPruneOrEvaluateAreRejected) {
  EXPECT_CONTAINS(errorOf([] { trainOverrides({"model=mlp", "pruner=wanda"}); }), "use `prunelab run`");
  EXPECT_CONTAINS(errorOf([] { trainOverrides({"eval.accuracy.split=val"}); }), "'eval.accuracy.split=val'");
  EXPECT_EQ(trainOverrides({"model=mlp_tiny"}), (std::vector<std::string>{"pruner=none", "~eval", "name=train",
                                                                          "model=mlp_tiny"}));
}

TEST(TrainVerb, TrainsOnceRecordsTheCurveAndThenLoadsTheCache) {
  if (!testing::haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  testing::TempDir dir;
  const auto store = (dir / "store.sqlite").string();
  std::vector<std::string> args = {"--store", store, "--config-dir", testing::repoConfigDir().string(), "train"};
  for (const auto& o : testing::tinyRunOverrides(dir.path())) args.push_back(o);
  auto first = testing::runPrunelab(args);
  ASSERT_EQ(first.exitCode, 0) << first.output;
  EXPECT_CONTAINS(first.output, "trained and cached");
  auto second = testing::runPrunelab(args);
  ASSERT_EQ(second.exitCode, 0) << second.output;
  EXPECT_EQ(second.output.find("trained and cached"), std::string::npos) << second.output;

  store::RunStore s(store);
  const auto runs = s.listRuns({"FINISHED", "train", "", {}, 0});
  ASSERT_EQ(runs.size(), 2u);
  std::set<std::string> weights;
  for (const auto& r : runs) {
    for (const auto& l : s.layers(r.id)) EXPECT_EQ(l.achievedSparsity, 0.0) << "nothing pruned: " << l.name;
    SQLite::Statement q(s.db(), "SELECT value FROM tags WHERE run_id = ? AND key = 'model.weights'");
    q.bind(1, r.id);
    ASSERT_TRUE(q.executeStep());
    weights.insert(q.getColumn(0).getString());
  }
  EXPECT_EQ(weights.size(), 1u) << "the cached weights are the trained ones";
  // The training curve is in the store of the run that trained.
  const auto trained = runs.back();  // newest first: back() is the first run
  EXPECT_GT(s.metrics(trained.id).count("train/mlp/train/loss"), 0u);
}

}  // namespace
}  // namespace prunelab::app
