#include <gtest/gtest.h>

#include <map>

#include "framework/core/Error.h"
#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/Selection.h"
#include "framework/prune/Targets.h"
#include "tests/support/Assertions.h"
#include "tests/support/TinyBlockModel.h"

namespace prunelab::prune {
namespace {

// Records every input a layer saw, concatenated over batches.
class RecordingObserver : public LayerObserver {
 public:
  explicit RecordingObserver(int* calls) : calls_(calls) {}
  void observe(const torch::Tensor& input) override {
    ++*calls_;
    seen.push_back(input.detach().clone());
  }
  torch::Tensor all() const { return torch::cat(seen, 0); }
  std::vector<torch::Tensor> seen;

 private:
  int* calls_;
};

std::vector<model::Batch> batches(int n, int batchSize, int dim) {
  torch::manual_seed(42);
  std::vector<model::Batch> out;
  for (int i = 0; i < n; ++i) {
    model::Batch b;
    b.set("inputs", torch::randn({batchSize, dim}));
    out.push_back(b);
  }
  return out;
}

TEST(BlockwiseDriver, ObservesDenseInputsAndPropagatesPrunedOutputs) {
  testing::TinyBlockModel model(4, 2, 7);
  auto calib = batches(3, 5, 4);
  auto targets = selectTargets(model.linears(), {"*.blocks.*"});
  ASSERT_EQ(targets.size(), 8u);
  // The dense weights, to recompute what each layer should have seen.
  std::map<std::string, torch::Tensor> dense;
  for (const auto& t : targets) dense[t.name] = t.layer->weight.detach().clone();

  int calls = 0;
  std::vector<std::string> order;
  BlockwiseCallbacks callbacks;
  callbacks.makeObserver = [&](const model::LinearRef&) { return std::make_unique<RecordingObserver>(&calls); };
  std::map<std::string, torch::Tensor> seen;
  callbacks.pruneLayer = [&](const model::LinearRef& ref, LayerObserver* obs) {
    order.push_back(ref.name);
    seen[ref.name] = static_cast<RecordingObserver*>(obs)->all();
    return applyMask(ref, perMatrixThresholdMask(ref.layer->weight.detach().abs(), 0.5), 0.5);
  };
  auto records = runBlockwise(model, calib, targets, callbacks);
  ASSERT_EQ(records.size(), 8u);
  EXPECT_EQ(order.front(), "vision.blocks.0.mlp.fc1");
  EXPECT_EQ(order.back(), "language.blocks.1.mlp.fc2");
  for (const auto& r : records) EXPECT_GE(r.achievedSparsity, 0.5) << r.name;

  torch::NoGradGuard noGrad;
  // Block 0 of vision saw the raw inputs; its fc2 saw gelu(fc1_dense(x)): one dense pass per block.
  std::vector<torch::Tensor> xs;
  for (const auto& b : calib) xs.push_back(b.at("inputs"));
  auto x = torch::cat(xs, 0);
  EXPECT_TRUE(torch::allclose(seen["vision.blocks.0.mlp.fc1"], x));
  auto fc1Dense = torch::gelu(torch::matmul(x, dense["vision.blocks.0.mlp.fc1"].t()) +
                              targets[0].layer->bias.detach());
  EXPECT_TRUE(torch::allclose(seen["vision.blocks.0.mlp.fc2"], fc1Dense, 1e-5, 1e-6));
  // Block 1 saw block 0's output computed with block 0 already pruned.
  model::Batch all;
  all.set("inputs", x);
  auto afterPrunedBlock0 = model.forwardBlock("vision", 0, model.stackInputs("vision", all)).at("hidden");
  EXPECT_TRUE(torch::allclose(seen["vision.blocks.1.mlp.fc1"], afterPrunedBlock0, 1e-5, 1e-6));
  // The language stack's inputs went through the whole pruned vision stack and the bridge.
  auto languageIn = model.stackInputs("language", all).at("hidden");
  EXPECT_TRUE(torch::allclose(seen["language.blocks.0.mlp.fc1"], languageIn, 1e-5, 1e-6));
  // Observers are removed afterwards: running the model again records nothing new.
  EXPECT_EQ(calls, 8 * 3);  // each target observed once per calibration batch, in its block's dense pass
  model.loss(all);
  EXPECT_EQ(calls, 8 * 3);
}

TEST(BlockwiseDriver, TargetOutsideABlockIsAnError) {
  testing::TinyBlockModel model;
  auto targets = selectTargets(model.linears(), {"bridge.*"});
  BlockwiseCallbacks callbacks;
  callbacks.pruneLayer = [](const model::LinearRef& ref, LayerObserver*) { return describeLayer(ref, 0); };
  EXPECT_CONTAINS(testing::errorOf([&] { runBlockwise(model, batches(1, 2, 4), targets, callbacks); }),
                  "not inside a block");
}

TEST(BlockwiseDriver, ObserversAreRemovedWhenPruningThrows) {
  testing::TinyBlockModel model;
  auto targets = selectTargets(model.linears(), {"vision.blocks.0.*"});
  int calls = 0;
  struct Counting : LayerObserver {
    int* calls;
    explicit Counting(int* c) : calls(c) {}
    void observe(const torch::Tensor&) override { ++*calls; }
  };
  BlockwiseCallbacks callbacks;
  callbacks.makeObserver = [&](const model::LinearRef&) { return std::make_unique<Counting>(&calls); };
  callbacks.pruneLayer = [](const model::LinearRef&, LayerObserver*) -> store::LayerRecord {
    PL_THROW("boom");
  };
  auto calib = batches(1, 2, 4);
  EXPECT_THROW(runBlockwise(model, calib, targets, callbacks), Error);
  const int after = calls;
  model.loss(calib[0]);
  EXPECT_EQ(calls, after);
}

}  // namespace
}  // namespace prunelab::prune
