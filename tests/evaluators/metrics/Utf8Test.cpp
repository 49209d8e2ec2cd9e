#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "evaluators/metrics/Utf8.h"

namespace prunelab::evaluators {
namespace {

TEST(Utf8Test, RoundTripsValidAndInvalidBytes) {
  const std::string valid = "a\xC3\xA9\xE2\x80\x94\xF0\x9F\x98\x80";  // a é — 😀
  EXPECT_EQ(decodeUtf8(valid), (std::u32string{U'a', 0xE9, 0x2014, 0x1F600}));
  EXPECT_EQ(encodeUtf8(decodeUtf8(valid)), valid);
  // Stray continuation, truncated sequence, overlong form, encoded surrogate: escaped byte by byte.
  const std::string invalid = "\x80x\xE2\x82\xC0\xAF\xED\xA0\x80";
  const std::u32string decoded = decodeUtf8(invalid);
  EXPECT_EQ(decoded[0], char32_t{0xDC80});
  EXPECT_EQ(encodeUtf8(decoded), invalid);
}

TEST(Utf8Test, PythonSplitAndStrip) {
  // str.split() splits on Unicode whitespace: \t, U+00A0, U+3000, U+2028 ...
  const std::vector<std::string_view> parts = pythonSplit(
      " a\tb\xC2\xA0"
      "c\xE3\x80\x80"
      "d\xE2\x80\xA8  ");
  EXPECT_EQ(parts, (std::vector<std::string_view>{"a", "b", "c", "d"}));
  EXPECT_TRUE(pythonSplit("  \n ").empty());
  EXPECT_EQ(pythonStrip("\xC2\xA0 x y\t\n"), "x y");
  EXPECT_EQ(pythonStrip("\xE2\x80\x94"), "\xE2\x80\x94");  // an em dash is not whitespace
}

TEST(Utf8Test, SplitOnSingleSpaceKeepsEmptyPieces) {
  EXPECT_EQ(pythonSplitOnSpace(""), (std::vector<std::string_view>{""}));
  EXPECT_EQ(pythonSplitOnSpace("a  b "), (std::vector<std::string_view>{"a", "", "b", ""}));
}

TEST(Utf8Test, LowerCase) {
  EXPECT_EQ(pythonLower("ABC \xC3\x89\xC3\x9C \xD0\x96 \xCE\xA3 \xC5\x81"),
            "abc \xC3\xA9\xC3\xBC \xD0\xB6 \xCF\x83 \xC5\x82");
  EXPECT_EQ(pythonLower("\xFF"
                        "A"),
            "\xFF"
            "a");  // invalid bytes pass through
}

}  // namespace
}  // namespace prunelab::evaluators
