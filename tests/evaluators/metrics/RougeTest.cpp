#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "evaluators/metrics/Rouge.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {
namespace {

TEST(RougeTest, PrecisionAndRecallMaximaAreIndependent) {
  // cand "a b c d" (4 tokens).
  //   ref1 "a b" (2): LCS 2 -> P = 2/4 = 0.5, R = 2/2 = 1.
  //   ref2 "a b c d e f g h" (8): LCS 4 -> P = 1, R = 4/8 = 0.5.
  // P* = 1 (ref2), R* = 1 (ref1): score = (1 + 1.44) * 1 * 1 / (1 + 1.44 * 1) = 1.
  // (Taking both from one reference would give at most (2.44 * 0.5) / (1 + 0.72) = 0.709.)
  EXPECT_NEAR(rougeLImage("a b c d", {"a b", "a b c d e f g h"}), 1.0, 1e-12);
}

TEST(RougeTest, SingleReferenceByHand) {
  // cand "a x b", ref "a b c": LCS 2, P = R = 2/3:
  //   (1 + b^2) P R / (R + b^2 P) = 2.44 * 4/9 / (2.44 * 2/3) = 2/3.
  EXPECT_NEAR(rougeLImage("a x b", {"a b c"}), 2.0 / 3.0, 1e-12);
  // cand "a b", ref "a b c d": P = 1, R = 0.5: 2.44 * 0.5 / (0.5 + 1.44) = 0.628866.
  EXPECT_NEAR(rougeLImage("a b", {"a b c d"}), 2.44 * 0.5 / (0.5 + 1.44), 1e-12);
}

TEST(RougeTest, TokensAreSplitOnSingleSpaces) {
  // split(" "): "" is one empty token, so an empty candidate matches an empty reference (score 1)
  // and scores 0 against anything else; double spaces create empty tokens.
  EXPECT_EQ(rougeLImage("", {""}), 1.0);
  EXPECT_EQ(rougeLImage("", {"a b"}), 0.0);
  // "a  b" = [a, "", b] vs "a b": LCS 2, P = 2/3, R = 1: 2.44 * 2/3 / (1 + 1.44 * 2/3).
  EXPECT_NEAR(rougeLImage("a  b", {"a b"}), 2.44 * (2.0 / 3.0) / (1.0 + 1.44 * 2.0 / 3.0), 1e-12);
}

TEST(RougeTest, LcsLength) {
  const std::vector<std::string_view> a = {"a", "b", "c", "b", "d", "a", "b"};
  const std::vector<std::string_view> b = {"b", "d", "c", "a", "b", "a"};
  EXPECT_EQ(lcsLength(a, b), 4u);  // the classic ABCBDAB / BDCABA example
  EXPECT_EQ(lcsLength(b, a), 4u);
  EXPECT_EQ(lcsLength({}, a), 0u);
}

TEST(RougeTest, CorpusMeanAndLongCaptions) {
  std::string longCaption;
  for (int i = 0; i < 3000; ++i) {
    longCaption += i == 0 ? "w" : " w";
  }
  const RougeScore score = rougeL({{"a x b", {"a b c"}}, {longCaption, {longCaption}}});
  ASSERT_EQ(score.perImage.size(), 2u);
  EXPECT_NEAR(score.perImage[1], 1.0, 1e-12);
  EXPECT_NEAR(score.score, (2.0 / 3.0 + 1.0) / 2.0, 1e-12);
  EXPECT_THROW(rougeL({}), prunelab::Error);
  EXPECT_THROW(rougeLImage("a", {}), prunelab::Error);
}

}  // namespace
}  // namespace prunelab::evaluators
