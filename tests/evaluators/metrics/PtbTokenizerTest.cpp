#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "evaluators/metrics/PtbTokenizer.h"

namespace prunelab::evaluators {
namespace {

std::string joined(const std::vector<std::string>& tokens) {
  std::string out;
  for (const std::string& t : tokens) {
    out += out.empty() ? "" : " ";
    out += t;
  }
  return out;
}

// Golden outputs produced by CoreNLP 3.4.1's own PTBLexer (the class inside stanford-corenlp-3.4.1.jar,
// compiled from the v3.4.1 tag) with default options, one line at a time, each token lower-cased with
// Locale.ENGLISH exactly as `PTBTokenizer -preserveLines -lowerCase` does. Not produced by this code.
struct GoldenCase {
  const char* input;
  const char* tokens;
};

const std::vector<GoldenCase>& goldenCases() {
  static const std::vector<GoldenCase> cases = {
      {"A man riding a wave on top of a surfboard.", "a man riding a wave on top of a surfboard ."},
      {"A man (in red) can't ride a bike.", "a man -lrb- in red -rrb- ca n't ride a bike ."},
      {"\"Hello,\" she said.", "`` hello , '' she said ."},
      {"The dog's bone isn't there", "the dog 's bone is n't there"},
      {"Dogs' toys -- and a 3.5-inch screen...", "dogs ' toys -- and a 3.5-inch screen ..."},
      {"There's a 10:30 sign, and 1,000 people.", "there 's a 10:30 sign , and 1,000 people ."},
      {"A black-and-white photo of a cat; it's sleeping.", "a black-and-white photo of a cat ; it 's sleeping ."},
      {"St. Patrick's day parade in N.Y. City", "st. patrick 's day parade in n.y. city"},
      {"A plate with 1 1/2 sandwiches & fries.",
       "a plate with 1\xC2\xA0"
       "1/2 sandwiches & fries ."},
      {"He said “don’t” and left…", "he said `` do n't '' and left ..."},
      {"Wow!!! Really?! Yes?", "wow !!! really ?! yes ?"},
      {"I'm gonna eat; you cannot stop me.", "i 'm gon na eat ; you can not stop me ."},
      {"a sign that says [stop] and {go}", "a sign that says -lsb- stop -rsb- and -lcb- go -rcb-"},
      {"The 90's were great, '90s too", "the 90 's were great , '90s too"},
      {"o'clock and O'Neil and y'all", "o'clock and o'neil and y' all"},
      {"a.m. and etc. and Mr. Smith and a.", "a.m. and etc. and mr. smith and a."},
      {"costs ¢50 or £20 or €30 and ½ cup", "costs cents 50 or # 20 or $ 30 and 1/2 cup"},
      {"A naïve café in São Paulo — nice – ok", "a naïve café in são paulo -- nice -- ok"},
      {"Смотри: Кошка сидит.", "смотри : кошка сидит ."},
      {"日本語のテキスト、テスト。", "日本語のテキスト 、 テスト 。"},
      {"a 😀 emoji and http://example.com/x. done", "a emoji and http://example.com/x . done"},
      {"the <unk> token and </s> end", "the <unk> token and </s> end"},
      {"email me at john.doe@example.com now", "email me at john.doe@example.com now"},
      {"AT&T store and C++ code", "at&t store and c++ code"},
      {"a 1-800-555-1234 number", "a 1-800-555-1234 number"},
      {"Mar. 5 and no. 7", "mar. 5 and no. 7"},
      {"The word x-ray and the hot_dog", "the word x-ray and the hot_dog"},
      {"trailing spaces   ", "trailing spaces"},
      // Soft hyphens (U+00AD) are removed from words and numbers; a lone one becomes "-".
      {"co\xC2\xADop erat\xC2\xADion \xC2\xAD 1\xC2\xAD" "000", "coop eration - 1000"},
      {"do\xC2\xADn't a\xC2\xAD" "b-c", "do n't ab-c"},
  };
  return cases;
}

TEST(PtbTokenizerTest, MatchesCoreNlp341OnGoldenCaptions) {
  for (const GoldenCase& c : goldenCases()) {
    EXPECT_EQ(joined(ptbTokens(c.input)), c.tokens) << "input: " << c.input;
  }
}

TEST(PtbTokenizerTest, CocoTokenizeDropsOnlyTheListedPunctuation) {
  // Hand-applied pycocoevalcap filter on the golden tokens above: '' ' `` ` . ? ! , : - -- ... ; go,
  // but "-lrb-" (lower case, the list has -LRB-), "!!!" and "?!" stay.
  EXPECT_EQ(cocoTokenize("A man (in red) can't ride a bike."), "a man -lrb- in red -rrb- ca n't ride a bike");
  EXPECT_EQ(cocoTokenize("\"Hello,\" she said."), "hello she said");
  EXPECT_EQ(cocoTokenize("Dogs' toys -- and a 3.5-inch screen..."), "dogs toys and a 3.5-inch screen");
  EXPECT_EQ(cocoTokenize("Wow!!! Really?! Yes?"), "wow !!! really ?! yes");
  EXPECT_EQ(cocoTokenize("There's a 10:30 sign, and 1,000 people."), "there 's a 10:30 sign and 1,000 people");
  EXPECT_EQ(cocoTokenize("He said \xE2\x80\x9C"
                         "don\xE2\x80\x99t\xE2\x80\x9D and left\xE2\x80\xA6"),
            "he said do n't and left");
}

TEST(PtbTokenizerTest, PunctuationListIsExact) {
  for (const char* t :
       {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}) {
    EXPECT_TRUE(isCocoPunctuation(t)) << t;
  }
  for (const char* t : {"-lrb-", "-LSB-", "!!", "?!", "..", "a", ""}) {
    EXPECT_FALSE(isCocoPunctuation(t)) << t;
  }
}

TEST(PtbTokenizerTest, EmptyAndWhitespaceOnlyCaptions) {
  EXPECT_TRUE(ptbTokens("").empty());
  EXPECT_EQ(cocoTokenize(""), "");
  EXPECT_EQ(cocoTokenize(" \t  "), "");
  EXPECT_EQ(cocoTokenize("..."), "");
}

TEST(PtbTokenizerTest, NewlineLikeCharactersAreSpaces) {
  EXPECT_EQ(cocoTokenize("a dog\r\non grass\x0B"
                         "today"),
            "a dog on grass today");
}

TEST(PtbTokenizerTest, Utf8LettersStayInsideTokens) {
  // é (C3 A9), ß (C3 9F), Cyrillic and CJK are letters: no split, lower-cased where covered.
  EXPECT_EQ(cocoTokenize("Caf\xC3\xA9 STRA\xC3\x9F"
                         "E \xD0\x9A\xD0\xBE\xD1\x82"),
            "caf\xC3\xA9 stra\xC3\x9F"
            "e \xD0\xBA\xD0\xBE\xD1\x82");
  EXPECT_EQ(cocoTokenize("\xC3\x89T\xC3\x89"), "\xC3\xA9t\xC3\xA9");
}

TEST(PtbTokenizerTest, EmojiAreDeletedLikeTheJarDoes) {
  // U+1F600 is two UTF-16 surrogates for the lexer, neither tokenizable: deleted, and it splits the word.
  EXPECT_EQ(cocoTokenize("dog\xF0\x9F\x98\x80"
                         "cat \xF0\x9F\x98\x80"),
            "dog cat");
}

TEST(PtbTokenizerTest, InvalidUtf8NeverThrowsAndKeepsBytes) {
  const std::string broken = std::string(
                                 "ab\xFF"
                                 "cd \xC3") +
                             "x \xE2\x82";
  std::string out;
  EXPECT_NO_THROW(out = cocoTokenize(broken));
  EXPECT_EQ(out,
            "ab\xFF"
            "cd \xC3x \xE2\x82");
}

TEST(PtbTokenizerTest, VeryLongCaption) {
  std::string caption;
  for (int i = 0; i < 20000; ++i) {
    caption += "a dog, ";
  }
  const std::string tokens = cocoTokenize(caption);
  // 40000 words survive; the 20000 commas are dropped.
  EXPECT_EQ(std::count(tokens.begin(), tokens.end(), ' '), 39999);
}

}  // namespace
}  // namespace prunelab::evaluators
