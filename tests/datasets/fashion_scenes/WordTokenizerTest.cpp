#include <gtest/gtest.h>

#include <fstream>

#include "datasets/fashion_scenes/SceneGenerator.h"
#include "datasets/fashion_scenes/WordTokenizer.h"
#include "framework/core/Error.h"
#include "tests/support/Fixtures.h"

namespace prunelab::datasets {
namespace {

using Ids = std::vector<std::int64_t>;

WordTokenizer sceneTokenizer() { return WordTokenizer(SceneGenerator::vocabulary()); }

TEST(WordTokenizerTest, SpecialTokensHaveFixedIds) {
  const WordTokenizer t = sceneTokenizer();
  EXPECT_EQ(t.token(0), "[PAD]");
  EXPECT_EQ(t.token(1), "[UNK]");
  EXPECT_EQ(t.token(2), "[BOS]");
  EXPECT_EQ(t.token(3), "[EOS]");
  EXPECT_EQ(t.token(4), "[SEP]");
  EXPECT_EQ(t.token(5), "[MASK]");
  EXPECT_EQ(WordTokenizer::kPad, 0);
  EXPECT_GT(t.size(), 100);
  EXPECT_EQ(WordTokenizer().size(), WordTokenizer::kNumSpecial);
}

TEST(WordTokenizerTest, NormalisesCaseAndPunctuation) {
  EXPECT_EQ(WordTokenizer::words("What is at the TOP left?"),
            (std::vector<std::string>{"what", "is", "at", "the", "top", "left"}));
  EXPECT_EQ(WordTokenizer::words("A t-shirt, a bag and 3 coats."),
            (std::vector<std::string>{"a", "t-shirt", "a", "bag", "and", "3", "coats"}));
  EXPECT_EQ(WordTokenizer::words("question: is there a bag? answer: yes"),
            (std::vector<std::string>{"question", "is", "there", "a", "bag", "answer", "yes"}));
  EXPECT_EQ(WordTokenizer::words(" - 'quoted' -- "), (std::vector<std::string>{"quoted"}));
  EXPECT_TRUE(WordTokenizer::words("").empty());
  EXPECT_TRUE(WordTokenizer::words("?!.,;:").empty());
}

TEST(WordTokenizerTest, EncodeDecodeRoundTrip) {
  const WordTokenizer t = sceneTokenizer();
  const std::string caption = "A sneaker at the top left, an ankle boot at the bottom right.";
  const Ids ids = t.encode(caption, -1, true, true);
  EXPECT_EQ(ids.front(), WordTokenizer::kBos);
  EXPECT_EQ(ids.back(), WordTokenizer::kEos);
  EXPECT_EQ(ids.size(), 15u);
  for (std::int64_t id : ids) EXPECT_NE(id, WordTokenizer::kUnk);
  EXPECT_EQ(t.decode(ids), "a sneaker at the top left an ankle boot at the bottom right");
  Ids padded = ids;
  padded.insert(padded.end(), 5, WordTokenizer::kPad);
  EXPECT_EQ(t.decode(padded), t.decode(ids));
  EXPECT_EQ(t.decode(t.encode("is there a t-shirt?")), "is there a t-shirt");
}

TEST(WordTokenizerTest, UnknownWordsMapToUnkAndNothingCrashes) {
  const WordTokenizer t = sceneTokenizer();
  EXPECT_EQ(t.encode("a zebra"), (Ids{t.id("a"), WordTokenizer::kUnk}));
  EXPECT_EQ(t.id("zebra"), WordTokenizer::kUnk);
  // Special-token spellings in text are ordinary (unknown) words, never the special ids.
  EXPECT_EQ(t.encode("[PAD] [EOS]"), (Ids{WordTokenizer::kUnk, WordTokenizer::kUnk}));
  EXPECT_EQ(t.encode("caf\xC3\xA9 \xFF\xFE"), (Ids{WordTokenizer::kUnk, WordTokenizer::kUnk}));
  EXPECT_TRUE(t.encode("").empty());
  EXPECT_EQ(t.encode("", -1, true, true), (Ids{WordTokenizer::kBos, WordTokenizer::kEos}));
  EXPECT_EQ(t.decode({-7, 1, 999999, t.id("bag")}), "[UNK] [UNK] [UNK] bag");
  EXPECT_EQ(t.decode({WordTokenizer::kSep, t.id("bag"), WordTokenizer::kEos, t.id("coat")}), "[SEP] bag");
  std::string longText;
  for (int i = 0; i < 10000; ++i) longText += "bag ";
  EXPECT_EQ(t.encode(longText).size(), 10000u);
}

TEST(WordTokenizerTest, MaxLenKeepsTheFraming) {
  const WordTokenizer t = sceneTokenizer();
  const Ids ids = t.encode("one two three four five six", 5, true, true);
  EXPECT_EQ(ids, (Ids{WordTokenizer::kBos, t.id("one"), t.id("two"), t.id("three"), WordTokenizer::kEos}));
  EXPECT_EQ(t.encode("one two", 2, true, true), (Ids{WordTokenizer::kBos, WordTokenizer::kEos}));
  EXPECT_EQ(t.encode("one two three", 2).size(), 2u);
  EXPECT_THROW(t.encode("one", 1, true, true), Error);
}

TEST(WordTokenizerTest, JsonRoundTripAndFile) {
  const WordTokenizer t = sceneTokenizer();
  const WordTokenizer back = WordTokenizer::fromJson(t.toJson());
  EXPECT_EQ(back, t);
  EXPECT_EQ(back.encode("what is directly left of the bag?"), t.encode("what is directly left of the bag?"));
  testing::TempDir dir;
  t.save(dir / "tokenizer.json");
  EXPECT_EQ(WordTokenizer::load(dir / "tokenizer.json"), t);
  EXPECT_NE(WordTokenizer(std::vector<std::string>{"bag"}), t);
}

TEST(WordTokenizerTest, MalformedJsonIsAClearError) {
  auto message = [](const std::string& json) {
    try {
      WordTokenizer::fromJson(json);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("{not json").find("does not parse"), std::string::npos);
  EXPECT_NE(message("{\"type\":\"bpe\"}").find("prunelab.word_tokenizer"), std::string::npos);
  const std::string head = "{\"type\":\"prunelab.word_tokenizer\",\"version\":1,\"vocab\":";
  EXPECT_NE(message(head + "[\"[UNK]\",\"[PAD]\",\"[BOS]\",\"[EOS]\",\"[SEP]\",\"[MASK]\"]}").find("/vocab/0"),
            std::string::npos);
  EXPECT_NE(message(head + "[\"[PAD]\",\"[UNK]\",\"[BOS]\",\"[EOS]\",\"[SEP]\",\"[MASK]\",\"a\",\"a\"]}").find("twice"),
            std::string::npos);
  EXPECT_NE(message("{\"type\":\"prunelab.word_tokenizer\",\"version\":9,\"vocab\":[]}").find("version"),
            std::string::npos);
  testing::TempDir dir;
  std::ofstream(dir / "bad.json") << "[]";
  try {
    WordTokenizer::load(dir / "bad.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(WordTokenizer::load(dir / "missing.json"), Error);
}

}  // namespace
}  // namespace prunelab::datasets
