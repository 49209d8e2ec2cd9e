#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include "framework/core/Error.h"
#include "models/transformer/TransformerStack.h"

namespace prunelab::models {
namespace {

constexpr std::int64_t kDim = 16;

TransformerStack makeStack(const std::string& name, bool causal, std::uint64_t seed = 7, std::int64_t contextDim = 0,
                           std::int64_t depth = 2) {
  return TransformerStack(StackOptions(name, name, depth, BlockOptions(kDim, 4).mlpDim(32).contextDim(contextDim))
                              .causal(causal)
                              .seed(seed));
}

torch::Tensor randomHidden(std::int64_t batch, std::int64_t tokens, std::uint64_t seed = 1) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randn({batch, tokens, kDim}, gen, torch::kFloat32);
}

torch::Tensor run(TransformerStack& stack, const torch::Tensor& hidden, model::Batch extra = {}) {
  extra.set(StackState::kHidden, hidden);
  return stack->forward(extra).at(StackState::kHidden);
}

TEST(ScaledDotProductAttentionTest, ZeroQueriesAverageTheAllowedValues) {
  // q = 0 gives equal scores, so each output is the mean of the values the query may see.
  auto q = torch::zeros({1, 1, 3, 2});
  auto k = torch::randn({1, 1, 3, 2});
  auto v = torch::tensor({1.0f, 10.0f, 2.0f, 20.0f, 6.0f, 60.0f}).view({1, 1, 3, 2});
  auto out = scaledDotProductAttention(q, k, v, causalMask(3, torch::kCPU).view({1, 1, 3, 3}));
  auto expected = torch::tensor({1.0f, 10.0f, 1.5f, 15.0f, 3.0f, 30.0f}).view({1, 1, 3, 2});
  EXPECT_TRUE(torch::allclose(out, expected, 1e-6, 1e-6)) << out;
  auto all = scaledDotProductAttention(q, k, v, {});
  EXPECT_TRUE(torch::allclose(all, torch::tensor({3.0f, 30.0f}).expand({1, 1, 3, 2}), 1e-6, 1e-6)) << all;
}

TEST(ScaledDotProductAttentionTest, AFullyMaskedQueryGivesZerosNotNaN) {
  auto q = torch::randn({1, 1, 2, 4}), k = torch::randn({1, 1, 3, 4}), v = torch::randn({1, 1, 3, 4});
  auto allowed = torch::tensor({true, true, false, false, false, false}).view({1, 1, 2, 3});
  auto out = scaledDotProductAttention(q, k, v, allowed);
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  EXPECT_TRUE(torch::equal(out.select(2, 1), torch::zeros({1, 1, 4})));
  // The other query equals attention over its two allowed keys alone.
  auto two = scaledDotProductAttention(q.narrow(2, 0, 1), k.narrow(2, 0, 2), v.narrow(2, 0, 2), {});
  EXPECT_TRUE(torch::allclose(out.narrow(2, 0, 1), two, 1e-6, 1e-6));
}

TEST(AttentionAllowedTest, CombinesCausalPaddingAndPairMasks) {
  EXPECT_FALSE(attentionAllowed(3, 3, false, {}, {}, torch::kCPU).defined());
  auto keyMask = torch::tensor({1, 1, 0, 1, 0, 0}, torch::kInt64).view({2, 3});
  auto a = attentionAllowed(3, 3, true, keyMask, {}, torch::kCPU);
  ASSERT_EQ(a.sizes(), (std::vector<std::int64_t>{2, 1, 3, 3}));
  auto expected = torch::tensor({1, 0, 0, 1, 1, 0, 1, 1, 0,   // row 0: causal and key 2 is padding
                                 1, 0, 0, 1, 0, 0, 1, 0, 0},  // row 1: only key 0 is real
                                torch::kBool)
                      .view({2, 1, 3, 3});
  EXPECT_TRUE(torch::equal(a, expected)) << a;
  auto pair = torch::tensor({0, 1, 1, 1}, torch::kInt64).view({2, 2});
  auto p = attentionAllowed(2, 2, false, {}, pair, torch::kCPU);
  EXPECT_TRUE(torch::equal(p, pair.ne(0).view({1, 1, 2, 2})));
  EXPECT_THROW(attentionAllowed(2, 3, true, {}, {}, torch::kCPU), Error);
  EXPECT_THROW(attentionAllowed(2, 2, false, torch::ones({1, 3}), {}, torch::kCPU), Error);
}

TEST(TransformerStackTest, KeepsTheShapeAndIsFinite) {
  auto stack = makeStack("language", true);
  auto out = run(stack, randomHidden(3, 5));
  EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{3, 5, kDim}));
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  EXPECT_EQ(stack->numBlocks(), 2);
  EXPECT_THROW(run(stack, torch::zeros({3, 5, kDim + 1})), Error);
}

