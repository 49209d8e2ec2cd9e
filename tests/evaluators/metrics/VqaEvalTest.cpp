#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "evaluators/metrics/VqaEval.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {
namespace {

// Ten GT answers of which `matches` equal "2" and the rest "3" (so they differ and get normalised).
std::vector<std::string> gtsWithMatches(int matches) {
  std::vector<std::string> gts;
  for (int i = 0; i < 10; ++i) {
    gts.push_back(i < matches ? "2" : "3");
  }
  return gts;
}

TEST(VqaEvalTest, LeaveOneOutAccuracyPerMatchCount) {
  // acc = mean_i min(1, #{j != i : g_j == pred} / 3) with m of 10 GTs matching:
  //   m GTs see m-1 other matches, 10-m GTs see m:  acc = (m*min(1,(m-1)/3) + (10-m)*min(1,m/3)) / 10
  //   m=0: 0;  m=1: (0 + 9/3)/10 = 0.3;  m=2: (2/3 + 16/3)/10 = 0.6;  m=3: (3*2/3 + 7)/10 = 0.9;
  //   m=4: (4 + 6)/10 = 1;  m=10: 1.
  const double expected[] = {0.0, 0.3, 0.6, 0.9, 1.0};
  for (int m = 0; m <= 4; ++m) {
    EXPECT_NEAR(vqaQuestionAccuracy("2", gtsWithMatches(m)), expected[m], 1e-12) << "matches = " << m;
  }
  EXPECT_NEAR(vqaQuestionAccuracy("2", std::vector<std::string>(10, "2")), 1.0, 1e-12);
  EXPECT_NEAR(vqaQuestionAccuracy("2", gtsWithMatches(7)), 1.0, 1e-12);
}

TEST(VqaEvalTest, IdenticalGtsUseRawEquality) {
  // len(set(gts)) == 1: no normalisation at all, so case and punctuation matter.
  const std::vector<std::string> yes(10, "Yes");
  EXPECT_EQ(vqaQuestionAccuracy("yes", yes), 0.0);
  EXPECT_EQ(vqaQuestionAccuracy("Yes", yes), 1.0);
  EXPECT_EQ(vqaQuestionAccuracy("Yes.", yes), 0.0);
  // Cleaning still applies: tabs/newlines become spaces and the answer is stripped.
  EXPECT_EQ(vqaQuestionAccuracy("\tYes\n", yes), 1.0);
  // One differing GT switches normalisation on: "Yes"/"yes." both normalise to "yes" (9 matches).
  std::vector<std::string> mixed(9, "Yes");
  mixed.push_back("no");
  EXPECT_NEAR(vqaQuestionAccuracy("yes.", mixed), 1.0, 1e-12);
}

TEST(VqaEvalTest, ProcessPunctuation) {
  // '!' touches no space: replaced by a space; the trailing space survives until split().
  EXPECT_EQ(vqaProcessPunctuation("yes!"), "yes ");
  // ',' is followed by a space: deleted.
  EXPECT_EQ(vqaProcessPunctuation("red, white"), "red white");
  // digit,digit anywhere in the input: every listed punctuation mark is deleted, not spaced.
  EXPECT_EQ(vqaProcessPunctuation("1,000"), "1000");
  EXPECT_EQ(vqaProcessPunctuation("a-b 1,2"), "ab 12");
  EXPECT_EQ(vqaProcessPunctuation("t-shirt"), "t shirt");
  // ' and : are not in the list.
  EXPECT_EQ(vqaProcessPunctuation("don't 10:30"), "don't 10:30");
  // Periods go unless a digit follows.
  EXPECT_EQ(vqaProcessPunctuation("3.5 ft."), "3.5 ft");
  EXPECT_EQ(vqaProcessPunctuation("..5"), ".5");
}

TEST(VqaEvalTest, AtMost32PeriodsAreRemoved) {
  // re.sub(..., s, re.UNICODE) passes re.UNICODE == 32 as the count: only the first 32 periods go.
  std::string dots(40, '.');
  EXPECT_EQ(vqaProcessPunctuation(dots), std::string(8, '.'));
  EXPECT_EQ(vqaProcessPunctuation("a." + std::string(31, '.') + "b.c."), "ab.c.");
}

TEST(VqaEvalTest, ProcessDigitArticle) {
  EXPECT_EQ(vqaProcessDigitArticle("Two Dogs"), "2 dogs");
  EXPECT_EQ(vqaProcessDigitArticle("none"), "0");
  EXPECT_EQ(vqaProcessDigitArticle("ten"), "10");
  EXPECT_EQ(vqaProcessDigitArticle("eleven"), "eleven");
  EXPECT_EQ(vqaProcessDigitArticle("the cat on a mat an apple"), "cat on mat apple");
  EXPECT_EQ(vqaProcessDigitArticle("  dont   know  "), "don't know");
  EXPECT_EQ(vqaProcessDigitArticle("youre wont yall'll"), "you're won't y'all'll");
  // Capitalised keys of the map ("Im", "Ive") can never match after lower().
  EXPECT_EQ(vqaProcessDigitArticle("Im"), "im");
  EXPECT_EQ(vqaNormalizeAnswer("The two dogs!"), "2 dogs");
}

TEST(VqaEvalTest, NormalisationMatchesNumbersAndArticles) {
  std::vector<std::string> gts = {"2", "2", "2", "two", "2 ", "3", "3", "3", "3", "3"};
  // Normalised GTs: five "2"; prediction "Two." -> "2": 5 matches -> 1.0.
  EXPECT_NEAR(vqaQuestionAccuracy("Two.", gts), 1.0, 1e-12);
  // "a dog" vs "dog": articles are dropped on both sides.
  std::vector<std::string> dog = {"dog", "dog", "a dog", "cat", "cat", "cat", "cat", "cat", "cat", "cat"};
  EXPECT_NEAR(vqaQuestionAccuracy("the dog", dog), 0.9, 1e-12);
}

TEST(VqaEvalTest, AggregatesLikeVqaEval) {
  VqaAccuracyAggregator agg;
  // acc 1.0, 0.3, 0.6 (see LeaveOneOutAccuracyPerMatchCount).
  agg.add({1, "2", gtsWithMatches(4), "yes/no", "is the"});
  agg.add({2, "2", gtsWithMatches(1), "yes/no", "how many"});
  agg.add({3, "2", gtsWithMatches(2), "number", "how many"});
  const VqaAccuracy acc = agg.result();
  // overall = round(100 * 1.9 / 3, 2) = round(63.333.., 2); yes/no = round(100 * 1.3 / 2) = 65;
  // number = 60; "how many" = round(100 * 0.9 / 2, 2) = 45; per question round(100 * acc, 2).
  EXPECT_DOUBLE_EQ(acc.overall, 63.33);
  EXPECT_DOUBLE_EQ(acc.perAnswerType.at("yes/no"), 65.0);
  EXPECT_DOUBLE_EQ(acc.perAnswerType.at("number"), 60.0);
  EXPECT_DOUBLE_EQ(acc.perQuestionType.at("is the"), 100.0);
  EXPECT_DOUBLE_EQ(acc.perQuestionType.at("how many"), 45.0);
  EXPECT_DOUBLE_EQ(acc.perQuestion.at(2), 30.0);
  EXPECT_EQ(acc.numQuestions, 3u);
}

TEST(VqaEvalTest, RejectsDuplicatesAndEmptyInputs) {
  VqaAccuracyAggregator agg;
  agg.add({7, "yes", {"yes"}, "yes/no", "is"});
  EXPECT_THROW(agg.add({7, "no", {"no"}, "yes/no", "is"}), prunelab::Error);
  EXPECT_THROW(agg.add({8, "no", {}, "yes/no", "is"}), prunelab::Error);
  EXPECT_THROW(VqaAccuracyAggregator().result(), prunelab::Error);
  EXPECT_THROW(vqaQuestionAccuracy("x", {}), prunelab::Error);
}

TEST(VqaEvalTest, PythonRoundTiesToEven) {
  EXPECT_DOUBLE_EQ(pythonRound(0.125, 2), 0.12);  // exact binary tie -> even
  EXPECT_DOUBLE_EQ(pythonRound(0.375, 2), 0.38);  // exact binary tie -> even
  EXPECT_DOUBLE_EQ(pythonRound(2.675, 2), 2.67);  // 2.675 is 2.67499999... in binary
  EXPECT_DOUBLE_EQ(pythonRound(56.125, 2), 56.12);
  EXPECT_DOUBLE_EQ(pythonRound(100.0 / 3.0, 2), 33.33);
}

TEST(VqaEvalTest, GqaExactMatchAfterBothNormalisers) {
  // "Two" == "2", "the dog" == "dog", "yes" != "no": 2 of 3 -> 66.66...
  EXPECT_NEAR(gqaAccuracy({"Two", "the dog", "yes"}, {"2", "dog", "no"}), 200.0 / 3.0, 1e-12);
  EXPECT_THROW(gqaAccuracy({"a"}, {}), prunelab::Error);
  EXPECT_THROW(gqaAccuracy({}, {}), prunelab::Error);
}

TEST(VqaEvalTest, UnicodeAndLongAnswersDoNotCrash) {
  std::vector<std::string> gts = {"caf\xC3\xA9", "caf\xC3\xA9", "caf\xC3\xA9", "tea", "tea",
                                  "tea",         "tea",         "tea",         "tea", "tea"};
  EXPECT_NEAR(vqaQuestionAccuracy("CAF\xC3\x89", gts), 0.9, 1e-12);  // É lower-cases to é
  const std::string longAnswer(100000, 'x');
  EXPECT_EQ(vqaQuestionAccuracy(longAnswer, gts), 0.0);
  EXPECT_NO_THROW(vqaQuestionAccuracy("\xFF\xFE broken", gts));
}

}  // namespace
}  // namespace prunelab::evaluators
