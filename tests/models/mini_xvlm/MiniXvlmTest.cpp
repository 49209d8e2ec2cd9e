#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <set>

#include "models/mini_xvlm/MiniXvlm.h"
#include "tests/support/Assertions.h"

namespace prunelab::models {
namespace {

using testing::errorOf;

void expectClose(const torch::Tensor& a, const torch::Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_LE((a - b).abs().max().item<double>(), tol) << what;
}

// Word ids of the tiny vocabulary: 6 "question", 7 "answer", content words 8..19.
constexpr int kQuestion = 6, kAnswer = 7;

MiniXvlm::Options tinyOptions(const std::string& variant = "teacher", const std::string& task = "pretrain") {
  MiniXvlm::Options o;
  o.vision_dim = 16;
  o.vision_depth = 2;
  o.vision_heads = 2;
  o.vision_mlp_dim = 32;
  o.vocab_size = 20;
  o.max_text_len = 12;
  o.text_dim = 16;
  o.text_depth = 2;
  o.cross_depth = 2;
  o.text_heads = 2;
  o.text_mlp_dim = 32;
  o.embed_dim = 8;
  o.variant = variant;
  o.task = task;
  return o;
}

// Answers "8", "9 10", "11".
const std::vector<std::vector<std::int64_t>> kAnswers = {{8}, {9, 10}, {11}};

std::unique_ptr<MiniXvlm> tinyModel(std::int64_t seed, const std::string& variant = "teacher",
                                    const std::string& task = "pretrain") {
  auto m = std::make_unique<MiniXvlm>(tinyOptions(variant, task));
  m->build(seed, task == "vqa" ? static_cast<std::int64_t>(kAnswers.size()) : 0);
  m->setVocabulary(kQuestion, kAnswer, task == "vqa" ? kAnswers : std::vector<std::vector<std::int64_t>>{});
  return m;
}

// B distinct images (patch i lit) with captions [BOS] w_i ... [EOS] of different lengths.
model::Batch pairs(std::int64_t b) {
  auto gen = at::detail::createCPUGenerator(11);
  auto images = 0.5 * torch::rand({b, 1, 56, 56}, gen);
  auto captions = torch::zeros({b, 8}, torch::kInt64);
  auto acc = captions.accessor<std::int64_t, 2>();
  for (std::int64_t i = 0; i < b; ++i) {
    images[i][0].narrow(0, 14 * (i % 4), 14).narrow(1, 14 * (i / 4 % 4), 14).fill_(1.0);
    acc[i][0] = 2;
    acc[i][1] = 8 + i % 12;
    for (std::int64_t j = 0; j < i % 3; ++j) acc[i][2 + j] = 8 + (i + j + 1) % 12;
    acc[i][2 + i % 3] = 3;
  }
  return model::Batch().set("images", images).set("captions", captions);
}

// The images of pairs(b) with questions [BOS] w [EOS] and answers from kAnswers ([EOS]-terminated).
model::Batch questions(std::int64_t b) {
  auto batch = pairs(b);
  auto q = torch::zeros({b, 6}, torch::kInt64), a = torch::zeros({b, 4}, torch::kInt64);
  for (std::int64_t i = 0; i < b; ++i) {
    q[i][0] = 2;
    q[i][1] = 12 + i % 3;
    q[i][2] = 3;
    const auto& ans = kAnswers[static_cast<std::size_t>(i % 3)];
    for (std::size_t j = 0; j < ans.size(); ++j) a[i][static_cast<std::int64_t>(j)] = ans[j];
    a[i][static_cast<std::int64_t>(ans.size())] = 3;
  }
  return model::Batch().set("images", batch.at("images")).set("questions", q).set("answers", a);
}

double overfit(MiniXvlm& m, const model::Batch& batch, int steps) {
  m.module().train();
  torch::optim::Adam opt(m.module().parameters(), torch::optim::AdamOptions(3e-3));
  const double first = m.loss(batch).item<double>();
  double last = first;
  for (int step = 0; step < steps; ++step) {
    opt.zero_grad();
    auto l = m.loss(batch);
    l.backward();
    // As the recipes do: without clipping, Adam at this rate is unstable on these dim images.
    torch::nn::utils::clip_grad_norm_(m.module().parameters(), 1.0);
    opt.step();
    last = l.item<double>();
  }
  EXPECT_LT(last, 0.1 * first) << "first " << first << " last " << last;
  return last;
}

TEST(MiniXvlmTest, OverfitsASmallBatchOfPairs) {
  auto mOwner = tinyModel(0);
  auto& m = *mOwner;
  overfit(m, pairs(8), 400);
}

TEST(MiniXvlmTest, AnOptimizerStepPastTheTemperatureRangeIsClampedBackAndStillLearns) {
  // ALBEF's clamp_ of the parameter: below 0.001 a forward-only clamp would have no gradient.
  auto mOwner = tinyModel(0);
  auto& m = *mOwner;
  auto temp = m.module().named_parameters()["itc_temp"];
  {
    torch::NoGradGuard noGrad;
    temp.fill_(-0.02);
  }
  auto loss = m.loss(pairs(4));
  EXPECT_FLOAT_EQ(temp.item<float>(), 0.001f);
  loss.backward();
  ASSERT_TRUE(temp.grad().defined());
  EXPECT_NE(temp.grad().item<double>(), 0.0) << "the clamped temperature gets a gradient again";
  {
    torch::NoGradGuard noGrad;
    temp.fill_(0.9);
  }
  m.loss(pairs(4));
  EXPECT_FLOAT_EQ(temp.item<float>(), 0.5f);
}

TEST(MiniXvlmTest, OverfitsASmallBatchOfQuestions) {
  auto mOwner = tinyModel(0, "teacher", "vqa");
  auto& m = *mOwner;
  overfit(m, questions(6), 100);
  // The trained classifier answers with the answer's token ids.
  m.module().eval();
  const auto batch = questions(6);
  std::vector<std::vector<std::int64_t>> prompts;
  for (std::int64_t i = 0; i < 6; ++i) prompts.push_back({2, kQuestion, 12 + i % 3, kAnswer});
  const auto answers = m.generate(batch, prompts, {});
  ASSERT_EQ(answers.size(), 6u);
  for (std::size_t i = 0; i < answers.size(); ++i) EXPECT_EQ(answers[i], kAnswers[i % 3]) << i;
}

TEST(MiniXvlmTest, EveryPrunableLinearHasItsCanonicalNameAndModality) {
  auto mOwner = tinyModel(0, "teacher", "vqa");
  auto& m = *mOwner;
  const auto stacks = m.stacks();
  ASSERT_EQ(stacks.size(), 3u);
  EXPECT_EQ(stacks[0].name, "vision");
  EXPECT_EQ(stacks[1].name, "text");
  EXPECT_EQ(stacks[2].name, "cross");
  std::set<std::string> names;
  for (const auto& l : m.linears()) {
    names.insert(l.name);
    EXPECT_EQ(l.modality, l.stack) << l.name;
    EXPECT_EQ(l.name.rfind(l.stack + ".blocks." + std::to_string(l.block) + ".", 0), 0u) << l.name;
  }
  // 4 per vision/text block, 7 per cross block (self, cross q/kv/proj, MLP).
  EXPECT_EQ(names.size(), 2u * 4u + 2u * 4u + 2u * 7u);
  for (const char* n : {"vision.blocks.1.mlp.fc2", "text.blocks.0.attn.qkv", "cross.blocks.1.cross.kv",
                        "cross.blocks.0.cross.q", "cross.blocks.0.mlp.fc1"})
    EXPECT_TRUE(names.count(n)) << n;
  std::set<std::string> prunable;
  for (const auto& item : m.module().named_modules("", false))
    if (std::dynamic_pointer_cast<model::PrunableLinearImpl>(item.value())) prunable.insert(item.key());
  EXPECT_EQ(prunable, names) << "heads and projections are plain Linears, every block Linear is listed";
}

TEST(MiniXvlmTest, EveryResumePointGivesTheLossBitForBit) {
  for (const bool vqa : {false, true}) {
    auto mOwner = tinyModel(3, "teacher", vqa ? "vqa" : "pretrain");
  auto& m = *mOwner;
    m.module().eval();
    torch::NoGradGuard noGrad;
    const auto batch = vqa ? questions(5) : pairs(5);
    const auto full = m.loss(batch);
    EXPECT_TRUE(std::isfinite(full.item<double>()));
    for (const char* stack : {"vision", "text", "cross"}) {
      auto state = m.stackInputs(stack, batch);
      for (int b = 0; b <= 2; ++b) {
        EXPECT_TRUE(torch::equal(m.lossFromBlock(stack, b, state, batch), full)) << stack << " block " << b;
        if (b < 2) state = m.forwardBlock(stack, b, state);
      }
    }
  }
}

TEST(MiniXvlmTest, StudentHasHalfTheDepthAndStartsFromTheTeachersEvenBlocks) {
  auto teacherOwner = tinyModel(1);
  auto& teacher = *teacherOwner;
  auto studentOwner = tinyModel(2, "student");
  auto& student = *studentOwner;
  for (const auto& s : student.stacks()) EXPECT_EQ(s.numBlocks, 1) << s.name;
  auto t = teacher.module().named_parameters();
  // Before: a fresh student differs from the teacher (another seed).
  EXPECT_FALSE(torch::equal(student.module().named_parameters()["vision.blocks.0.mlp.fc1.weight"],
                            t["vision.blocks.0.mlp.fc1.weight"]));
  student.initFromTeacher(teacher.net());
  std::size_t blockParams = 0;
  for (const auto& p : student.module().named_parameters()) {
    std::string name = p.key();
    for (const char* stack : {"vision", "text", "cross"}) {
      const std::string prefix = std::string(stack) + ".blocks.0.";
      if (name.rfind(prefix, 0) == 0 && p.value().dim() == 2) {
        // Student block 0 is teacher block 0 (the even one), not block 1 (LayerNorms and the
        // zero-initialised biases are alike in every block, so the matrices tell them apart).
        EXPECT_FALSE(torch::equal(p.value(), t[std::string(stack) + ".blocks.1." + name.substr(prefix.size())]))
            << name;
        ++blockParams;
      }
    }
    EXPECT_TRUE(torch::equal(p.value(), t[name])) << name;
  }
  EXPECT_EQ(blockParams, 4u + 4u + 7u);
}

TEST(MiniXvlmTest, WithTwoBlocksPerStackTheStudentTakesBlocksZeroAndTwo) {
  auto o = tinyOptions();
  o.vision_depth = 4;
  MiniXvlm teacher(o);
  teacher.build(1);
  o.variant = "student";
  MiniXvlm student(o);
  student.build(2);
  student.initFromTeacher(teacher.net());
  auto t = teacher.module().named_parameters();
  auto s = student.module().named_parameters();
  EXPECT_TRUE(torch::equal(s["vision.blocks.0.attn.qkv.weight"], t["vision.blocks.0.attn.qkv.weight"]));
  EXPECT_TRUE(torch::equal(s["vision.blocks.1.attn.qkv.weight"], t["vision.blocks.2.attn.qkv.weight"]));
  EXPECT_FALSE(torch::equal(s["vision.blocks.1.attn.qkv.weight"], t["vision.blocks.1.attn.qkv.weight"]));
}

TEST(MiniXvlmTest, GatedBlocksDescribeEveryStackAndBinaryGatesEqualPhysicalRemoval) {
  auto mOwner = tinyModel(4, "teacher", "vqa");
  auto& m = *mOwner;
  m.module().eval();
  const auto blocks = m.gatedBlocks();
  ASSERT_EQ(blocks.size(), 6u);
  EXPECT_EQ(blocks[0].stack, "vision");
  EXPECT_EQ(blocks[0].layout.modality, "vision");
  EXPECT_EQ(blocks[2].layout.modality, "text");
  EXPECT_EQ(blocks[4].layout.modality, "cross");
  EXPECT_EQ(blocks[4].layout.contextDim, 16);
  EXPECT_EQ(blocks[4].layout.headGates(), 4);  // 2 self + 2 cross
  EXPECT_EQ(blocks[0].layout.headGates(), 2);
  prune::StructureValues keep;
  auto gen = at::detail::createCPUGenerator(9);
  for (const auto& b : blocks) {
    auto heads = (torch::rand({b.layout.headGates()}, gen) < 0.5).to(torch::kFloat);
    heads[0] = 1;
    keep.heads.push_back(heads);
    keep.neurons.push_back((torch::rand({b.layout.mlpDim}, gen) < 0.6).to(torch::kFloat));
  }
  torch::NoGradGuard noGrad;
  const auto pairBatch = pairs(4), questionBatch = questions(4);
  m.setStructureGates(keep);
  const auto maskedPairs = m.loss(pairBatch), maskedVqa = m.loss(questionBatch);
  const auto maskedText = m.textEmbeddings(pairBatch.at("captions"));
  m.removeStructures(keep);
  expectClose(m.loss(pairBatch), maskedPairs, 1e-5, "pair loss");
  expectClose(m.loss(questionBatch), maskedVqa, 1e-5, "vqa loss");
  expectClose(m.textEmbeddings(pairBatch.at("captions")), maskedText, 1e-5, "text embeddings");
  // The weights shrank as the gates said; the record lists every stack.
  std::size_t b = 0;
  for (const auto& l : m.linears()) {
    if (l.name.size() < 8 || l.name.substr(l.name.size() - 8) != ".mlp.fc1") continue;
    EXPECT_EQ(l.layer->weight.size(0), keep.neurons[b].sum().item<std::int64_t>()) << l.name;
    ++b;
  }
  EXPECT_EQ(b, blocks.size());
  // A block whose self- and cross-attention kept different counts cannot be gated again.
  EXPECT_NE(errorOf([&] { m.gatedBlocks(); }).find("equal counts"), std::string::npos);
  const auto meta = m.checkpointMetadata();
  const auto structure = nlohmann::ordered_json::parse(meta.at("structure"));
  ASSERT_EQ(structure.size(), 1u);
  for (const char* s : {"vision", "text", "cross"}) EXPECT_TRUE(structure[0].contains(s)) << s;
}

TEST(MiniXvlmTest, MagnitudesAreTheNormsOfTheWeightsBehindEachStructure) {
  auto mOwner = tinyModel(5);
  auto& m = *mOwner;
  const auto mags = m.structureMagnitudes();
  const auto blocks = m.gatedBlocks();
  ASSERT_EQ(mags.heads.size(), blocks.size());
  auto p = m.module().named_parameters();
  // Neuron 3 of vision block 1: its fc1 row and fc2 column.
  const auto fc1 = p["vision.blocks.1.mlp.fc1.weight"], fc2 = p["vision.blocks.1.mlp.fc2.weight"];
  const double expected = std::sqrt(fc1[3].pow(2).sum().item<double>() + fc2.select(1, 3).pow(2).sum().item<double>());
  EXPECT_NEAR(mags.neurons[1][3].item<double>(), expected, 1e-5);
  // Head 1 of text block 0 (head width 8): q, k, v rows 8..15 of each third and proj columns 8..15.
  const auto qkv = p["text.blocks.0.attn.qkv.weight"], proj = p["text.blocks.0.attn.proj.weight"];
  double sq = proj.narrow(1, 8, 8).pow(2).sum().item<double>();
  for (int part = 0; part < 3; ++part) sq += qkv.narrow(0, part * 16 + 8, 8).pow(2).sum().item<double>();
  EXPECT_NEAR(mags.heads[2][1].item<double>(), std::sqrt(sq), 1e-5);
}

TEST(MiniXvlmTest, BadOptionsFailWithTheFix) {
  auto o = tinyOptions("student");
  o.vision_depth = 3;
  EXPECT_NE(errorOf([&] { MiniXvlm m(o); }).find("must be even"), std::string::npos);
  o = tinyOptions();
  o.task = "vqaa";
  EXPECT_NE(errorOf([&] { MiniXvlm m(o); }).find("did you mean 'vqa'"), std::string::npos);
  auto mOwner = tinyModel(0);
  auto& m = *mOwner;
  EXPECT_NE(errorOf([&] { m.generate(pairs(1), {{2, 6, 7}}, {}); }).find("task=vqa"), std::string::npos);
}

}  // namespace
}  // namespace prunelab::models
