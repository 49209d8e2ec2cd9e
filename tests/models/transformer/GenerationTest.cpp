#include <gtest/gtest.h>

#include <cmath>

#include "framework/core/Error.h"
#include "models/transformer/Generation.h"

namespace prunelab::models {
namespace {

// Vocabulary: 0 [PAD], 1 [BOS], 2 "A", 3 "B", 4 [EOS]. Next-token probabilities by what came last:
//   after [BOS]      A .5  B .4  EOS .1
//   after A (len 2)  A .4  B .3  EOS .3
//   after B (len 2)  A .05 B .05 EOS .9
//   longer           EOS 1 (others ~0)
// Greedy: A, then A, then EOS -> "A A", probability .2. Beam search with 2 beams finds "B"
// (.36): after step 1 the candidates are B·EOS .36 (finished, rank 0), A·A .2, A·B .15, A·EOS .15;
// then A·A·EOS scores ln(.2)/3 = -0.536 and A·B·EOS ln(.15)/3 = -0.632, both below ln(.36)/2 = -0.511.
constexpr std::int64_t kEos = 4;

torch::Tensor table(const torch::Tensor& tokens) {
  const auto n = tokens.size(0), len = tokens.size(1);
  auto p = torch::full({n, 5}, 1e-9, torch::kFloat64);
  for (std::int64_t r = 0; r < n; ++r) {
    const auto last = tokens[r][len - 1].item<std::int64_t>();
    if (len == 1) {
      p[r][2] = .5, p[r][3] = .4, p[r][kEos] = .1;
    } else if (len == 2 && last == 2) {
      p[r][2] = .4, p[r][3] = .3, p[r][kEos] = .3;
    } else if (len == 2 && last == 3) {
      p[r][2] = .05, p[r][3] = .05, p[r][kEos] = .9;
    } else {
      p[r][kEos] = 1.0;
    }
  }
  return p.log();
}

const NextTokenLogProbs step = [](const torch::Tensor&, const torch::Tensor& tokens) { return table(tokens); };

model::GenerationOptions options(std::int64_t beams, std::int64_t minLen = 0, std::int64_t maxLen = 10) {
  model::GenerationOptions o;
  o.numBeams = beams;
  o.minLength = minLen;
  o.maxLength = maxLen;
  return o;
}

TEST(GenerationTest, GreedyTakesTheLocallyBestToken) {
  auto prompts = torch::tensor({1}, torch::kInt64).view({1, 1});
  auto out = decodeTokens(step, prompts, options(1), kEos);
  EXPECT_EQ(out.at(0), (std::vector<std::int64_t>{2, 2}));
}

TEST(GenerationTest, BeamSearchFindsTheMoreProbableSequence) {
  auto prompts = torch::tensor({1, 1}, torch::kInt64).view({2, 1});
  auto out = decodeTokens(step, prompts, options(2), kEos);
  EXPECT_EQ(out.at(0), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(out.at(1), (std::vector<std::int64_t>{3})) << "items decode independently";
}

TEST(GenerationTest, MinAndMaxLengthBoundTheOutput) {
  auto prompts = torch::tensor({1}, torch::kInt64).view({1, 1});
  // max_len 1: the first token only.
  EXPECT_EQ(decodeTokens(step, prompts, options(1, 0, 1), kEos).at(0), (std::vector<std::int64_t>{2}));
  // Beam, min_len 2: "B EOS" is no longer allowed at step 1; B·A / B·B (.02) lose to A·A (.2).
  auto out = decodeTokens(step, prompts, options(2, 2), kEos);
  EXPECT_EQ(out.at(0), (std::vector<std::int64_t>{2, 2}));
  // min_len 3 with every longer sequence ending: EOS is masked until 3 tokens exist.
  EXPECT_EQ(decodeTokens(step, prompts, options(1, 3), kEos).at(0).size(), 3u);
}

TEST(GenerationTest, RowsCarryTheirItem) {
  // Item 1 always ends at once; item 0 follows the table.
  NextTokenLogProbs byItem = [](const torch::Tensor& items, const torch::Tensor& tokens) {
    auto lp = table(tokens);
    for (std::int64_t r = 0; r < items.size(0); ++r)
      if (items[r].item<std::int64_t>() == 1) lp[r].fill_(std::log(1e-9)), lp[r][kEos] = 0.0;
    return lp;
  };
  auto prompts = torch::tensor({1, 1}, torch::kInt64).view({2, 1});
  auto greedy = decodeTokens(byItem, prompts, options(1), kEos);
  EXPECT_EQ(greedy.at(0), (std::vector<std::int64_t>{2, 2}));
  EXPECT_TRUE(greedy.at(1).empty());
  auto beam = decodeTokens(byItem, prompts, options(3), kEos);
  EXPECT_EQ(beam.at(0), (std::vector<std::int64_t>{3}));
  EXPECT_TRUE(beam.at(1).empty());
}

TEST(GenerationTest, BadOptionsAreErrors) {
  auto prompts = torch::tensor({1}, torch::kInt64).view({1, 1});
  EXPECT_THROW(decodeTokens(step, prompts, options(0), kEos), Error);
  EXPECT_THROW(decodeTokens(step, prompts, options(1, 5, 3), kEos), Error);
}

}  // namespace
}  // namespace prunelab::models