TEST(TransformerStackTest, CausalOutputsIgnoreLaterTokens) {
  auto causal = makeStack("language", true);
  auto full = makeStack("language", false);
  auto x = randomHidden(2, 6);
  auto changed = x.clone();
  changed.select(1, 4).copy_(randomHidden(2, 1, 99).select(1, 0));  // change token 4 only
  auto maxDiff = [](const torch::Tensor& p, const torch::Tensor& q) { return (p - q).abs().max().item<double>(); };
  auto a = run(causal, x), b = run(causal, changed);
  EXPECT_EQ(maxDiff(a.narrow(1, 0, 4), b.narrow(1, 0, 4)), 0.0) << "tokens 0..3 must not see token 4";
  EXPECT_GT(maxDiff(a.narrow(1, 4, 2), b.narrow(1, 4, 2)), 1e-3);
  // Without the causal mask the same change reaches the earlier tokens: the check above can fail.
  EXPECT_GT(maxDiff(run(full, x).narrow(1, 0, 4), run(full, changed).narrow(1, 0, 4)), 1e-6);
}

TEST(TransformerStackTest, PaddedKeysDoNotReachRealTokens) {
  auto stack = makeStack("vision", false);
  auto x = randomHidden(1, 5);
  auto mask = torch::tensor({1, 1, 1, 0, 0}, torch::kInt64).view({1, 5});
  auto changed = x.clone();
  changed.narrow(1, 3, 2).normal_();
  model::Batch extra;
  extra.set(StackState::kMask, mask);
  auto a = run(stack, x, extra), b = run(stack, changed, extra);
  EXPECT_TRUE(torch::allclose(a.narrow(1, 0, 3), b.narrow(1, 0, 3), 0, 1e-6));
  EXPECT_FALSE(torch::allclose(run(stack, x).narrow(1, 0, 3), run(stack, changed).narrow(1, 0, 3), 0, 1e-4));
}

TEST(TransformerStackTest, CrossAttentionReadsTheContextAndHonoursItsMask) {
  auto stack = makeStack("bridge", false, 3, /*contextDim=*/8);
  auto x = randomHidden(1, 4);
  auto context = torch::randn({1, 3, 8});
  model::Batch extra;
  extra.set(StackState::kContext, context);
  auto base = run(stack, x, extra);
  auto changedContext = context.clone();
  changedContext.select(1, 2).add_(5.0);
  model::Batch other;
  other.set(StackState::kContext, changedContext);
  EXPECT_FALSE(torch::allclose(base, run(stack, x, other), 0, 1e-4)) << "output must depend on the context";
  auto contextMask = torch::tensor({1, 1, 0}, torch::kInt64).view({1, 3});
  extra.set(StackState::kContextMask, contextMask);
  other.set(StackState::kContextMask, contextMask);
  EXPECT_TRUE(torch::allclose(run(stack, x, extra), run(stack, x, other), 0, 1e-6)) << "masked context item leaked";
  EXPECT_THROW(run(stack, x), Error) << "a cross-attention stack without context must fail";
}

TEST(TransformerStackTest, ListsEveryLinearUnderItsCanonicalNameAndModality) {
  auto stack = makeStack("language", true);
  std::vector<std::string> names;
  for (const auto& ref : stack->linears()) {
    names.push_back(ref.name);
    EXPECT_EQ(ref.stack, "language");
    EXPECT_EQ(ref.modality, "language");
    EXPECT_EQ(ref.block, ref.name.at(std::string("language.blocks.").size()) - '0') << ref.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"language.blocks.0.attn.qkv", "language.blocks.0.attn.proj",
                                             "language.blocks.0.mlp.fc1", "language.blocks.0.mlp.fc2",
                                             "language.blocks.1.attn.qkv", "language.blocks.1.attn.proj",
                                             "language.blocks.1.mlp.fc1", "language.blocks.1.mlp.fc2"}));
  auto info = stack->info();
  EXPECT_EQ(info.name, "language");
  EXPECT_EQ(info.modality, "language");
  EXPECT_EQ(info.numBlocks, 2);

  auto bridge = makeStack("bridge", false, 1, 8, 1);
  names.clear();
  for (const auto& ref : bridge->linears()) names.push_back(ref.name);
  EXPECT_EQ(names, (std::vector<std::string>{"bridge.blocks.0.attn.qkv", "bridge.blocks.0.attn.proj",
                                             "bridge.blocks.0.cross.q", "bridge.blocks.0.cross.kv",
                                             "bridge.blocks.0.cross.proj", "bridge.blocks.0.mlp.fc1",
                                             "bridge.blocks.0.mlp.fc2"}));
  EXPECT_EQ(bridge->linears()[3].layer->weight.sizes(), (std::vector<std::int64_t>{2 * kDim, 8}));
}

