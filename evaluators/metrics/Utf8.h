#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace prunelab::evaluators {

// Small UTF-8 helpers that reproduce the Python 3 `str` operations the reference metric scripts use
// (strip, split, split(" "), lower) on UTF-8 bytes, without ICU.
//
// Invalid UTF-8 never throws: each invalid byte decodes to U+DC80+byte (Python's "surrogateescape")
// and encodes back to the same byte, so arbitrary bytes round-trip unchanged.

/// Decodes UTF-8; invalid bytes become U+DC80..U+DCFF (round-trip safe, never throws).
std::u32string decodeUtf8(std::string_view text);

/// Encodes code points as UTF-8; U+DC80..U+DCFF become the raw byte they stand for.
std::string encodeUtf8(std::u32string_view text);

/// Appends one code point to `out` as UTF-8 (same escape rule as encodeUtf8).
void appendUtf8(std::string& out, char32_t codePoint);

/// True for the code points Python 3's str.isspace() accepts (what str.split()/strip() remove).
bool isPythonSpace(char32_t codePoint);

/// Python 3 `s.strip()`: removes leading and trailing Unicode whitespace.
std::string pythonStrip(std::string_view text);

/// Python 3 `s.split()`: splits on runs of Unicode whitespace, drops empty pieces.
/// The views point into `text`.
std::vector<std::string_view> pythonSplit(std::string_view text);

/// Python `s.split(" ")`: splits on every single space; keeps empty pieces ("" -> {""}).
std::vector<std::string_view> pythonSplitOnSpace(std::string_view text);

/// Lower-cases one code point: ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals.
/// Other scripts are returned unchanged (Python's full Unicode table is not reproduced).
char32_t toLowerCodePoint(char32_t codePoint);

/// Python `s.lower()` restricted to the ranges of toLowerCodePoint().
std::string pythonLower(std::string_view text);

}  // namespace prunelab::evaluators
