#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "experiments/verbs/PruneMatrixVerb.h"
#include "framework/model/Safetensors.h"
#include "tests/support/Assertions.h"
#include "tests/support/RunFixture.h"

namespace prunelab::app {
namespace {

namespace fs = std::filesystem;
using testing::errorOf;

torch::Tensor mat(std::vector<float> values, std::int64_t rows, std::int64_t cols) {
  return torch::tensor(values, torch::kFloat32).reshape({rows, cols});
}

torch::Tensor keepOf(const fs::path& out) {
  return model::loadSafetensors(out).get("mask").to(torch::kBool);
}

class PruneMatrixVerbTest : public ::testing::Test {
 protected:
  fs::path save(const std::string& name, std::vector<std::pair<std::string, torch::Tensor>> tensors) {
    const auto p = dir_ / name;
    model::saveSafetensors(p, tensors);
    return p;
  }
  PruneMatrixSummary prune(std::vector<std::string> options, std::vector<fs::path> inputs = {}) {
    return pruneMatrixFiles({weight_, "", std::move(inputs), out_, std::move(options)});
  }
  testing::TempDir dir_;
  // Hand-made layer: W rows [1 2 3 4] and [4 3 2 1]; one input token x = [4 1 1 1].
  torch::Tensor w_ = mat({1, 2, 3, 4, 4, 3, 2, 1}, 2, 4);
  fs::path weight_ = save("W.safetensors", {{"w", w_}});
  fs::path out_ = dir_ / "out.safetensors";
};

TEST_F(PruneMatrixVerbTest, WandaPerRowFromInputsMatchesTheHandComputedMask) {
  // One sequence of one token: scaler_row = x² = [16 1 1 1], sqrt = [4 1 1 1].
  // Scores |W|·sqrt: row 0 [4 2 3 4] → the 2 smallest are columns 1 and 2;
  //                  row 1 [16 3 2 1] → columns 3 and 2. (Magnitude alone would prune 0,1 / 3,2.)
  auto x = save("X.safetensors", {{"x", mat({4, 1, 1, 1}, 1, 4)}});
  auto s = prune({"score=wanda", "selection=per_row", "sparsity=0.5"}, {x});
  EXPECT_TRUE(torch::equal(keepOf(out_), torch::tensor({1, 0, 0, 1, 1, 1, 0, 0}).reshape({2, 4}).to(torch::kBool)));
  EXPECT_DOUBLE_EQ(s.achievedSparsity, 0.5);
  EXPECT_DOUBLE_EQ(s.rowSparsityMin, 0.5);
  EXPECT_DOUBLE_EQ(s.rowSparsityMax, 0.5);
  // WX = [13, 22]; ŴX keeps columns 0,3 of row 0 (4+4 = 8) and 0,1 of row 1 (16+3 = 19):
  // ||[5, 3]|| / ||[13, 22]|| = sqrt(34 / 653).
  ASSERT_TRUE(s.reconstructionError.has_value());
  EXPECT_NEAR(*s.reconstructionError, std::sqrt(34.0 / 653.0), 1e-12);
  auto out = model::loadSafetensors(out_);
  EXPECT_TRUE(torch::equal(out.get("weight"), mat({1, 0, 0, 4, 4, 3, 0, 0}, 2, 4)));
  EXPECT_TRUE(torch::allclose(out.get("sq_norms"), torch::tensor({16.f, 1.f, 1.f, 1.f})));
  EXPECT_EQ(s.statistics, (std::vector<std::string>{"sq_norms"}));
}

TEST_F(PruneMatrixVerbTest, WandaPerMatrixAndObsTwoFourByHand) {
  auto x = save("X.safetensors", {{"x", mat({4, 1, 1, 1}, 1, 4)}});
  // Wanda scores [4 2 3 4 | 16 3 2 1], sorted 1 2 2 3 3 4 4 16; threshold sorted[int(8·0.5)] = 3,
  // every score <= 3 goes (ties too): 5 of 8.
  auto s = prune({"selection=per_matrix", "sparsity=0.5"}, {x});
  EXPECT_TRUE(torch::equal(keepOf(out_), torch::tensor({1, 0, 0, 1, 1, 0, 0, 0}).reshape({2, 4}).to(torch::kBool)));
  EXPECT_DOUBLE_EQ(s.achievedSparsity, 5.0 / 8.0);
  // SparseGPT 2:4 with a diagonal Hessian: in each group of 4 the two smallest w² go, no updates.
  auto h = save("H.safetensors", {{"hessian", torch::eye(4)}});
  s = prune({"reconstruction=obs", "selection=nm", "nm.n=2", "nm.m=4"}, {h});
  EXPECT_TRUE(torch::equal(keepOf(out_), torch::tensor({0, 0, 1, 1, 1, 1, 0, 0}).reshape({2, 4}).to(torch::kBool)));
  EXPECT_TRUE(torch::allclose(model::loadSafetensors(out_).get("weight"), mat({0, 0, 3, 4, 4, 3, 0, 0}, 2, 4)));
}

TEST_F(PruneMatrixVerbTest, WandaNMAndVariantByHand) {
  auto x = save("X.safetensors", {{"x", mat({4, 1, 1, 1}, 1, 4)}});
  // 2:4 on the Wanda scores [4 2 3 4 | 16 3 2 1]: each group of 4 loses its two smallest.
  auto s = prune({"selection=nm", "nm.n=2", "nm.m=4"}, {x});
  EXPECT_TRUE(torch::equal(keepOf(out_), torch::tensor({1, 0, 0, 1, 1, 1, 0, 0}).reshape({2, 4}).to(torch::kBool)));
  // Variant at s = 0.5: row sums 13 and 22; sorted scores [2 3 4 4] and [1 2 3 16].
  //   α = 0.4: row 0 prunes while cumsum <= 5.2 (2, 5) → 2; row 1 <= 8.8 (1, 3, 6) → 3: 5/8 > 0.5.
  //   α = 0.2: 2.6 → 1; 4.4 → 2: 3/8 < 0.5.   α = 0.3: 3.9 → 1 (col 1); 6.6 → 3 (cols 3, 2, 1): 4/8.
  s = prune({"selection=variant", "sparsity=0.5"}, {x});
  EXPECT_TRUE(torch::equal(keepOf(out_), torch::tensor({1, 0, 1, 1, 1, 0, 0, 0}).reshape({2, 4}).to(torch::kBool)));
  EXPECT_DOUBLE_EQ(s.achievedSparsity, 0.5);
  EXPECT_DOUBLE_EQ(s.rowSparsityMin, 0.25);
  EXPECT_DOUBLE_EQ(s.rowSparsityMax, 0.75);
}

TEST_F(PruneMatrixVerbTest, CommandLinePrintsTheSummaryAndJson) {
  auto x = save("X.safetensors", {{"x", mat({4, 1, 1, 1}, 1, 4)}});
  auto r = testing::runPrunelab({"prune-matrix", "--weight", weight_.string(), "--inputs", x.string(), "sparsity=0.5",
                                 "--out", out_.string()});
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_CONTAINS(r.output, "w 2x4 Float: sparsity 0.5000 (target 0.5000), per-row 0.5000..0.5000");
  EXPECT_CONTAINS(r.output, "||WX-ŴX||/||WX|| 0.228");  // sqrt(34/653) = 0.22818...
  auto j = testing::runPrunelab({"prune-matrix", "--weight", weight_.string(), "--inputs", x.string(), "--out",
                                 out_.string(), "--json", "selection=nm"});
  ASSERT_EQ(j.exitCode, 0) << j.output;
  EXPECT_CONTAINS(j.output, "\"achieved_sparsity\": 0.5");
  EXPECT_CONTAINS(j.output, "\"selection\": \"nm\"");
  auto bad = testing::runPrunelab({"prune-matrix", "--weight", weight_.string(), "--out", out_.string(), "selction=nm"});
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_CONTAINS(bad.output, "did you mean 'selection'");
}

TEST_F(PruneMatrixVerbTest, PrecomputedSqNormsAndEveryInputLayoutGiveTheSameMask) {
  prune({"sparsity=0.5"}, {save("S.safetensors", {{"sq_norms", torch::tensor({16.f, 1.f, 1.f, 1.f})}})});
  const auto fromStats = keepOf(out_);
  // Two (tokens x in) files of one sequence each, and one (batch x seq x in) tensor of two sequences,
  // give the same mean over sequences.
  auto a = save("A.safetensors", {{"inputs.0", mat({4, 1, 1, 1}, 1, 4)}});
  auto b = save("B.safetensors", {{"inputs.0", mat({4, 1, 1, 1}, 1, 4)}});
  auto s2 = prune({"sparsity=0.5"}, {a, b});
  EXPECT_TRUE(torch::equal(keepOf(out_), fromStats));
  EXPECT_EQ(s2.inputBatches, 2);
  auto c = save("C.safetensors", {{"x", mat({4, 1, 1, 1, 4, 1, 1, 1}, 2, 4).reshape({2, 1, 4})}});
  prune({"sparsity=0.5"}, {c});
  EXPECT_TRUE(torch::equal(keepOf(out_), fromStats));
}

TEST_F(PruneMatrixVerbTest, MagnitudeSelectionsAndNM) {
  // per_matrix: |W| sorted 1 1 2 2 3 3 4 4; int(8·0.25) = 2 → threshold sorted[2] = 2, all <= 2 go (ties too).
  auto s = prune({"score=magnitude", "selection=per_matrix", "sparsity=0.25"});
  EXPECT_TRUE(torch::equal(keepOf(out_), (w_.abs() > 2)));
  EXPECT_DOUBLE_EQ(s.achievedSparsity, 0.5);
  EXPECT_FALSE(s.reconstructionError.has_value()) << "no inputs, no reconstruction error";
  // 2:4 on magnitude: each row keeps its two largest.
  s = prune({"score=magnitude", "selection=nm", "nm.n=2", "nm.m=4"});
  EXPECT_TRUE(torch::equal(keepOf(out_), torch::tensor({0, 0, 1, 1, 1, 1, 0, 0}).reshape({2, 4}).to(torch::kBool)));
  EXPECT_DOUBLE_EQ(s.targetSparsity, 0.5);
  // variant with no inputs needed when the score is magnitude: every row prunes by score mass.
  s = prune({"score=magnitude", "selection=variant", "sparsity=0.25"});
  EXPECT_GT(s.achievedSparsity, 0.0);
}

TEST_F(PruneMatrixVerbTest, ObsWithDiagonalHessianIsMagnitudeWithoutUpdates) {
  // A diagonal Hessian has a diagonal inverse: no error is propagated to other columns, and with
  // d² constant the adaptive mask is SparseGPT's block threshold on w² (blocksize >= width: the
  // whole matrix): sorted |W| = 1 1 2 2 3 3 4 4, index int(8·0.5) = 4 → 3, every |w| <= 3 goes,
  // ties included, so 6 of 8 (the reference's rule, not a bug).
  auto h = save("H.safetensors", {{"hessian", torch::eye(4) * 2}});
  auto s = prune({"reconstruction=obs", "selection=adaptive", "sparsity=0.5"}, {h});
  auto out = model::loadSafetensors(out_);
  const auto keep = keepOf(out_);
  EXPECT_DOUBLE_EQ(s.achievedSparsity, 0.75);
  EXPECT_TRUE(torch::equal(keep, w_.abs() > 3));
  EXPECT_TRUE(torch::allclose(out.get("weight"), w_ * keep.to(torch::kFloat32)));
  EXPECT_EQ(s.statistics, (std::vector<std::string>{"hessian"}));
  // With correlated inputs OBS moves the kept weights and beats plain masking on those inputs.
  auto x = save("X.safetensors", {{"x", mat({1, 1, 0.5, 0, 0.9, 1, 0.4, 0.1, 1, 0.8, 0.6, 0, 0.2, 0.1, 1, 1, 0.1, 0.3, 0.9, 1},
                                           5, 4)}});
  auto obs = prune({"reconstruction=obs", "sparsity=0.5", "selection=adaptive"}, {x});
  auto mag = prune({"score=magnitude", "selection=per_matrix", "sparsity=0.5"}, {x});
  ASSERT_TRUE(obs.reconstructionError && mag.reconstructionError);
  EXPECT_LT(*obs.reconstructionError, *mag.reconstructionError);
}

TEST_F(PruneMatrixVerbTest, BadInputGetsErrorsNamingTheTensorAndTheFix) {
  auto x = save("X.safetensors", {{"x", mat({4, 1, 1, 1}, 1, 4)}});
  EXPECT_CONTAINS(errorOf([&] { prune({"sparsty=0.5"}, {x}); }), "did you mean 'sparsity'");
  EXPECT_CONTAINS(errorOf([&] { prune({"selection=nm", "nm.n=2", "nm.m=3"}, {x}); }), "multiple of m");
  EXPECT_CONTAINS(errorOf([&] { prune({"selection=nm", "nm.n=4", "nm.m=4"}, {x}); }), "1 <= nm.n < nm.m");
  EXPECT_CONTAINS(errorOf([&] { prune({"sparsity=0.5"}); }), "pass --inputs");
  auto wide = save("wide.safetensors", {{"x", torch::ones({3, 5})}});
  EXPECT_CONTAINS(errorOf([&] { prune({}, {wide}); }), "'x' in '" + wide.string());
  auto both = save("both.safetensors", {{"x", mat({4, 1, 1, 1}, 1, 4)}, {"sq_norms", torch::ones({4})}});
  EXPECT_CONTAINS(errorOf([&] { prune({}, {both}); }), "one or the other");
  auto two = save("two.safetensors", {{"a", w_}, {"b", w_}});
  EXPECT_CONTAINS(errorOf([&] { pruneMatrixFiles({two, "", {x}, out_, {}}); }), "--weight-name");
  EXPECT_CONTAINS(errorOf([&] { pruneMatrixFiles({two, "c", {x}, out_, {}}); }), "'c'");
  auto vec = save("vec.safetensors", {{"w", torch::ones({4})}});
  EXPECT_CONTAINS(errorOf([&] { pruneMatrixFiles({vec, "", {x}, out_, {}}); }), "must be 2-D");
  // An indefinite Hessian that no damping within the allowed retries fixes.
  auto bad = save("bad.safetensors", {{"hessian", mat({1, 3, 0, 0, 3, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, 4, 4)}});
  EXPECT_CONTAINS(errorOf([&] { prune({"reconstruction=obs", "selection=adaptive", "max_damp_retries=0"}, {bad}); }),
                  "max_damp_retries");
  EXPECT_FALSE(fs::exists(out_)) << "nothing is written when the prune fails";
}

// Acceptance: a layer pruned inside a run and the same layer pruned from the inputs the driver
// showed it (dumped by pruner.dump_inputs) get the same mask, through the same fine step.
class PruneMatrixMatchesRunTest : public testing::TinyRunTest {
 protected:
  void expectSameMasks(std::vector<std::string> pruner, std::vector<std::string> options) {
    pruner.push_back("+pruner.dump_inputs=[vision.blocks.0.fc,vision.blocks.1.fc]");
    auto r = run(pruner);
    ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
    const auto layers = store_.layers(r.runId);
    ASSERT_EQ(layers.size(), 2u);
    for (const auto& layer : layers) {
      const auto dump = r.outputDir / "layer_inputs" / (layer.name + ".safetensors");
      ASSERT_TRUE(fs::exists(dump)) << dump;
      const auto s = pruneMatrixFiles({dump, "", {dump}, dir_ / (layer.name + ".out.safetensors"), options});
      EXPECT_GT(s.inputBatches, 1) << "the driver's calibration batches, one tensor each";
      EXPECT_EQ(s.maskSha256, layer.maskSha256) << layer.name;
      EXPECT_DOUBLE_EQ(s.achievedSparsity, layer.achievedSparsity) << layer.name;
    }
  }
};

TEST_F(PruneMatrixMatchesRunTest, Wanda) {
  expectSameMasks({"pruner=wanda", "pruner.nsamples=24", "pruner.calib_batch_size=8", "pruner.sparsity=0.6"},
                  {"score=wanda", "selection=per_row", "sparsity=0.6"});
}

TEST_F(PruneMatrixMatchesRunTest, SparseGptTwoFour) {
  expectSameMasks({"pruner=sparsegpt", "pruner.nsamples=24", "pruner.selection=nm"},
                  {"reconstruction=obs", "selection=nm", "nm.n=2", "nm.m=4"});
}

}  // namespace
}  // namespace prunelab::app
