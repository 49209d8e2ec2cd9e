#include "evaluators/metrics/Utf8.h"

#include <cstdint>

namespace prunelab::evaluators {

namespace {

constexpr char32_t kEscapeBase = 0xDC00;  // surrogateescape: byte b <-> U+DC00+b (b >= 0x80)

// Decodes the code point starting at text[i]; sets `length` to the bytes consumed (>= 1).
char32_t decodeOne(std::string_view text, std::size_t i, std::size_t& length) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  length = 1;
  if (b0 < 0x80) {
    return b0;
  }
  std::size_t need = 0;
  char32_t cp = 0;
  char32_t minValue = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, cp = b0 & 0x1F, minValue = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, cp = b0 & 0x0F, minValue = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, cp = b0 & 0x07, minValue = 0x10000;
  } else {
    return kEscapeBase + b0;
  }
  if (i + need >= text.size()) {  // truncated sequence
    return kEscapeBase + b0;
  }
  for (std::size_t k = 1; k <= need; ++k) {
    const unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) {
      return kEscapeBase + b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and values past U+10FFFF are invalid in UTF-8.
  if (cp < minValue || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    return kEscapeBase + b0;
  }
  length = need + 1;
  return cp;
}

bool isAsciiPythonSpace(unsigned char c) { return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20); }

// Length in bytes of the whitespace code point at text[i], or 0 when it is not whitespace.
std::size_t spaceLengthAt(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) {
    return isAsciiPythonSpace(c) ? 1 : 0;
  }
  // Every non-ASCII Python whitespace starts with one of these lead bytes; skip decoding otherwise.
  if (c != 0xC2 && c != 0xE1 && c != 0xE2 && c != 0xE3) {
    return 0;
  }
  std::size_t length = 0;
  const char32_t cp = decodeOne(text, i, length);
  return isPythonSpace(cp) ? length : 0;
}

}  // namespace

std::u32string decodeUtf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t length = 0;
    out.push_back(decodeOne(text, i, length));
    i += length;
  }
  return out;
}

void appendUtf8(std::string& out, char32_t cp) {
  if (cp >= kEscapeBase + 0x80 && cp <= kEscapeBase + 0xFF) {
    out.push_back(static_cast<char>(cp - kEscapeBase));
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) {
    appendUtf8(out, cp);
  }
  return out;
}

bool isPythonSpace(char32_t cp) {
  if (cp < 0x80) {
    return isAsciiPythonSpace(static_cast<unsigned char>(cp));
  }
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string pythonStrip(std::string_view text) {
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t length = spaceLengthAt(text, begin);
    if (length == 0) {
      break;
    }
    begin += length;
  }
  // Scan forward so multi-byte whitespace is recognised; remember where the last non-space ended.
  std::size_t end = begin;
  for (std::size_t i = begin; i < text.size();) {
    const std::size_t spaceLength = spaceLengthAt(text, i);
    if (spaceLength > 0) {
      i += spaceLength;
      continue;
    }
    std::size_t length = 0;
    decodeOne(text, i, length);
    i += length;
    end = i;
  }
  return std::string(text.substr(begin, end - begin));
}

std::vector<std::string_view> pythonSplit(std::string_view text) {
  std::vector<std::string_view> pieces;
  std::size_t start = std::string_view::npos;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t spaceLength = spaceLengthAt(text, i);
    if (spaceLength > 0) {
      if (start != std::string_view::npos) {
        pieces.push_back(text.substr(start, i - start));
        start = std::string_view::npos;
      }
      i += spaceLength;
    } else {
      if (start == std::string_view::npos) {
        start = i;
      }
      ++i;
    }
  }
  if (start != std::string_view::npos) {
    pieces.push_back(text.substr(start));
  }
  return pieces;
}

std::vector<std::string_view> pythonSplitOnSpace(std::string_view text) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ' ') {
      pieces.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  pieces.push_back(text.substr(start));
  return pieces;
}

char32_t toLowerCodePoint(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  }
  if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)) {
    return cp + 32;
  }
  if (cp >= 0x100 && cp <= 0x17F) {
    if (cp == 0x130) {
      return 'i';  // Python gives "i̇" (two code points); the dotless form is the closest single one.
    }
    if (cp == 0x178) {
      return 0xFF;
    }
    const bool oddUpper = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
    if (oddUpper) {
      return (cp % 2 == 1) ? cp + 1 : cp;
    }
    if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17F) {
      return cp;
    }
    return (cp % 2 == 0) ? cp + 1 : cp;
  }
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) {
    return cp + 32;
  }
  if (cp >= 0x410 && cp <= 0x42F) {
    return cp + 32;
  }
  if (cp >= 0x400 && cp <= 0x40F) {
    return cp + 80;
  }
  return cp;
}

std::string pythonLower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c));
      ++i;
      continue;
    }
    std::size_t length = 0;
    const char32_t cp = decodeOne(text, i, length);
    appendUtf8(out, toLowerCodePoint(cp));
    i += length;
  }
  return out;
}

}  // namespace prunelab::evaluators
