#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include "framework/core/Error.h"
#include "framework/model/WeightCache.h"
#include "models/transformer/StructuredPrune.h"
#include "tests/support/Fixtures.h"

namespace prunelab::models {
namespace {

constexpr std::int64_t kDim = 32, kHeads = 4, kHeadDim = kDim / kHeads, kMlp = 64, kContextDim = 24, kDepth = 3;

// A seeded stack whose biases and LayerNorm affines are nonzero too (the default init zeroes the
// biases, which would hide a wrong bias rule, e.g. for a sub-layer with nothing left).
TransformerStack makeStack(bool causal, std::int64_t contextDim, std::uint64_t seed = 11) {
  TransformerStack stack(StackOptions("s", "s", kDepth, BlockOptions(kDim, kHeads).mlpDim(kMlp).contextDim(contextDim))
                             .causal(causal)
                             .seed(seed));
  auto gen = at::detail::createCPUGenerator(seed + 1000);
  torch::NoGradGuard noGrad;
  for (auto& p : stack->parameters()) p.add_(torch::randn(p.sizes(), gen, torch::kFloat32) * 0.05);
  return stack;
}

// Hidden states with padding on the second item, plus a context with a padded item when needed.
model::Batch makeInputs(std::int64_t contextDim, std::int64_t crossRows = -1) {
  auto gen = at::detail::createCPUGenerator(5);
  model::Batch state;
  state.set(StackState::kHidden, torch::randn({2, 6, kDim}, gen, torch::kFloat32));
  state.set(StackState::kMask, torch::tensor({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, torch::kInt64).view({2, 6}));
  if (contextDim > 0) {
    state.set(StackState::kContext, torch::randn({2, 5, contextDim}, gen, torch::kFloat32));
    state.set(StackState::kContextMask, torch::tensor({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, torch::kInt64).view({2, 5}));
  }
  if (crossRows >= 0) state.set(StackState::kCrossRows, torch::tensor(crossRows, torch::kInt64));
  return state;
}

torch::Tensor run(TransformerStack& stack, const model::Batch& state) {
  return stack->forward(state).at(StackState::kHidden);
}

torch::Tensor randomBinary(std::int64_t n, std::uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return (torch::rand({n}, gen) < 0.5).to(torch::kFloat32);
}

// Block 0 keeps everything, block 1 loses everything, block 2 gets random masks (with at least one
// kept and one removed entry, so that it really is partial).
std::vector<BlockMasks> mixedMasks(bool cross) {
  std::vector<BlockMasks> masks(kDepth);
  masks[0] = {torch::ones({kHeads}), cross ? torch::ones({kHeads}) : torch::Tensor(), torch::ones({kMlp})};
  masks[1] = {torch::zeros({kHeads}), cross ? torch::zeros({kHeads}) : torch::Tensor(), torch::zeros({kMlp})};
  auto partial = [](std::int64_t n, std::uint64_t seed) {
    auto m = randomBinary(n, seed);
    m[0] = 1.0;
    m[n - 1] = 0.0;
    return m;
  };
  masks[2] = {partial(kHeads, 21), cross ? partial(kHeads, 22) : torch::Tensor(), partial(kMlp, 23)};
  return masks;
}

void setMasks(TransformerStack& stack, const std::vector<BlockMasks>& masks) {
  for (std::size_t i = 0; i < masks.size(); ++i) {
    auto block = stack->blocks()[i];
    block->attn->setHeadMask(masks[i].heads);
    if (block->hasCross()) block->cross->setHeadMask(masks[i].crossHeads);
    block->mlp->setNeuronMask(masks[i].neurons);
  }
}

std::int64_t countParameters(const torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

std::int64_t kept(const torch::Tensor& mask, std::int64_t all) {
  return mask.defined() ? mask.sum().item<std::int64_t>() : all;
}

// Parameters of a stack of kDim-wide blocks with the given kept heads / cross heads / neurons.
std::int64_t analyticCount(const std::vector<BlockMasks>& masks, std::int64_t contextDim) {
  std::int64_t n = 0;
  for (const auto& m : masks) {
    const auto h = kept(m.heads, kHeads) * kHeadDim, neurons = kept(m.neurons, kMlp);
    n += 2 * 2 * kDim;                                      // ln1, ln2
    n += 3 * h * kDim + 3 * h + kDim * h + kDim;            // attn.qkv, attn.proj
    n += neurons * kDim + neurons + kDim * neurons + kDim;  // mlp.fc1, mlp.fc2
    if (contextDim > 0) {
      const auto c = kept(m.crossHeads, kHeads) * kHeadDim;
      n += 2 * kDim;                                                     // ln_cross
      n += c * kDim + c + 2 * c * contextDim + 2 * c + kDim * c + kDim;  // cross.q, cross.kv, cross.proj
    }
  }
  return n;
}

struct Case {
  bool causal;
  std::int64_t contextDim;
  std::int64_t crossRows;
};

class StructuredPruneEquivalenceTest : public ::testing::TestWithParam<Case> {};

TEST_P(StructuredPruneEquivalenceTest, PrunedModelEqualsMaskedModelAndCountsMatch) {
  const auto c = GetParam();
  const bool cross = c.contextDim > 0;
  const auto masks = mixedMasks(cross);
  const auto inputs = makeInputs(c.contextDim, c.crossRows);

  auto masked = makeStack(c.causal, c.contextDim);
  const auto denseCount = countParameters(*masked);
  const auto dense = run(masked, inputs);
  setMasks(masked, masks);
  const auto expected = run(masked, inputs);
  EXPECT_GT((expected - dense).abs().max().item<double>(), 1e-3) << "the masks must change the output";

  auto pruned = makeStack(c.causal, c.contextDim);
  const auto keeps = pruneStackByMasks(pruned, masks);
  const auto got = run(pruned, inputs);
  EXPECT_LE((got - expected).abs().max().item<double>(), 1e-5);

  EXPECT_EQ(denseCount, analyticCount(std::vector<BlockMasks>(kDepth), c.contextDim));
  EXPECT_EQ(countParameters(*pruned), analyticCount(masks, c.contextDim));
  EXPECT_LT(countParameters(*pruned), denseCount);

  // The record says what the masks kept, and the modules report their new sizes.
  ASSERT_EQ(keeps.size(), static_cast<std::size_t>(kDepth));
  EXPECT_EQ(keeps[0].heads, (std::vector<std::int64_t>{0, 1, 2, 3}));
  EXPECT_TRUE(keeps[1].heads.empty());
  EXPECT_TRUE(keeps[1].neurons.empty());
  for (int i = 0; i < kDepth; ++i) {
    const auto& b = pruned->blocks()[static_cast<std::size_t>(i)];
    EXPECT_EQ(b->attn->heads(), static_cast<std::int64_t>(keeps[i].heads.size()));
    EXPECT_EQ(b->mlp->neurons(), static_cast<std::int64_t>(keeps[i].neurons.size()));
    if (cross) EXPECT_EQ(b->cross->heads(), static_cast<std::int64_t>(keeps[i].crossHeads.size()));
  }
}

INSTANTIATE_TEST_SUITE_P(Structured, StructuredPruneEquivalenceTest,
                         ::testing::Values(Case{false, 0, -1}, Case{true, 0, -1}, Case{false, kContextDim, -1},
                                           Case{true, kContextDim, -1}, Case{false, kContextDim, 4}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.causal ? "Causal" : "Bidirectional") +
                                  (info.param.contextDim > 0 ? "Cross" : "") +
                                  (info.param.crossRows >= 0 ? "FirstRows" : "");
                         });

TEST(StructuredPruneTest, RandomMasksInEveryBlockMatchTheMaskedModel) {
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    std::vector<BlockMasks> masks;
    for (int i = 0; i < kDepth; ++i)
      masks.push_back({randomBinary(kHeads, 100 * seed + 3 * i), randomBinary(kHeads, 100 * seed + 3 * i + 1),
                       randomBinary(kMlp, 100 * seed + 3 * i + 2)});
    const auto inputs = makeInputs(kContextDim);
    auto masked = makeStack(seed % 2 == 0, kContextDim, seed);
    setMasks(masked, masks);
    auto pruned = makeStack(seed % 2 == 0, kContextDim, seed);
    pruneStackByMasks(pruned, masks);
    EXPECT_LE((run(pruned, inputs) - run(masked, inputs)).abs().max().item<double>(), 1e-5) << "seed " << seed;
    EXPECT_EQ(countParameters(*pruned), analyticCount(masks, kContextDim)) << "seed " << seed;
  }
}

TEST(StructuredPruneTest, SlicesTheFusedQkvRowsAndProjectionColumnsOfTheKeptHeads) {
  // dim 8, 4 heads of width 2; keeping heads 1 and 3 keeps q rows 2,3,6,7, the same k rows
  // offset by 8 and v rows offset by 16, and proj columns 2,3,6,7.
  SelfAttention attn(8, 4);
  const auto qkv = attn->qkv->weight.detach().clone(), qkvBias = attn->qkv->bias.detach().clone();
  const auto proj = attn->proj->weight.detach().clone(), projBias = attn->proj->bias.detach().clone();
  removeHeads(attn, {1, 3});
  const auto rows = torch::tensor({2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23}, torch::kInt64);
  const auto cols = torch::tensor({2, 3, 6, 7}, torch::kInt64);
  EXPECT_TRUE(torch::equal(attn->qkv->weight, qkv.index_select(0, rows)));
  EXPECT_TRUE(torch::equal(attn->qkv->bias, qkvBias.index_select(0, rows)));
  EXPECT_TRUE(torch::equal(attn->proj->weight, proj.index_select(1, cols)));
  EXPECT_TRUE(torch::equal(attn->proj->bias, projBias));
  EXPECT_EQ(attn->heads(), 2);
  EXPECT_EQ(attn->headDim(), 2);
  EXPECT_EQ(attn->qkv->options.out_features(), 12);
  EXPECT_EQ(attn->proj->options.in_features(), 4);

  // Cross-attention: q rows as above, kv rows in two head-major parts (k then v).
  CrossAttention cross(8, 5, 4);
  const auto kv = cross->kv->weight.detach().clone(), q = cross->q->weight.detach().clone();
  removeHeads(cross, {0, 2});
  EXPECT_TRUE(torch::equal(cross->q->weight, q.index_select(0, torch::tensor({0, 1, 4, 5}, torch::kInt64))));
  EXPECT_TRUE(
      torch::equal(cross->kv->weight, kv.index_select(0, torch::tensor({0, 1, 4, 5, 8, 9, 12, 13}, torch::kInt64))));
  EXPECT_EQ(cross->proj->weight.sizes(), (std::vector<std::int64_t>{8, 4}));

  GeluMlp mlp(8, 6);
  const auto fc1 = mlp->fc1->weight.detach().clone(), fc1Bias = mlp->fc1->bias.detach().clone();
  const auto fc2 = mlp->fc2->weight.detach().clone();
  removeNeurons(mlp, {0, 4, 5});
  const auto n = torch::tensor({0, 4, 5}, torch::kInt64);
  EXPECT_TRUE(torch::equal(mlp->fc1->weight, fc1.index_select(0, n)));
  EXPECT_TRUE(torch::equal(mlp->fc1->bias, fc1Bias.index_select(0, n)));
  EXPECT_TRUE(torch::equal(mlp->fc2->weight, fc2.index_select(1, n)));
  EXPECT_EQ(mlp->neurons(), 3);
}

TEST(StructuredPruneTest, GatesScaleEachHeadAndNeuronBeforeTheOutputProjection) {
  torch::manual_seed(3);
  SelfAttention attn(8, 4);
  GeluMlp mlp(8, 6);
  {
    torch::NoGradGuard noGrad;
    attn->proj->bias.zero_();
    mlp->fc2->bias.zero_();
  }
  const auto x = torch::randn({2, 3, 8});
  const auto a = attn->forward(x, {}), m = mlp->forward(x);
  attn->setHeadMask(torch::full({4}, 0.5));
  mlp->setNeuronMask(torch::full({6}, 0.5));
  EXPECT_TRUE(torch::allclose(attn->forward(x, {}), 0.5 * a, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(mlp->forward(x), 0.5 * m, 1e-6, 1e-6));
  // Gating head 2 alone equals zeroing proj's columns of head 2.
  attn->setHeadMask(torch::tensor({1.0f, 1.0f, 0.0f, 1.0f}));
  const auto gated = attn->forward(x, {});
  attn->setHeadMask({});
  {
    torch::NoGradGuard noGrad;
    attn->proj->weight.narrow(1, 4, 2).zero_();
  }
  EXPECT_TRUE(torch::allclose(attn->forward(x, {}), gated, 1e-6, 1e-6));
}

TEST(StructuredPruneTest, GradientsReachTheGates) {
  auto stack = makeStack(true, kContextDim, 4);
  stack->to(torch::kDouble);
  auto inputs = makeInputs(kContextDim);
  inputs.set(StackState::kHidden, inputs.at(StackState::kHidden).to(torch::kDouble));
  inputs.set(StackState::kContext, inputs.at(StackState::kContext).to(torch::kDouble));
  // Hard-concrete-like gates: mostly in (0.3, 1], some exactly 0.
  auto gen = at::detail::createCPUGenerator(9);
  auto gate = [&](std::int64_t n) {
    auto g = (0.3 + 0.7 * torch::rand({n}, gen, torch::kDouble)) * (torch::rand({n}, gen, torch::kDouble) > 0.25);
    return g.requires_grad_(true);
  };
  std::vector<BlockMasks> gates;
  for (int i = 0; i < kDepth; ++i) gates.push_back({gate(kHeads), gate(kHeads), gate(kMlp)});
  setMasks(stack, gates);
  auto loss = [&] { return run(stack, inputs).pow(2).mean(); };
  loss().backward();
  for (int i = 0; i < kDepth; ++i) {
    for (const auto& g : {gates[i].heads, gates[i].crossHeads, gates[i].neurons}) {
      ASSERT_TRUE(g.grad().defined()) << "block " << i;
      EXPECT_TRUE(torch::isfinite(g.grad()).all().item<bool>()) << "block " << i;
      const auto keptGrads = g.grad().masked_select(g.detach() > 0);
      EXPECT_TRUE(keptGrads.ne(0).all().item<bool>()) << "block " << i << ": " << g.grad();
    }
  }
  // The gradient is the derivative: compare one head gate and one neuron gate with central differences.
  const double eps = 1e-6;
  for (const auto& g : {gates[2].heads, gates[1].neurons}) {
    torch::NoGradGuard noGrad;
    const double analytic = g.grad()[0].item<double>();
    g[0] += eps;
    const double up = loss().item<double>();
    g[0] -= 2 * eps;
    const double down = loss().item<double>();
    g[0] += eps;
    EXPECT_NEAR(analytic, (up - down) / (2 * eps), 1e-6 + 1e-4 * std::abs(analytic));
  }
}

TEST(StructuredPruneTest, RemovalSlicesASetGateSoTheOutputStaysTheSame) {
  auto stack = makeStack(false, 0);
  const auto inputs = makeInputs(0);
  auto gen = at::detail::createCPUGenerator(2);
  std::vector<BlockMasks> gates;
  for (int i = 0; i < kDepth; ++i) {
    auto h = torch::rand({kHeads}, gen), n = torch::rand({kMlp}, gen);
    h[1] = 0.0;
    n.narrow(0, 0, 10).zero_();
    gates.push_back({h, {}, n});
  }
  setMasks(stack, gates);
  const auto before = run(stack, inputs);
  std::vector<BlockKeep> keeps;
  for (std::size_t i = 0; i < gates.size(); ++i)
    keeps.push_back(keepOf(stack->blocks()[i],
                           {gates[i].heads.ne(0).to(torch::kFloat), {}, gates[i].neurons.ne(0).to(torch::kFloat)}));
  pruneStack(stack, keeps);
  EXPECT_EQ(stack->blocks()[0]->attn->headMask().size(0), kHeads - 1);
  EXPECT_EQ(stack->blocks()[0]->mlp->neuronMask().size(0), kMlp - 10);
  EXPECT_LE((run(stack, inputs) - before).abs().max().item<double>(), 1e-5);
}

TEST(StructuredPruneTest, AnEmptySubLayerAddsOnlyItsOutputBias) {
  SelfAttention attn(8, 2);
  removeHeads(attn, {});
  EXPECT_EQ(attn->heads(), 0);
  EXPECT_EQ(attn->qkv->weight.sizes(), (std::vector<std::int64_t>{0, 8}));
  EXPECT_EQ(attn->proj->weight.sizes(), (std::vector<std::int64_t>{8, 0}));
  const auto x = torch::randn({2, 3, 8});
  EXPECT_TRUE(torch::equal(attn->forward(x, {}), attn->proj->bias.expand({2, 3, 8})));
  GeluMlp mlp(8, 4);
  removeNeurons(mlp, {});
  EXPECT_TRUE(torch::equal(mlp->forward(x), mlp->fc2->bias.expand({2, 3, 8})));
  // A gate of length 0 is still accepted (an L0 module may hand one to an emptied layer).
  mlp->setNeuronMask(torch::ones({0}));
  EXPECT_TRUE(torch::equal(mlp->forward(x), mlp->fc2->bias.expand({2, 3, 8})));
}

TEST(StructuredPruneTest, NamesStayAndLinearsListTheNewModules) {
  auto dense = makeStack(false, kContextDim);
  auto pruned = makeStack(false, kContextDim);
  pruneStackByMasks(pruned, mixedMasks(true));
  EXPECT_EQ(pruned->named_parameters().keys(), dense->named_parameters().keys());
  const auto refs = pruned->linears();
  const auto params = pruned->named_parameters();
  for (const auto& ref : refs) {
    const auto local = ref.name.substr(std::string("s.").size()) + ".weight";
    EXPECT_TRUE(ref.layer->weight.is_same(params[local])) << ref.name << " is a stale handle";
  }
  EXPECT_EQ(refs[0].layer->weight.size(0), 3 * kDim) << "block 0 keeps everything";
  EXPECT_EQ(refs[7].layer->weight.size(0), 0) << "block 1 has no heads left";
}

TEST(StructuredPruneTest, KeepingEverythingChangesNothing) {
  auto dense = makeStack(true, kContextDim);
  auto pruned = makeStack(true, kContextDim);
  pruneStackByMasks(pruned, std::vector<BlockMasks>(kDepth));
  const auto a = dense->named_parameters(), b = pruned->named_parameters();
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
  EXPECT_TRUE(torch::equal(run(dense, makeInputs(kContextDim)), run(pruned, makeInputs(kContextDim))));
}

TEST(StructuredPruneTest, RejectsBadMasksAndKeepListsWithoutChangingTheModel) {
  auto stack = makeStack(false, 0);
  const auto before = countParameters(*stack);
  auto masks = mixedMasks(false);
  masks[2].neurons[3] = 0.5;
  EXPECT_THROW(pruneStackByMasks(stack, masks), Error) << "soft gates cannot be removed";
  masks = mixedMasks(false);
  masks[2].heads = torch::ones({kHeads + 1});
  EXPECT_THROW(pruneStackByMasks(stack, masks), Error);
  masks = mixedMasks(false);
  masks[0].crossHeads = torch::ones({kHeads});
  EXPECT_THROW(pruneStackByMasks(stack, masks), Error) << "no cross-attention in this stack";
  EXPECT_THROW(pruneStackByMasks(stack, std::vector<BlockMasks>(kDepth - 1)), Error);
  std::vector<BlockKeep> keeps(kDepth, BlockKeep{{0, 1}, {}, {0}});
  keeps[2].heads = {1, 0};
  EXPECT_THROW(pruneStack(stack, keeps), Error) << "unsorted";
  keeps[2].heads = {0, kHeads};
  EXPECT_THROW(pruneStack(stack, keeps), Error) << "out of range";
  EXPECT_EQ(countParameters(*stack), before) << "a rejected call must leave every block as it was";
  auto firstBlock = stack->blocks()[0];
  EXPECT_THROW(firstBlock->attn->setHeadMask(torch::ones({kHeads - 1})), Error);
  EXPECT_THROW(firstBlock->mlp->setNeuronMask(torch::ones({kMlp}, torch::kInt64)), Error);
  try {
    masks = mixedMasks(false);
    masks[1].heads = torch::full({kHeads}, 2.0);
    pruneStackByMasks(stack, masks);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("block 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("binary"), std::string::npos) << e.what();
  }
}

TEST(StructuredPruneTest, APrunedCheckpointLoadsIntoAStackPrunedWithTheRecordedKeeps) {
  prunelab::testing::TempDir dir;
  const auto masks = mixedMasks(true);
  const auto inputs = makeInputs(kContextDim);
  auto pruned = makeStack(true, kContextDim, 11);
  const auto record = toJson(pruneStackByMasks(pruned, masks));
  bool trained = false;
  auto saved = model::loadOrTrain(*pruned, dir.path(), "pruned", "recipe", [&] { trained = true; });
  ASSERT_TRUE(trained);
  ASSERT_FALSE(saved.loaded);

  // Different initial weights: everything must come from the file.
  auto loader = makeStack(true, kContextDim, 99);
  pruneStack(loader, keepsFromJson(nlohmann::ordered_json::parse(record.dump())));
  auto loaded = model::loadOrTrain(*loader, dir.path(), "pruned", "recipe", [] { FAIL() << "must load, not train"; });
  EXPECT_TRUE(loaded.loaded);
  EXPECT_TRUE(torch::equal(run(loader, inputs), run(pruned, inputs)));

  // The dense shape cannot take the pruned weights, and the error says so.
  auto dense = makeStack(true, kContextDim, 99);
  EXPECT_THROW(model::loadOrTrain(*dense, dir.path(), "pruned", "recipe", [] {}), Error);

  EXPECT_THROW(keepsFromJson(nlohmann::ordered_json::parse(R"([{"heads": [0], "neurons": [1]}])")), Error);
  EXPECT_THROW(keepsFromJson(nlohmann::ordered_json::parse(R"({"heads": []})")), Error);
}

}  // namespace
}  // namespace prunelab::models
