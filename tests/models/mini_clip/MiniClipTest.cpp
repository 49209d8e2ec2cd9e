#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <set>

#include "models/mini_clip/MiniClip.h"
#include "tests/support/RunFixture.h"

namespace prunelab::models {
namespace {

MiniClip::Options tinyOptions() {
  MiniClip::Options o;
  o.dim = 16;
  o.heads = 2;
  o.mlp_dim = 32;
  o.vision_depth = 2;
  o.text_depth = 2;
  o.embed_dim = 8;
  o.vocab_size = 20;
  o.max_len = 8;
  return o;
}

// B distinct images and captions: seeded noise images with patch i lit, caption i says word 6+i;
// captions are right-padded to different lengths so the padding mask matters.
model::Batch pairs(std::int64_t b) {
  auto gen = at::detail::createCPUGenerator(11);
  auto images = 0.5 * torch::rand({b, 1, 56, 56}, gen);
  auto captions = torch::zeros({b, 8}, torch::kInt64);
  auto acc = captions.accessor<std::int64_t, 2>();
  for (std::int64_t i = 0; i < b; ++i) {
    images[i][0].narrow(0, 8 * (i % 7), 8).narrow(1, 8 * (i / 7), 8).fill_(1.0);
    acc[i][0] = 2;
    acc[i][1] = 6 + i;
    for (std::int64_t j = 0; j < i % 3; ++j) acc[i][2 + j] = 6 + (i + j + 1) % 12;
    acc[i][2 + i % 3] = 3;
  }
  return model::Batch().set("images", images).set("captions", captions);
}

TEST(MiniClipTest, OverfitsASmallBatch) {
  MiniClip m(tinyOptions());
  m.build(0);
  auto batch = pairs(8);
  m.module().train();
  torch::optim::Adam opt(m.module().parameters(), torch::optim::AdamOptions(3e-3));
  const double first = m.loss(batch).item<double>();
  ASSERT_GT(first, 1.0) << "an untrained model cannot tell the pairs apart";
  double last = first;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    auto l = m.loss(batch);
    l.backward();
    opt.step();
    last = l.item<double>();
  }
  EXPECT_LT(last, 0.1 * first) << "first " << first << " last " << last;
}

TEST(MiniClipTest, EveryPrunableLinearHasItsCanonicalNameAndModality) {
  MiniClip m(tinyOptions());
  m.build(0);
  auto stacks = m.stacks();
  ASSERT_EQ(stacks.size(), 2u);
  EXPECT_EQ(stacks[0].name, "vision");
  EXPECT_EQ(stacks[0].modality, "vision");
  EXPECT_EQ(stacks[1].name, "language");
  EXPECT_EQ(stacks[1].modality, "language");
  std::set<std::string> names;
  for (const auto& l : m.linears()) {
    names.insert(l.name);
    EXPECT_EQ(l.modality, l.stack) << l.name;
    EXPECT_EQ(l.name.rfind(l.stack + ".blocks." + std::to_string(l.block) + ".", 0), 0u) << l.name;
  }
  EXPECT_EQ(names.size(), 2u * 2u * 4u) << "qkv, proj, fc1, fc2 per block, 2 blocks per stack";
  // Every PrunableLinear of the module is listed under its parameter path; projections are plain Linears.
  std::set<std::string> prunable;
  for (const auto& item : m.module().named_modules("", false))
    if (std::dynamic_pointer_cast<model::PrunableLinearImpl>(item.value())) prunable.insert(item.key());
  EXPECT_EQ(prunable, names);
  EXPECT_TRUE(names.count("vision.blocks.1.mlp.fc2"));
  EXPECT_TRUE(names.count("language.blocks.0.attn.qkv"));
}

TEST(MiniClipTest, BlockByBlockEqualsTheFullForward) {
  MiniClip m(tinyOptions());
  m.build(3);
  m.module().eval();
  torch::NoGradGuard noGrad;
  auto batch = pairs(5);
  auto v = m.stackInputs("vision", batch);
  for (int b = 0; b < 2; ++b) v = m.forwardBlock("vision", b, v);
  auto img = m.imageEmbeddings(batch);
  EXPECT_TRUE(torch::equal(m.imageEmbeddingsFromState(v), img));
  EXPECT_NEAR(img.norm(2, 1).sub(1).abs().max().item<double>(), 0.0, 1e-5);

  auto t = m.stackInputs("language", batch);
  EXPECT_TRUE(torch::equal(t.at("image_embeds"), img)) << "image embeddings travel in the language state";
  for (int b = 0; b < 2; ++b) t = m.forwardBlock("language", b, t);
  EXPECT_TRUE(torch::equal(m.textEmbeddingsFromState(t), m.textEmbeddings(batch.at("captions"))));
  const auto full = m.loss(batch);
  EXPECT_TRUE(torch::equal(m.lossFromState(t), full));
  EXPECT_TRUE(torch::equal(
      m.lossFromBlock("language", 1, m.forwardBlock("language", 0, m.stackInputs("language", batch)), batch), full));
  EXPECT_TRUE(torch::equal(m.lossFromBlock("vision", 2, v, batch), full));
}

TEST(MiniClipTest, PaddingDoesNotChangeATextEmbedding) {
  MiniClip m(tinyOptions());
  m.build(1);
  torch::NoGradGuard noGrad;
  auto short3 = torch::tensor({2, 7, 3}, torch::kInt64).view({1, 3});
  auto padded = torch::tensor({2, 7, 3, 0, 0, 0}, torch::kInt64).view({1, 6});
  auto two = torch::tensor({{2, 7, 3, 0, 0, 0}, {2, 8, 9, 10, 11, 3}}, torch::kInt64);
  EXPECT_TRUE(torch::allclose(m.textEmbeddings(short3), m.textEmbeddings(padded), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(m.textEmbeddings(short3), m.textEmbeddings(two)[0].unsqueeze(0), 1e-5, 1e-6));
}

TEST(MiniClipTest, SameSeedSameWeights) {
  MiniClip a(tinyOptions()), b(tinyOptions()), c(tinyOptions());
  a.build(7);
  b.build(7);
  c.build(8);
  auto pa = a.module().named_parameters(), pb = b.module().named_parameters(), pc = c.module().named_parameters();
  bool anyDiffers = false;
  for (const auto& p : pa) {
    EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
    anyDiffers = anyDiffers || !torch::equal(p.value(), pc[p.key()]);
  }
  EXPECT_TRUE(anyDiffers);
}

TEST(MiniClipTest, ErrorsSayWhatIsWrong) {
  MiniClip m(tinyOptions());
  m.build(0);
  auto bad = torch::tensor({{2, 50, 3}}, torch::kInt64);
  EXPECT_THROW(m.textEmbeddings(bad), Error);
  EXPECT_THROW(m.stackInputs("bridge", pairs(2)), Error);
  model::Batch noImages;
  noImages.set("captions", pairs(2).at("captions"));
  EXPECT_THROW(m.lossFromState(m.stackInputs("language", noImages)), Error);
}

class MiniClipRunTest : public testing::TinyRunTest {};

TEST_F(MiniClipRunTest, TrainsDeterministicallyAndLoadsFromTheCache) {
  auto first = run({"model=mini_clip_tiny", "dataset=fashion_scenes_tiny", "eval=retrieval", "pruner=none"});
  ASSERT_EQ(first.status, store::RunStatus::Finished) << first.error;
  auto m1 = store_.metrics(first.runId);
  ASSERT_TRUE(m1.count("train/mini_clip/train/loss"));
  // A second run of the same recipe loads the cached weights: same metrics, no training curve.
  auto second = run({"model=mini_clip_tiny", "dataset=fashion_scenes_tiny", "eval=retrieval", "pruner=none"});
  ASSERT_EQ(second.status, store::RunStatus::Finished) << second.error;
  auto m2 = store_.metrics(second.runId);
  EXPECT_FALSE(m2.count("train/mini_clip/train/loss"));
  for (const auto& key : {"ret/fashion_scenes/test/i2t_r1", "ret/fashion_scenes/test/t2i_r10"})
    EXPECT_EQ(m1.at(key), m2.at(key)) << key;
  // Training again from scratch (a fresh cache) gives the same weights, hence the same metrics.
  auto third = run({"model=mini_clip_tiny", "dataset=fashion_scenes_tiny", "eval=retrieval", "pruner=none",
                    "cache_dir=" + (dir_.path() / "cache2").string()});
  ASSERT_EQ(third.status, store::RunStatus::Finished) << third.error;
  EXPECT_EQ(testing::withoutTimes(store_.metrics(third.runId)), testing::withoutTimes(m1));
}

}  // namespace
}  // namespace prunelab::models
