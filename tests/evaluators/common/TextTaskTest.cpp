#include <gtest/gtest.h>

#include "evaluators/common/TextTask.h"
#include "tests/support/Assertions.h"
#include "tests/support/FakeTextModels.h"

namespace prunelab::evaluators {
namespace {

TEST(TextTaskTest, LimitedSplitNamesASubsetOnly) {
  EXPECT_EQ(limitedSplitName("test", -1, 50), "test");
  EXPECT_EQ(limitedSplitName("test", 50, 50), "test") << "a limit covering the split is the split";
  EXPECT_EQ(limitedSplitName("test", 80, 50), "test");
  EXPECT_EQ(limitedSplitName("test", 20, 50), "test[:20]");
}

TEST(TextTaskTest, PromptsAreBosAndKnownWordsWithinTheTextLength) {
  testing::FakeTextSource text({"question", "answer", "a", "bag"}, 5);
  EXPECT_EQ(encodePrompt(text, "", "caption", "prompt"), std::vector<std::int64_t>{2});
  const auto ids = encodePrompt(text, "Question: a bag? Answer:", "vqa", "prompt");
  EXPECT_EQ(ids, text.encodeText("question a bag answer", -1, true, false));
  EXPECT_EQ(unknownWords(text, "query: a (zebra)? bag"), (std::vector<std::string>{"query", "zebra"}));
  auto message = testing::errorOf([&] { encodePrompt(text, "query: a bag", "vqa", "prompt"); });
  EXPECT_CONTAINS(message, "'query'");
  EXPECT_CONTAINS(message, "eval.*.prompt");
  EXPECT_CONTAINS(testing::errorOf([&] { encodePrompt(text, "a bag a bag a", "vqa", "prompt"); }), "text length 5");
}

TEST(TextTaskTest, FilesAndKeyFields) {
  EXPECT_EQ(fillPlaceholder("question: {} answer: {}", "x"), "question: x answer: x");
  EXPECT_EQ(metricKeyField("yes/no"), "yes_no");
  EXPECT_EQ(metricKeyField("what color is the"), "what_color_is_the");
  EXPECT_TRUE(outputFile("", "/runs/r1").empty());
  EXPECT_TRUE(outputFile("p.json", "").empty()) << "relative file and no run folder: nothing written";
  EXPECT_EQ(outputFile("p.json", "/runs/r1"), std::filesystem::path("/runs/r1/p.json"));
  EXPECT_EQ(outputFile("/tmp/p.json", "/runs/r1"), std::filesystem::path("/tmp/p.json"));
  EXPECT_EQ(withStemSuffix("/runs/r1/p.json", "_questions"), std::filesystem::path("/runs/r1/p_questions.json"));
}

}  // namespace
}  // namespace prunelab::evaluators
