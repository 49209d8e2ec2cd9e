#include <gtest/gtest.h>

#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "datasets/fashion_scenes/SceneGenerator.h"
#include "datasets/fashion_scenes/WordTokenizer.h"
#include "framework/config/Composer.h"
#include "framework/core/Hash.h"
#include "framework/core/Options.h"
#include "models/mini_lm/MiniLm.h"
#include "tests/support/TextSource.h"
#include "tests/support/Assertions.h"
#include "tests/support/Fixtures.h"

namespace prunelab::models {
namespace {

namespace fs = std::filesystem;

MiniLm::Options tinyOptions() {
  MiniLm::Options o;
  o.vocab_size = 20;
  o.dim = 32;
  o.depth = 2;
  o.heads = 2;
  o.mlp_dim = 64;
  o.max_len = 16;
  o.steps = 30;
  o.batch_size = 8;
  o.lr = 5e-3;
  o.warmup_steps = 3;
  o.log_every = 10;
  return o;
}

testing::TextSource textSource(std::string fingerprint = "text-source-1") {
  return testing::TextSource(
      {{"lm_train", testing::countingSentences(64, 12, 10)}, {"lm_val", testing::countingSentences(16, 12, 10)}},
      std::move(fingerprint));
}

std::string weightsHash(MiniLm& lm) {
  Sha256 h;
  for (const auto& p : lm.module().named_parameters()) {
    auto t = p.value().detach().contiguous();
    h.update(p.key().data(), p.key().size());
    h.update(t.data_ptr(), static_cast<std::size_t>(t.numel()) * t.element_size());
  }
  return h.hex();
}

model::Batch tokensBatch(torch::Tensor tokens) {
  model::Batch b;
  b.set("tokens", std::move(tokens));
  return b;
}

TEST(MiniLmTest, StacksAndLinearsAreTheLanguageBlocksOnly) {
  MiniLm lm(tinyOptions());
  lm.build(0);
  auto stacks = lm.stacks();
  ASSERT_EQ(stacks.size(), 1u);
  EXPECT_EQ(stacks[0].name, "language");
  EXPECT_EQ(stacks[0].modality, "language");
  EXPECT_EQ(stacks[0].numBlocks, 2);
  auto refs = lm.linears();
  ASSERT_EQ(refs.size(), 8u) << "4 projections per block, no head or embedding";
  EXPECT_EQ(refs[0].name, "language.blocks.0.attn.qkv");
  EXPECT_EQ(refs[7].name, "language.blocks.1.mlp.fc2");
  auto params = lm.module().named_parameters();
  for (const auto& r : refs) {
    EXPECT_EQ(r.modality, "language");
    EXPECT_EQ(r.stack, "language");
    ASSERT_NE(params.find(r.name + ".weight"), nullptr) << r.name;
  }
  EXPECT_NE(params.find("tok_embed.weight"), nullptr);
  EXPECT_EQ(params.find("head.weight"), nullptr) << "the head is tied by default";
  auto untied = tinyOptions();
  untied.tie_embeddings = false;
  MiniLm lm2(untied);
  lm2.build(0);
  EXPECT_NE(lm2.module().named_parameters().find("head.weight"), nullptr);
  EXPECT_EQ(lm2.linears().size(), 8u);
}

TEST(MiniLmTest, ForwardBlockChainEqualsTheFullForward) {
  MiniLm lm(tinyOptions());
  lm.build(3);
  torch::NoGradGuard noGrad;
  auto batch = tokensBatch(testing::countingSentences(4, 12, 10));
  auto state = lm.stackInputs("language", batch);
  EXPECT_TRUE(state.has("mask")) << "padded rows carry their padding mask to later blocks";
  EXPECT_EQ(state.at("hidden").size(1), 8) << "columns that are padding in every row are dropped (longest row: 8)";
  for (int b = 0; b < 2; ++b) state = lm.forwardBlock("language", b, state);
  EXPECT_TRUE(torch::allclose(lm.lossFromState(state), lm.loss(batch), 0, 1e-6));
  EXPECT_THROW(lm.stackInputs("vision", batch), Error);
  EXPECT_THROW(lm.forwardBlock("language", 2, state), Error);
}

TEST(MiniLmTest, LossFromBlockResumesTheChainBitForBit) {
  MiniLm lm(tinyOptions());
  lm.build(5);
  torch::NoGradGuard noGrad;
  auto batch = tokensBatch(testing::countingSentences(4, 12, 10));
  const auto reference = lm.loss(batch);
  auto state = lm.stackInputs("language", batch);
  for (int b = 0; b <= 2; ++b) {
    EXPECT_TRUE(torch::equal(lm.lossFromBlock("language", b, state, batch), reference)) << "block " << b;
    if (b < 2) state = lm.forwardBlock("language", b, state);
  }
  EXPECT_THROW(lm.lossFromBlock("language", 3, state, batch), Error);

  // Several states entering block 1 at once: each entry is that state's own loss.
  auto entering = lm.forwardBlock("language", 0, lm.stackInputs("language", batch));
  auto perturbed = entering;
  perturbed.set("hidden", entering.at("hidden") + 0.5 * torch::randn(entering.at("hidden").sizes()));
  auto losses = lm.lossesFromBlock("language", 1, {entering, perturbed}, batch);
  ASSERT_EQ(losses.sizes(), (std::vector<std::int64_t>{2}));
  EXPECT_NEAR(losses[0].item<double>(), reference.item<double>(), 1e-5);
  EXPECT_NEAR(losses[1].item<double>(), lm.lossFromBlock("language", 1, perturbed, batch).item<double>(), 1e-5);
  EXPECT_GT(std::abs(losses[1].item<double>() - losses[0].item<double>()), 1e-4) << "the perturbation must show";
}

TEST(MiniLmTest, LogProbsAreCausalAndIgnoreRightPadding) {
  MiniLm lm(tinyOptions());
  lm.build(1);
  torch::NoGradGuard noGrad;
  auto tokens = torch::tensor({2, 7, 8, 9, 10, 3}, torch::kInt64).view({1, 6});
  auto lp = lm.nextTokenLogProbs(tokens);
  ASSERT_EQ(lp.sizes(), (std::vector<std::int64_t>{1, 6, 20}));
  EXPECT_TRUE(torch::allclose(lp.exp().sum(-1), torch::ones({1, 6}), 0, 1e-5));
  auto changed = tokens.clone();
  changed[0][4] = 15;
  auto lp2 = lm.nextTokenLogProbs(changed);
  EXPECT_TRUE(torch::allclose(lp.narrow(1, 0, 4), lp2.narrow(1, 0, 4), 0, 1e-6));
  EXPECT_FALSE(torch::allclose(lp.narrow(1, 4, 2), lp2.narrow(1, 4, 2), 0, 1e-4));
  auto padded = torch::cat({tokens, torch::zeros({1, 3}, torch::kInt64)}, 1);
  EXPECT_TRUE(torch::allclose(lm.nextTokenLogProbs(padded).narrow(1, 0, 6), lp, 0, 1e-5));
}

TEST(MiniLmTest, LossIgnoresPaddingTargets) {
  MiniLm lm(tinyOptions());
  lm.build(2);
  torch::NoGradGuard noGrad;
  auto row = torch::tensor({2, 7, 8, 9, 3}, torch::kInt64).view({1, 5});
  auto padded = torch::cat({row, torch::zeros({1, 4}, torch::kInt64)}, 1);
  EXPECT_TRUE(torch::allclose(lm.loss(tokensBatch(padded)), lm.loss(tokensBatch(row)), 0, 1e-6));
  // Mean over the 4 predicted tokens, computed independently from the log-probabilities.
  auto lp = lm.nextTokenLogProbs(row);
  double expected = 0;
  for (int t = 0; t < 4; ++t) expected -= lp[0][t][row[0][t + 1].item<std::int64_t>()].item<double>();
  EXPECT_NEAR(lm.loss(tokensBatch(row)).item<double>(), expected / 4, 1e-5);
  // A batch without "tokens" uses "captions" (scene splits used for calibration).
  model::Batch captions;
  captions.set("captions", padded);
  EXPECT_TRUE(torch::allclose(lm.loss(captions), lm.loss(tokensBatch(row)), 0, 1e-6));
}

TEST(MiniLmTest, RejectsTokensOutsideTheVocabularyOrPositions) {
  MiniLm lm(tinyOptions());
  lm.build(0);
  EXPECT_CONTAINS(testing::errorOf([&] {
                    lm.nextTokenLogProbs(torch::tensor({2, 25}, torch::kInt64).view({1, 2}));
                  }),
                  "vocab_size");
  EXPECT_CONTAINS(testing::errorOf([&] { lm.nextTokenLogProbs(torch::full({1, 17}, 2, torch::kInt64)); }), "max_len");
}

TEST(MiniLmTest, OverfitsASmallBatch) {
  MiniLm lm(tinyOptions());
  lm.build(4);
  auto batch = tokensBatch(testing::countingSentences(4, 12, 10));
  lm.module().train();
  torch::optim::AdamW optimizer(lm.module().parameters(), torch::optim::AdamWOptions(1e-2).weight_decay(0));
  const double first = lm.loss(batch).item<double>();
  double last = first;
  for (int step = 0; step < 150; ++step) {
    optimizer.zero_grad();
    auto l = lm.loss(batch);
    l.backward();
    optimizer.step();
    last = l.item<double>();
  }
  EXPECT_LT(last, 0.1 * first) << "loss went from " << first << " to " << last;
}

TEST(MiniLmTest, TrainingIsDeterministicAndCachedByRecipe) {
  testing::TempDir dir;
  auto data = textSource();
  std::vector<std::pair<std::string, double>> logged;
  model::ModelContext ctx;
  ctx.data = &data;
  ctx.cacheDir = dir / "a";
  ctx.seed = 11;
  ctx.logMetric = [&](const std::string& key, double value, std::int64_t) { logged.emplace_back(key, value); };

  MiniLm first(tinyOptions());
  first.prepare(ctx);
  ASSERT_TRUE(fs::exists(first.cacheFile()));
  fs::path json = fs::path(first.cacheFile()).replace_extension(".json");
  EXPECT_TRUE(fs::exists(json)) << "the model config lies beside the weights";
  ASSERT_FALSE(logged.empty());
  EXPECT_EQ(logged.front().first, "train/mini_lm/train/loss");
  EXPECT_EQ(logged.back().first, "train/mini_lm/val/loss");
  EXPECT_LT(logged[logged.size() - 2].second, logged.front().second) << "training loss must fall";

  // Same recipe in another cache: trained again, the same weights bit for bit.
  ctx.cacheDir = dir / "b";
  MiniLm second(tinyOptions());
  second.prepare(ctx);
  EXPECT_EQ(second.weightsId(), first.weightsId());
  EXPECT_EQ(weightsHash(second), weightsHash(first));

  // Same cache again: loaded, not trained (no split is read), identical weights.
  data.splitCalls = 0;
  MiniLm loaded(tinyOptions());
  loaded.prepare(ctx);
  EXPECT_EQ(data.splitCalls, 0) << "a cache hit must not touch the training data";
  EXPECT_EQ(weightsHash(loaded), weightsHash(first));

  // Another seed, other data or other options: another recipe, other weights.
  ctx.seed = 12;
  MiniLm reseeded(tinyOptions());
  reseeded.prepare(ctx);
  EXPECT_NE(reseeded.weightsId(), first.weightsId());
  EXPECT_NE(weightsHash(reseeded), weightsHash(first));
  auto otherData = textSource("text-source-2");
  ctx.data = &otherData;
  ctx.seed = 11;
  MiniLm otherRecipe(tinyOptions());
  otherRecipe.prepare(ctx);
  EXPECT_NE(otherRecipe.weightsId(), first.weightsId());
}

TEST(MiniLmTest, PresetsParseAndCoverTheFashionScenesVocabulary) {
  const auto size = datasets::WordTokenizer(datasets::SceneGenerator::vocabulary()).size();
  for (const char* preset : {"mini_lm", "mini_lm_tiny"}) {
    // Composed as a run composes it (the preset's defaults list picks its dataset).
    auto node = config::Composer(testing::repoConfigDir()).compose({std::string("model=") + preset}).config["model"];
    EXPECT_EQ(node["type"].as<std::string>(), "mini_lm");
    auto options = parseOptions<MiniLm::Options>(node, "model");
    EXPECT_EQ(options.vocab_size, size) << preset << ": vocab_size must equal the FashionScenes tokenizer's size";
  }
}

}  // namespace
}  // namespace prunelab::models
