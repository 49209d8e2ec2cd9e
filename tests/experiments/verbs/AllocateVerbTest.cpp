#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "experiments/verbs/AllocateVerb.h"
#include "tests/support/Assertions.h"
#include "tests/support/Fixtures.h"

namespace prunelab::app {
namespace {

namespace fs = std::filesystem;
using testing::errorOf;

class AllocateVerbTest : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& text) {
    const auto p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  testing::TempDir dir_;
};

TEST_F(AllocateVerbTest, ReproducesTheHandComputedEcoflapThreeBlockExample) {
  // The pruners issue's example (derivation in tests/framework/prune/AllocationTest.cpp):
  // n = [50, 200, 350], scores [8, 1, 2], s = 0.5, s_max = 0.6 → keep [50, 91, 159].
  auto g = write("g.json", R"({"groups": [{"name": "blocks.0", "numel": 50, "score": 8},
                                           {"name": "blocks.1", "numel": 200, "score": 1},
                                           {"name": "blocks.2", "numel": 350, "score": 2}]})");
  auto r = testing::runPrunelab({"allocate", "--groups", g.string(), "--sparsity", "0.5", "--json"});
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto written = nlohmann::json::parse(std::ifstream(dir_ / "g.allocation.json"));
  ASSERT_EQ(written["groups"].size(), 3u);
  EXPECT_EQ(written["groups"][0]["keep"], 50);
  EXPECT_EQ(written["groups"][1]["keep"], 91);
  EXPECT_EQ(written["groups"][2]["keep"], 159);
  EXPECT_DOUBLE_EQ(written["groups"][1]["sparsity"].get<double>(), 1.0 - 91.0 / 200.0);
  EXPECT_DOUBLE_EQ(written["achieved_sparsity"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(written["max_sparsity"].get<double>(), 0.6);
  EXPECT_CONTAINS(r.output, "\"achieved_sparsity\": 0.5");
  // The table form and an explicit --out.
  auto t = testing::runPrunelab({"allocate", "--groups", g.string(), "--sparsity", "0.5", "--max-sparsity", "0.6",
                                 "--out", (dir_ / "a.json").string()});
  ASSERT_EQ(t.exitCode, 0) << t.output;
  EXPECT_CONTAINS(t.output, "achieved overall sparsity 0.500000");
  EXPECT_TRUE(fs::exists(dir_ / "a.json"));
}

TEST_F(AllocateVerbTest, OwlAndUniform) {
  // OWL, equal sizes: D = [0.1, 0.3, 0.2], λ = 0.1: (D − 0.1)/0.2·0.2 = [0, 0.2, 0.1], mean 0.1
  // → density [0.4, 0.6, 0.5] at s = 0.5 → sparsity [0.6, 0.4, 0.5].
  auto g = write("owl.json", R"([{"numel": 10, "outlier_ratio": 0.1}, {"numel": 10, "outlier_ratio": 0.3},
                                  {"numel": 10, "outlier_ratio": 0.2}])");
  AllocateRequest r;
  r.groupsFile = g;
  r.sparsity = 0.5;
  r.method = "owl";
  r.lambda = 0.1;
  auto groups = readAllocationGroups(g, "owl");
  auto a = allocateFromRequest(r, groups);
  ASSERT_EQ(a.sparsity.size(), 3u);
  EXPECT_NEAR(a.sparsity[0], 0.6, 1e-12);
  EXPECT_NEAR(a.sparsity[1], 0.4, 1e-12);
  EXPECT_NEAR(a.sparsity[2], 0.5, 1e-12);
  EXPECT_NEAR(a.achieved, 0.5, 1e-12);
  r.method = "uniform";
  a = allocateFromRequest(r, groups);
  EXPECT_EQ(a.sparsity, (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST_F(AllocateVerbTest, BadGroupFilesAndSettingsAreNamed) {
  auto broken = write("broken.json", "{\"groups\": [ {\"numel\": 5,, } ]}");
  EXPECT_CONTAINS(errorOf([&] { readAllocationGroups(broken, "ecoflap"); }), "not valid JSON at byte");
  auto noNumel = write("n.json", R"({"groups": [{"name": "a", "score": 1}]})");
  EXPECT_CONTAINS(errorOf([&] { readAllocationGroups(noNumel, "ecoflap"); }), "/groups/0: missing \"numel\"");
  auto noScore = write("s.json", R"([{"numel": 4, "score": 1}, {"numel": 4}])");
  EXPECT_CONTAINS(errorOf([&] { readAllocationGroups(noScore, "ecoflap"); }), "/1: missing \"score\"");
  auto ok = write("ok.json", R"([{"numel": 4, "score": 1}, {"numel": 4, "score": 3}])");
  AllocateRequest r;
  r.sparsity = 0.5;
  r.maxSparsity = 0.4;
  EXPECT_CONTAINS(errorOf([&] { allocateFromRequest(r, readAllocationGroups(ok, "ecoflap")); }),
                  "--max-sparsity must be in [sparsity, 1]");
  auto c = testing::runPrunelab({"allocate", "--groups", ok.string(), "--sparsity", "0.5", "--method", "ecoflapp"});
  EXPECT_NE(c.exitCode, 0);
  EXPECT_CONTAINS(c.output, "did you mean 'ecoflap'");
}

}  // namespace
}  // namespace prunelab::app