TEST(TransformerStackTest, CanonicalNamesAreTheParameterNamesOfTheOwningModel) {
  torch::nn::Module root;
  auto stack = root.register_module("language", makeStack("language", true));
  auto params = root.named_parameters();
  for (const auto& ref : stack->linears()) {
    ASSERT_NE(params.find(ref.name + ".weight"), nullptr) << ref.name;
    EXPECT_TRUE(params[ref.name + ".weight"].is_same(ref.layer->weight)) << ref.name;
  }
}

TEST(TransformerStackTest, ForwardBlockChainEqualsForwardAndCarriesOtherFields) {
  auto stack = makeStack("language", true);
  model::Batch state;
  state.set(StackState::kHidden, randomHidden(2, 5));
  state.set(StackState::kMask, torch::tensor({1, 1, 1, 1, 0, 1, 1, 1, 0, 0}, torch::kInt64).view({2, 5}));
  state.set("tokens", torch::arange(10).view({2, 5}));
  auto full = stack->forward(state);
  model::Batch chained = state;
  for (int i = 0; i < stack->numBlocks(); ++i) chained = stack->forwardBlock(i, chained);
  EXPECT_TRUE(torch::equal(full.at(StackState::kHidden), chained.at(StackState::kHidden)));
  EXPECT_TRUE(torch::equal(chained.at("tokens"), state.at("tokens")));
  EXPECT_TRUE(torch::equal(chained.at(StackState::kMask), state.at(StackState::kMask)));
  EXPECT_THROW(stack->forwardBlock(2, state), Error);
}

TEST(TransformerStackTest, InitialWeightsComeFromTheSeedAlone) {
  auto weights = [](std::uint64_t seed) {
    torch::manual_seed(seed + 100);  // the global RNG must not matter
    auto s = makeStack("language", true, seed);
    std::vector<torch::Tensor> out;
    for (const auto& p : s->parameters()) out.push_back(p.detach().clone());
    return out;
  };
  auto a = weights(5), b = weights(5), c = weights(6);
  ASSERT_EQ(a.size(), b.size());
  bool anyDifferent = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
    anyDifferent = anyDifferent || !torch::equal(a[i], c[i]);
  }
  EXPECT_TRUE(anyDifferent);
  // Residual projections start smaller than the others (std 0.02/sqrt(2*depth) vs 0.02).
  auto s = makeStack("language", true, 5, 0, 8);
  auto refs = s->linears();
  EXPECT_LT(refs[1].layer->weight.std().item<double>(), 0.01);           // attn.proj
  EXPECT_NEAR(refs[0].layer->weight.std().item<double>(), 0.02, 0.002);  // attn.qkv
  EXPECT_EQ(refs[0].layer->bias.abs().sum().item<double>(), 0.0);
}

TEST(TransformerStackTest, ARecordingHoldsEveryHiddenStateAndAttentionMapAndChangesNothing) {
  auto stack = makeStack("cross", false, 3, /*contextDim=*/8, /*depth=*/3);
  auto x = randomHidden(2, 5);
  model::Batch state;
  state.set(StackState::kHidden, x);
  state.set(StackState::kContext, torch::randn({2, 4, 8}));
  state.set(StackState::kMask, torch::tensor({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, torch::kInt64).view({2, 5}));
  const auto plain = stack->forward(state).at(StackState::kHidden);
  model::StackRecording rec;
  stack->setRecording(&rec);
  const auto recorded = stack->forward(state).at(StackState::kHidden);
  stack->setRecording(nullptr);
  EXPECT_TRUE(torch::equal(plain, recorded)) << "recording must not change the output";
  ASSERT_EQ(rec.hidden.size(), 4u);
  EXPECT_TRUE(torch::equal(rec.hidden[0], x));
  model::Batch s = state;
  for (int b = 0; b < 3; ++b) {
    s = stack->forwardBlock(b, s);
    EXPECT_TRUE(torch::equal(rec.hidden[static_cast<std::size_t>(b) + 1], s.at(StackState::kHidden))) << b;
  }
  ASSERT_EQ(rec.selfAttention.size(), 3u);
  ASSERT_EQ(rec.crossAttention.size(), 3u);
  EXPECT_EQ(rec.selfAttention[0].sizes(), (std::vector<std::int64_t>{2, 4, 5, 5}));
  EXPECT_EQ(rec.crossAttention[2].sizes(), (std::vector<std::int64_t>{2, 4, 5, 4}));
  // Post-softmax: every row sums to 1; the padded keys of item 1 get no weight.
  EXPECT_TRUE(torch::allclose(rec.selfAttention[1].sum(-1), torch::ones({2, 4, 5}), 0, 1e-5));
  EXPECT_EQ(rec.selfAttention[1][1].narrow(-1, 3, 2).abs().sum().item<double>(), 0.0);
  // Detached again: nothing more is recorded.
  stack->forward(state);
  EXPECT_EQ(rec.hidden.size(), 4u);
}

}  // namespace
}  // namespace prunelab::models
