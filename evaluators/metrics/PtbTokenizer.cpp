#include "evaluators/metrics/PtbTokenizer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>

#include "evaluators/metrics/Utf8.h"

namespace prunelab::evaluators {

namespace {

// ---------------------------------------------------------------------------------------------
// Character classes (approximations of the JFlex classes of PTBLexer 3.4.1, see the header).

enum class Kind : std::uint8_t {
  kOther,        // handled by an explicit rule (ASCII punctuation, quotes, dashes, currency, ...)
  kLetter,       // [:letter:]
  kLetterExtra,  // in the LETTER macro but not [:letter:]: soft hyphen, combining accents
  kDigit,        // [:digit:]
  kSpace,        // skipped between tokens
  kMisc,         // MISCSYMBOL: a one-character token
  kDeleted,      // untokenizable (deleted with a warning by the jar) or silently skipped
};

bool inRange(char32_t c, char32_t lo, char32_t hi) { return c >= lo && c <= hi; }

Kind classifyNonAscii(char32_t c) {
  if (c <= 0xFF) {
    if (c < 0xA0) {
      // C1 controls: only the CP1252 leftovers the lexer knows are kept (quotes, dashes, euro, ellipsis).
      return (c == 0x80 || c == 0x85 || inRange(c, 0x91, 0x94) || c == 0x96 || c == 0x97) ? Kind::kOther
                                                                                          : Kind::kDeleted;
    }
    if (c == 0xA0) {
      return Kind::kSpace;
    }
    if (c == 0xAD) {
      return Kind::kLetterExtra;
    }
    if (c == 0xAA || c == 0xB5 || c == 0xBA || (c >= 0xC0 && c != 0xD7 && c != 0xF7)) {
      return Kind::kLetter;
    }
    if (c == 0xA6 || c == 0xA7 || c == 0xA8 || c == 0xA9 || c == 0xAC || c == 0xAE || c == 0xAF ||
        inRange(c, 0xB0, 0xB9) || c == 0xD7 || c == 0xF7) {
      return Kind::kMisc;
    }
    return Kind::kOther;  // ¡ ¢ £ ¤ ¥ « » ¼ ½ ¾ ¿
  }
  if (c >= 0x10000) {
    return Kind::kDeleted;  // the lexer sees two UTF-16 surrogates, neither tokenizable
  }
  if (inRange(c, 0xDC80, 0xDCFF)) {
    return Kind::kLetter;  // an invalid UTF-8 byte (surrogateescape): kept inside tokens
  }
  if (inRange(c, 0xD800, 0xDFFF) || inRange(c, 0xE000, 0xF8FF)) {
    return Kind::kDeleted;
  }
  if (inRange(c, 0x300, 0x36F)) {
    return Kind::kLetterExtra;
  }
  if (c == 0x387 || c == 0x5BE || c == 0x5C0 || c == 0x5C3 || c == 0x5C6 || c == 0x5F3 || c == 0x5F4 ||
      inRange(c, 0x600, 0x603) || inRange(c, 0x606, 0x60A) || c == 0x60C || c == 0x614 || c == 0x61B || c == 0x61E ||
      c == 0x66A || c == 0x66D || inRange(c, 0x703, 0x70D) || inRange(c, 0x7F6, 0x7F8) || c == 0x964 || c == 0x965 ||
      c == 0xE4F || c == 0x1FBD) {
    return Kind::kMisc;
  }
  if (c == 0x37E || c == 0x589 || c == 0x61F || c == 0x6D4 || inRange(c, 0x700, 0x702) || c == 0x7FA || c == 0x66B ||
      c == 0x66C) {
    return Kind::kOther;
  }
  if (inRange(c, 0x660, 0x669) || inRange(c, 0x6F0, 0x6F9) || inRange(c, 0x7C0, 0x7C9) || inRange(c, 0x966, 0x96F) ||
      inRange(c, 0xFF10, 0xFF19)) {
    return Kind::kDigit;
  }
  if (inRange(c, 0x2000, 0x206F)) {
    if (inRange(c, 0x2000, 0x200A) || c == 0x2028 || c == 0x2029) {
      return Kind::kSpace;
    }
    if (c == 0x2016 || c == 0x2017 || inRange(c, 0x2020, 0x2023) || inRange(c, 0x2030, 0x2038) || c == 0x203B ||
        inRange(c, 0x203E, 0x2042) || c == 0x2044) {
      return Kind::kMisc;
    }
    if (c == 0x2010 || c == 0x2011 || inRange(c, 0x2013, 0x2015) || inRange(c, 0x2018, 0x201F) || c == 0x2026 ||
        c == 0x2039 || c == 0x203A) {
      return Kind::kOther;
    }
    return Kind::kDeleted;
  }
  if (inRange(c, 0x2070, 0x209F)) {
    if (c == 0x2071 || inRange(c, 0x2090, 0x209C)) {
      return Kind::kLetter;
    }
    if (inRange(c, 0x207A, 0x207F) || inRange(c, 0x208A, 0x208E)) {
      return Kind::kMisc;
    }
    return (c == 0x2070 || inRange(c, 0x2074, 0x2079) || inRange(c, 0x2080, 0x2089)) ? Kind::kOther : Kind::kDeleted;
  }
  if (inRange(c, 0x20A0, 0x20FF)) {
    return (c == 0x20A0 || c == 0x20A4 || c == 0x20AC) ? Kind::kOther : Kind::kDeleted;
  }
  if (inRange(c, 0x2100, 0x214F) || inRange(c, 0x2190, 0x2BFF)) {
    return Kind::kMisc;
  }
  if (inRange(c, 0x2150, 0x218F)) {
    return inRange(c, 0x2153, 0x215E) ? Kind::kOther : Kind::kDeleted;
  }
  if (inRange(c, 0x2E00, 0x2E7F)) {
    return Kind::kDeleted;
  }
  if (inRange(c, 0x3000, 0x303F)) {
    if (c == 0x3000) {
      return Kind::kSpace;
    }
    if (c == 0x3001 || c == 0x3002) {
      return Kind::kOther;
    }
    if (c == 0x3012) {
      return Kind::kMisc;
    }
    return (c == 0x3005 || c == 0x3006 || inRange(c, 0x3031, 0x3035) || c == 0x303B || c == 0x303C) ? Kind::kLetter
                                                                                                    : Kind::kDeleted;
  }
  if (c == 0x30FB) {
    return Kind::kMisc;
  }
  if (inRange(c, 0xFE00, 0xFE6F) || c == 0xFEFF || inRange(c, 0xFFF0, 0xFFFF)) {
    return Kind::kDeleted;
  }
  if (inRange(c, 0xFF01, 0xFF0F) || inRange(c, 0xFF1A, 0xFF20) || inRange(c, 0xFF3B, 0xFF40) ||
      inRange(c, 0xFF5B, 0xFF65)) {
    return Kind::kMisc;
  }
  if (c == 0xFFE0 || c == 0xFFE1 || c == 0xFFE5 || c == 0xFFE6) {
    return Kind::kOther;
  }
  return Kind::kLetter;
}

const std::array<Kind, 128>& asciiKinds() {
  static const std::array<Kind, 128> table = [] {
    std::array<Kind, 128> t{};
    for (int c = 0; c < 128; ++c) {
      Kind k = Kind::kOther;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        k = Kind::kLetter;
      } else if (c >= '0' && c <= '9') {
        k = Kind::kDigit;
      } else if (c == 0 || c == ' ' || (c >= 0x09 && c <= 0x0D)) {
        k = Kind::kSpace;
      } else if (c < 0x20 || c == 0x7F) {
        k = Kind::kDeleted;
      } else if (c == '+' || c == '%' || c == '&' || c == '~' || c == '^' || c == '|' || c == '\\') {
        k = Kind::kMisc;
      }
      t[c] = k;
    }
    return t;
  }();
  return table;
}

Kind kindOf(char32_t c) { return c < 128 ? asciiKinds()[c] : classifyNonAscii(c); }

bool isAsciiUpper(char32_t c) { return c >= 'A' && c <= 'Z'; }
bool isAsciiLower(char32_t c) { return c >= 'a' && c <= 'z'; }
bool isAsciiLetter(char32_t c) { return isAsciiUpper(c) || isAsciiLower(c); }
bool isAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }
bool isAsciiAlnum(char32_t c) { return isAsciiLetter(c) || isAsciiDigit(c); }
bool isJavaLetter(char32_t c) { return kindOf(c) == Kind::kLetter; }  // [:letter:]
bool isLetterMacro(char32_t c) {                                      // LETTER
  const Kind k = kindOf(c);
  return k == Kind::kLetter || k == Kind::kLetterExtra;
}
bool isDigitChar(char32_t c) { return kindOf(c) == Kind::kDigit; }  // [:digit:] / DIGIT
bool isLetterOrDigit(char32_t c) { return isJavaLetter(c) || isDigitChar(c); }
bool isUppercase(char32_t c) { return toLowerCodePoint(c) != c; }

bool isApos(char32_t c) { return c == '\'' || c == 0x92 || c == 0x2019; }  // APOS
bool isAposEtc(char32_t c) {                                               // APOSETCETERA
  return isApos(c) || c == '`' || c == 0x91 || c == 0x2018 || c == 0x201B;
}
bool isSpace(char32_t c) {  // SPACE
  return c == ' ' || c == '\t' || c == 0xA0 || inRange(c, 0x2000, 0x200A) || c == 0x3000;
}
bool isNewline(char32_t c) {  // NEWLINE
  return c == '\r' || c == '\n' || c == 0x2028 || c == 0x2029 || c == 0x0B || c == 0x0C || c == 0x85;
}
bool isSpaceNl(char32_t c) { return isSpace(c) || isNewline(c); }
bool isInSentencePunct(char32_t c) { return c == ',' || c == ';' || c == ':' || c == 0x3001; }  // INSENTP
bool isHyphenChar(char32_t c) { return c == '-' || c == '_' || c == 0x58A || c == 0x2010 || c == 0x2011; }

bool isQuoteChar(char32_t c) {  // the bracketed class of QUOTES
  // clang-format off
  switch (c) {
    case '`': case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x201C: case 0x201D:
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x201E: case 0x201F: case 0x2039: case 0x203A:
    case 0xAB: case 0xBB:
      return true;
    default:
      return false;
  }
  // clang-format on
}

char32_t asciiLower(char32_t c) { return isAsciiUpper(c) ? c + 32 : c; }

// LaTeX quote normalisation of PTBLexer.latexQuotes (only the characters, no entities).
std::u32string latexQuotes(std::u32string_view token, bool probablyLeft) {
  std::u32string out;
  for (char32_t c : token) {
    if (c == '\'') {
      out.push_back(probablyLeft ? U'`' : U'\'');
    } else if (c == '"') {
      out += probablyLeft ? U"``" : U"''";
    } else if (c == 0x91 || c == 0x2018 || c == 0x201B || c == 0x2039) {
      out.push_back(U'`');
    } else if (c == 0x92 || c == 0x2019 || c == 0x203A) {
      out.push_back(U'\'');
    } else if (c == 0x93 || c == 0x201C || c == 0xAB) {
      out += U"``";
    } else if (c == 0x94 || c == 0x201D || c == 0xBB) {
      out += U"''";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u32string removeSoftHyphens(std::u32string_view token) {
  std::u32string out;
  for (char32_t c : token) {
    if (c != 0xAD) {
      out.push_back(c);
    }
  }
  if (out.empty()) {
    out.push_back(U'-');
  }
  return out;
}

// A literal pattern for the abbreviation lists: letters match either case (the lexer is %caseless)
// unless preceded by '^' (a bracketed character class like [M]iss, which stays case-sensitive).
struct Literal {
  std::u32string chars;
  std::uint32_t exactMask = 0;  // bit k: chars[k] must match exactly
};

Literal makeLiteral(std::string_view spec) {
  Literal lit;
  bool exact = false;
  for (char c : spec) {
    if (c == '^') {
      exact = true;
      continue;
    }
    if (exact) {
      lit.exactMask |= 1u << lit.chars.size();
    }
    lit.chars.push_back(static_cast<char32_t>(static_cast<unsigned char>(c)));
    exact = false;
  }
  return lit;
}

// A literal list bucketed by lower-cased first letter (every entry starts with an ASCII letter), so a
// lookup only tries the few entries that can match.
struct LiteralSet {
  std::vector<Literal> all;
  std::array<std::vector<std::size_t>, 26> byFirstLetter;
};

LiteralSet makeLiterals(std::initializer_list<std::string_view> specs) {
  LiteralSet out;
  for (std::string_view spec : specs) {
    out.all.push_back(makeLiteral(spec));
    const char32_t first = out.all.back().chars.front();
    const char32_t lower = (first >= 'A' && first <= 'Z') ? first + 32 : first;
    out.byFirstLetter[lower - 'a'].push_back(out.all.size() - 1);
  }
  return out;
}

// ABBREV1 bodies (without the period): months, days, states, companies, numbers, titles, etc/al/...
const LiteralSet& abbrev1Bodies() {
  static const LiteralSet list = makeLiterals(
      {"Jan",    "Feb",  "Mar",  "Apr",  "Jun",     "Jul",   "Aug",   "Sep",   "Sept",  "Oct",   "Nov",    "Dec",    //
       "Mon",    "Tue",  "Tues", "Wed",  "Thu",     "Thurs", "Fri",                                                  //
       "Ala",    "Ariz", "^Az",  "^Ark", "Calif",   "Colo",  "Conn",  "Ct",    "Dak",   "^Del",  "Fla",    "Ga",     //
       "^Ill",   "Ind",  "Kan",  "Kans", "Ky",      "^La",   "^Mass", "Md",    "Mich",  "Minn",  "^Miss",  "Mo",     //
       "Mont",   "Neb",  "Nev",  "Okla", "^Ore",    "^Pa",   "Penn",  "Tenn",  "^Tex",  "Va",    "Vt",     "^Wash",  //
       "Wis",    "Wisc", "Wyo",                                                                                      //
       "Inc",    "Co",   "Cos",  "Corp", "Pt^y",    "Pt^e",  "Pt^ys", "Pt^es", "Ppt^y", "Ppt^e", "Ppt^ys",           //
       "Ppt^es", "Ltd",  "Plc",  "Rt",   "Bancorp", "Bhd",   "Assn",  "Univ",  "Intl",  "Sys",                       //
       "tel",    "est",  "ext",  "sq",                                                                               //
       "Jr",     "Sr",   "Bros", "Ed.D", "Ph.D",    "Blvd",  "Rd",    "Esq",                                         //
       "etc",    "al",   "seq",  "Bldg"});
  return list;
}

// ABBREV4 bodies other than ACRO: titles, ABCOMP2 and a few names.
const LiteralSet& abbrev4Bodies() {
  static const LiteralSet list = makeLiterals(
      {"Mr",    "Mrs",  "Ms",   "^Miss", "Dr",     "Drs",   "Prof", "Profs", "Sen",  "Sens",  "Rep",  "Reps", "Atty",
       "Attys", "Lt",   "Col",  "Gen",   "Messrs", "Gov",   "Govs", "Adm",   "Rev",  "Maj",   "Sgt",  "Cpl",  "Pvt",
       "Capt",  "St",   "Ste",  "Ave",   "Pres",   "Lieut", "Hon",  "Brig",  "Cmdr", "Comdr", "Pfc",  "Spc",  "Supt",
       "Supts", "Det",  "Mt",   "Ft",    "Adj",    "Adv",   "Asst", "Assoc", "Ens",  "Insp",  "Mlle", "Mme",  "Msgr",
       "Sfc",                                                                       //
       "vs",    "Alex", "Wm",   "Jos",   "Cie",    "a.k.a", "cf",   "TREAS", "Ph",  //
       "Invt",  "Elec", "Natl", "M^fg",  "M^tg",   "Dept"});
  return list;
}

// ABBREV3 bodies: allowed only before a number.
const LiteralSet& abbrev3Bodies() {
  static const LiteralSet list = makeLiterals({"ca", "fig", "figs", "prop", "no", "nos", "art", "bldg", "pp", "op"});
  return list;
}

// Words after which "X." / "U.S." is taken as sentence-final (case-sensitive first letter).
const LiteralSet& sentenceStarters() {
  static const LiteralSet list =
      makeLiterals({"^About", "^According", "^Additionally", "^After", "^An",    "^A",       "^As",   "^At",
                    "^But",   "^Earlier",   "^He",           "^Her",   "^Here",  "^However", "^If",   "^In",
                    "^It",    "^Last",      "^Many",         "^More",  "^Mr.",   "^Ms.",     "^Now",  "^Once",
                    "^One",   "^Other",     "^Our",          "^She",   "^Since", "^So",      "^Some", "^Such",
                    "^That",  "^The",       "^Their",        "^Then",  "^There", "^These",   "^They", "^This",
                    "^We",    "^When",      "^While",        "^What",  "^Yet",   "^You"});
  return list;
}

// One candidate token: how much input the rule matched (trailing context included, which is what
// the longest-match rule compares), how much it consumes, and what it emits.
struct Match {
  std::size_t length = 0;
  std::size_t consumed = 0;
  bool emit = true;
  bool verbatim = true;  // emit the consumed input as is; otherwise emit `text`
  std::u32string text;
};

class Lexer {
 public:
  explicit Lexer(std::u32string_view s) : s_(s) {}

  std::vector<std::u32string> run() {
    std::vector<std::u32string> tokens;
    std::size_t i = 0;
    while (i < s_.size()) {
      // No rule starts with whitespace except the one that skips it.
      if (kindOf(s_[i]) == Kind::kSpace) {
        ++i;
        continue;
      }
      Match best;
      int bestRule = -1;
      scan(i, best, bestRule);
      if (best.emit) {
        tokens.push_back(best.verbatim ? std::u32string(s_.substr(i, best.consumed)) : best.text);
      }
      i += std::max<std::size_t>(best.consumed, 1);
    }
    return tokens;
  }

 private:
  std::u32string_view s_;

  bool has(std::size_t i) const { return i < s_.size(); }
  char32_t at(std::size_t i) const { return i < s_.size() ? s_[i] : char32_t{0xFFFFFFFF}; }

  // Keeps `m` when it is longer than the best so far; on equal length the earlier rule (lower number,
  // i.e. earlier in PTBLexer.flex) wins, as in JFlex.
  static void offer(Match& best, int& bestRule, int rule, Match&& m) {
    if (m.length > best.length || (m.length == best.length && bestRule >= 0 && rule < bestRule)) {
      best = std::move(m);
      bestRule = rule;
    }
  }

  static Match verbatim(std::size_t length, std::size_t consumed) {
    Match m;
    m.length = length;
    m.consumed = consumed;
    return m;
  }
  static Match replaced(std::size_t length, std::size_t consumed, std::u32string text) {
    Match m;
    m.length = length;
    m.consumed = consumed;
    m.verbatim = false;
    m.text = std::move(text);
    return m;
  }
  // A token whose text is the consumed input minus soft hyphens (verbatim when it has none).
  Match withoutSoftHyphens(std::size_t i, std::size_t length, std::size_t consumed) const {
    const std::u32string_view text = s_.substr(i, consumed);
    if (text.find(char32_t{0xAD}) == std::u32string_view::npos) {
      return verbatim(length, consumed);
    }
    return replaced(length, consumed, removeSoftHyphens(text));
  }
  static Match skipped(std::size_t length) {
    Match m;
    m.length = length;
    m.consumed = length;
    m.emit = false;
    return m;
  }

  // Caseless literal match (ASCII letters only fold); returns the length or 0.
  std::size_t matchLiteral(std::size_t i, std::u32string_view lit) const {
    for (std::size_t k = 0; k < lit.size(); ++k) {
      if (!has(i + k) || asciiLower(s_[i + k]) != asciiLower(lit[k])) {
        return 0;
      }
    }
    return lit.size();
  }
  std::size_t matchLiteral(std::size_t i, const Literal& lit) const {
    for (std::size_t k = 0; k < lit.chars.size(); ++k) {
      if (!has(i + k)) {
        return 0;
      }
      const bool exact = (lit.exactMask >> k) & 1u;
      const char32_t c = s_[i + k];
      if (exact ? c != lit.chars[k] : asciiLower(c) != asciiLower(lit.chars[k])) {
        return 0;
      }
    }
    return lit.chars.size();
  }
  // Lengths of every entry of `list` that matches at i.
  std::vector<std::size_t> matchAny(std::size_t i, const LiteralSet& list) const {
    std::vector<std::size_t> lengths;
    // Every list entry starts with an ASCII letter: nothing else can match.
    if (!has(i) || !isAsciiLetter(s_[i])) {
      return lengths;
    }
    for (std::size_t k : list.byFirstLetter[asciiLower(s_[i]) - 'a']) {
      if (const std::size_t n = matchLiteral(i, list.all[k]); n > 0) {
        lengths.push_back(n);
      }
    }
    return lengths;
  }

  template <class Pred>
  std::size_t runOf(std::size_t i, Pred pred) const {
    std::size_t j = i;
    while (has(j) && pred(s_[j])) {
      ++j;
    }
    return j - i;
  }

  // WORD = LETTER (LETTER|DIGIT)* ([.!?] LETTER (LETTER|DIGIT)*)*  (greedy; returns 0 if no match)
  std::size_t word(std::size_t i) const {
    if (!has(i) || !isLetterMacro(s_[i])) {
      return 0;
    }
    std::size_t j = i + 1;
    for (;;) {
      j += runOf(j, [](char32_t c) { return isLetterMacro(c) || isDigitChar(c); });
      const char32_t c = at(j);
      if ((c == '.' || c == '!' || c == '?') && has(j + 1) && isLetterMacro(s_[j + 1])) {
        j += 2;
        continue;
      }
      return j - i;
    }
  }

  // REDAUX = APOS ([msdMSD] | re | ve | ll)
  std::size_t redaux(std::size_t i) const {
    if (!isApos(at(i))) {
      return 0;
    }
    const char32_t a = asciiLower(at(i + 1));
    const char32_t b = asciiLower(at(i + 2));
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
      return 3;
    }
    const char32_t raw = at(i + 1);
    return (raw == 'm' || raw == 's' || raw == 'd' || raw == 'M' || raw == 'S' || raw == 'D') ? 2 : 0;
  }

  // SREDAUX = n APOSETCETERA t
  std::size_t sredaux(std::size_t i) const {
    return (asciiLower(at(i)) == 'n' && isAposEtc(at(i + 1)) && asciiLower(at(i + 2)) == 't') ? 3 : 0;
  }

  // ACRO lengths at i: [A-Za-z](\.[A-Za-z])* (every prefix ending in a letter) and the U.S. specials.
  std::vector<std::size_t> acro(std::size_t i, bool needDot) const {
    std::vector<std::size_t> lengths;
    if (!has(i) || !isAsciiLetter(s_[i])) {
      return lengths;  // every ACRO form starts with an ASCII letter
    }
    {
      std::size_t j = i + 1;
      if (!needDot) {
        lengths.push_back(1);
      }
      while (at(j) == '.' && isAsciiLetter(at(j + 1))) {
        j += 2;
        lengths.push_back(j - i);
      }
    }
    for (std::u32string_view special :
         {std::u32string_view(U"Canada-U.S"), std::u32string_view(U"Sino-U.S"), std::u32string_view(U"Korean-U.S"),
          std::u32string_view(U"EU-U.S"), std::u32string_view(U"Japan-U.S"), std::u32string_view(U"non-U.S"),
          std::u32string_view(U"U.S.-U.K"), std::u32string_view(U"U.S.-U.S.S.R")}) {
      if (const std::size_t n = matchLiteral(i, special); n > 0) {
        lengths.push_back(n);
      }
    }
    return lengths;
  }

  // ABBREV4 body lengths (titles etc. plus ACRO).
  std::vector<std::size_t> abbrev4(std::size_t i) const {
    std::vector<std::size_t> lengths = matchAny(i, abbrev4Bodies());
    for (std::size_t n : acro(i, false)) {
      lengths.push_back(n);
    }
    return lengths;
  }

  // THING = ([dDoOlL] APOSETC (L|D))? (L|D)+ (HYPHEN ([dDoOlL] APOSETC (L|D))? (L|D)+)*
  std::size_t thingSegment(std::size_t i) const {
    std::size_t best = 0;
    const char32_t c = at(i);
    if ((c == 'd' || c == 'D' || c == 'o' || c == 'O' || c == 'l' || c == 'L') && isAposEtc(at(i + 1)) &&
        isLetterOrDigit(at(i + 2))) {
      const std::size_t rest = runOf(i + 3, isLetterOrDigit);
      if (rest > 0) {
        best = 3 + rest;
      }
    }
    return std::max(best, runOf(i, isLetterOrDigit));
  }
  std::size_t thing(std::size_t i) const {
    std::size_t n = thingSegment(i);
    if (n == 0) {
      return 0;
    }
    while (isHyphenChar(at(i + n))) {
      const std::size_t seg = thingSegment(i + n + 1);
      if (seg == 0) {
        break;
      }
      n += 1 + seg;
    }
    return n;
  }

  // HTHING = [A-Za-z0-9][A-Za-z0-9.,\u00AD]* (-([A-Za-z0-9\u00AD]+ | ACRO2\.))+
  std::size_t hthing(std::size_t i) const {
    if (!isAsciiAlnum(at(i))) {
      return 0;
    }
    std::size_t j =
        i + 1 + runOf(i + 1, [](char32_t c) { return isAsciiAlnum(c) || c == '.' || c == ',' || c == 0xAD; });
    std::size_t segments = 0;
    while (at(j) == '-') {
      const std::size_t alnum = runOf(j + 1, [](char32_t c) { return isAsciiAlnum(c) || c == 0xAD; });
      std::size_t acroDot = 0;
      for (std::size_t n : acro(j + 1, true)) {
        if (at(j + 1 + n) == '.') {
          acroDot = std::max(acroDot, n + 1);
        }
      }
      const std::size_t seg = std::max(alnum, acroDot);
      if (seg == 0) {
        break;
      }
      j += 1 + seg;
      ++segments;
    }
    return segments > 0 ? j - i : 0;
  }

  // THINGA = [A-Z]+ (([+&] | &amp;) [A-Z]+)+
  std::size_t thinga(std::size_t i) const {
    std::size_t j = i + runOf(i, isAsciiUpper);
    if (j == i) {
      return 0;
    }
    std::size_t groups = 0;
    for (;;) {
      std::size_t sep = 0;
      if (at(j) == '+' || at(j) == '&') {
        sep = 1;
      }
      if (matchLiteral(j, U"&amp;") > 0) {
        sep = 5;
      }
      const std::size_t upper = sep > 0 ? runOf(j + sep, isAsciiUpper) : 0;
      if (upper == 0) {
        break;
      }
      j += sep + upper;
      ++groups;
    }
    return groups > 0 ? j - i : 0;
  }

  // THING3 = [A-Za-z0-9]+ (-[A-Za-z]+){0,2} (\\?/ [A-Za-z0-9]+ (-[A-Za-z]+){0,2}){1,2}
  std::size_t thing3Part(std::size_t i) const {
    std::size_t j = i + runOf(i, isAsciiAlnum);
    if (j == i) {
      return 0;
    }
    for (int k = 0; k < 2 && at(j) == '-'; ++k) {
      const std::size_t letters = runOf(j + 1, isAsciiLetter);
      if (letters == 0) {
        break;
      }
      j += 1 + letters;
    }
    return j - i;
  }
  std::size_t thing3(std::size_t i) const {
    std::size_t j = i + thing3Part(i);
    if (j == i) {
      return 0;
    }
    int slashes = 0;
    while (slashes < 2) {
      std::size_t k = j;
      if (at(k) == '\\') {
        ++k;
      }
      if (at(k) != '/') {
        break;
      }
      const std::size_t part = thing3Part(k + 1);
      if (part == 0) {
        break;
      }
      j = k + 1 + part;
      ++slashes;
    }
    return slashes > 0 ? j - i : 0;
  }

  // NUMBER = [-+]? (DIGIT+ | DIGIT* ([.:,\u00AD\u066B\u066C] DIGIT+)+)
  std::size_t number(std::size_t i) const {
    std::size_t j = i;
    if (at(j) == '-' || at(j) == '+') {
      ++j;
    }
    const std::size_t lead = runOf(j, isDigitChar);
    j += lead;
    std::size_t groups = 0;
    for (;;) {
      const char32_t c = at(j);
      const bool sep = c == '.' || c == ':' || c == ',' || c == 0xAD || c == 0x66B || c == 0x66C;
      const std::size_t digits = sep ? runOf(j + 1, isDigitChar) : 0;
      if (digits == 0) {
        break;
      }
      j += 1 + digits;
      ++groups;
    }
    return (lead > 0 || groups > 0) ? j - i : 0;
  }

  void scan(std::size_t i, Match& best, int& bestRule) const {
    const char32_t c = s_[i];
    const Kind kind = kindOf(c);
    int rule = 0;

    // c++, c#, f#
    if (asciiLower(c) == 'c' && at(i + 1) == '+' && at(i + 2) == '+') {
      offer(best, bestRule, rule, verbatim(3, 3));
    }
    ++rule;
    if ((asciiLower(c) == 'c' || asciiLower(c) == 'f') && at(i + 1) == '#') {
      offer(best, bestRule, rule, verbatim(2, 2));
    }
    ++rule;
    // cannot -> can not; 'twas, 'tis -> 't was / 't is; gonna -> gon na
    if (matchLiteral(i, U"cannot") > 0) {
      offer(best, bestRule, rule, verbatim(6, 3));
    }
    ++rule;
    if (matchLiteral(i, U"'twas") > 0) {
      offer(best, bestRule, rule, verbatim(5, 2));
    }
    ++rule;
    if (matchLiteral(i, U"'tis") > 0) {
      offer(best, bestRule, rule, verbatim(4, 2));
    }
    ++rule;
    for (std::u32string_view w : {U"gonna", U"gotta", U"lemme", U"gimme", U"wanna"}) {
      if (matchLiteral(i, w) > 0) {
        offer(best, bestRule, rule, verbatim(5, 3));
      }
    }
    ++rule;
    // SGML tags such as <unk> or </s>: one token, inner spaces become U+00A0
    if (const std::size_t n = sgml(i); n > 0) {
      std::u32string text(s_.substr(i, n));
      std::replace(text.begin(), text.end(), U' ', char32_t{0xA0});
      offer(best, bestRule, rule, replaced(n, n, std::move(text)));
    }
    ++rule;
    // SPMDASH
    if (c == 0x96 || c == 0x97 || inRange(c, 0x2013, 0x2015)) {
      offer(best, bestRule, rule, replaced(1, 1, U"--"));
    }
    for (std::u32string_view entity : {U"&MD;", U"&mdash;", U"&ndash;"}) {
      if (const std::size_t n = matchLiteral(i, entity); n > 0) {
        offer(best, bestRule, rule, replaced(n, n, U"--"));
      }
    }
    ++rule;
    // SPAMP
    if (matchLiteral(i, U"&amp;") > 0) {
      offer(best, bestRule, rule, replaced(5, 5, U"&"));
    }
    ++rule;
    // SPPUNC = &(HT|TL|UR|LR|QC|QL|QR|odq|cdq|#[0-9]+);
    if (c == '&') {
      for (std::u32string_view e :
           {U"&HT;", U"&TL;", U"&UR;", U"&LR;", U"&QC;", U"&QL;", U"&QR;", U"&odq;", U"&cdq;"}) {
        if (const std::size_t n = matchLiteral(i, e); n > 0) {
          offer(best, bestRule, rule, verbatim(n, n));
        }
      }
      if (at(i + 1) == '#') {
        const std::size_t digits = runOf(i + 2, isAsciiDigit);
        if (digits > 0 && at(i + 2 + digits) == ';') {
          offer(best, bestRule, rule, verbatim(digits + 3, digits + 3));
        }
      }
    }
    ++rule;
    const std::size_t w = word(i);
    // WORD / REDAUX
    if (w > 0) {
      if (const std::size_t r = redaux(i + w); r > 0) {
        offer(best, bestRule, rule, withoutSoftHyphens(i, w + r, w));
      }
    }
    ++rule;
    // SWORD / SREDAUX: SWORD = [A-Za-z\u00AD]* [A-MO-Za-mo-z] \u00AD*, followed by n't
    {
      const std::size_t run = runOf(i, [](char32_t x) { return isAsciiLetter(x) || x == 0xAD; });
      if (run >= 2 && asciiLower(s_[i + run - 1]) == 'n' && isAposEtc(at(i + run)) &&
          asciiLower(at(i + run + 1)) == 't') {
        std::size_t last = i + run - 2;  // the SWORD's last non-soft-hyphen letter
        while (last > i && s_[last] == 0xAD) {
          --last;
        }
        if (isAsciiLetter(s_[last]) && asciiLower(s_[last]) != 'n') {
          offer(best, bestRule, rule, withoutSoftHyphens(i, run + 2, run - 1));
        }
      }
    }
    ++rule;
    // WORD
    if (w > 0) {
      offer(best, bestRule, rule, withoutSoftHyphens(i, w, w));
    }
    ++rule;
    // APOWORD
    if (const std::size_t n = apoword(i); n > 0) {
      offer(best, bestRule, rule, verbatim(n, n));
    }
    ++rule;
    // APOWORD2 = y APOS / [:letter:]
    if (asciiLower(c) == 'y' && isApos(at(i + 1)) && has(i + 2) && isJavaLetter(s_[i + 2])) {
      offer(best, bestRule, rule, verbatim(3, 2));
    }
    ++rule;
    // FULLURL = https?://[^ \t\n\f\r"<>|(){}]+[^ \t\n\f\r"<>|.!?(){},-]
    if (const std::size_t n = fullUrl(i); n > 0) {
      offer(best, bestRule, rule, verbatim(n, n));
    }
    ++rule;
    // LIKELYURL
    if (const std::size_t n = likelyUrl(i); n > 0) {
      offer(best, bestRule, rule, verbatim(n, n));
    }
    ++rule;
    // EMAIL
    if (const std::size_t n = email(i); n > 0) {
      offer(best, bestRule, rule, verbatim(n, n));
    }
    ++rule;
    // TWITTER = @[a-zA-Z_][a-zA-Z_0-9]* | #LETTER+
    if (c == '@' && (isAsciiLetter(at(i + 1)) || at(i + 1) == '_')) {
      const std::size_t n = 2 + runOf(i + 2, [](char32_t x) { return isAsciiAlnum(x) || x == '_'; });
      offer(best, bestRule, rule, verbatim(n, n));
    }
    if (c == '#') {
      const std::size_t n = runOf(i + 1, isLetterMacro);
      if (n > 0) {
        offer(best, bestRule, rule, verbatim(n + 1, n + 1));
      }
    }
    ++rule;
    // REDAUX / [^A-Za-z]
    if (const std::size_t r = redaux(i); r > 0 && has(i + r) && !isAsciiLetter(s_[i + r])) {
      offer(best, bestRule, rule, replaced(r + 1, r, latexQuotes(s_.substr(i, r), false)));
    }
    ++rule;
    // SREDAUX / [^A-Za-z]
    if (sredaux(i) > 0 && has(i + 3) && !isAsciiLetter(s_[i + 3])) {
      offer(best, bestRule, rule, replaced(4, 3, latexQuotes(s_.substr(i, 3), false)));
    }
    ++rule;
    // DATE = DIGIT{1,2} [-/] DIGIT{1,2} [-/] DIGIT{2,4}
    if (const std::size_t n = date(i); n > 0) {
      offer(best, bestRule, rule, verbatim(n, n));
    }
    ++rule;
    // NUMBER
    if (const std::size_t n = number(i); n > 0) {
      offer(best, bestRule, rule, withoutSoftHyphens(i, n, n));
    }
    ++rule;
    // SUBSUPNUM
    if (const std::size_t n = subSupNum(i); n > 0) {
      offer(best, bestRule, rule, verbatim(n, n));
    }
    ++rule;
    // FRAC (traditional treebank state): spaces inside become U+00A0
    if (const std::size_t n = frac(i); n > 0) {
      std::u32string text(s_.substr(i, n));
      std::replace(text.begin(), text.end(), U' ', char32_t{0xA0});
      offer(best, bestRule, rule, replaced(n, n, std::move(text)));
    }
    ++rule;
    // FRAC2 -> normalizeFractions
    if (inRange(c, 0xBC, 0xBE) || inRange(c, 0x2153, 0x215E)) {
      const std::u32string text = c == 0xBC     ? U"1/4"
                                  : c == 0xBD   ? U"1/2"
                                  : c == 0xBE   ? U"3/4"
                                  : c == 0x2153 ? U"1/3"
                                  : c == 0x2154 ? U"2/3"
                                                : std::u32string(1, c);
      offer(best, bestRule, rule, replaced(1, 1, text));
    }
    ++rule;
    // TBSPEC
    if (const std::size_t n = tbSpec(i); n > 0) {
      std::u32string text(s_.substr(i, n));
      const std::size_t amp = text.find(U"&amp;");
      if (amp != std::u32string::npos) {
        text.replace(amp, 5, U"&");
      }
      offer(best, bestRule, rule, replaced(n, n, std::move(text)));
    }
    ++rule;
    // THING3
    if (const std::size_t n = thing3(i); n > 0) {
      offer(best, bestRule, rule, verbatim(n, n));
    }
    ++rule;
    // DOLSIGN = [A-Z]*\$ | #
    {
      const std::size_t upper = runOf(i, isAsciiUpper);
      if (at(i + upper) == '$') {
        offer(best, bestRule, rule, verbatim(upper + 1, upper + 1));
      }
      if (c == '#') {
        offer(best, bestRule, rule, verbatim(1, 1));
      }
    }
    ++rule;
    // DOLSIGN2 -> normalizeCurrency
    if (c == 0xA2 || c == 0xA3 || c == 0xA4 || c == 0xA5 || c == 0x80 || c == 0x20A0 || c == 0x20AC || c == 0x60B ||
        c == 0xE3F || c == 0x20A4 || c == 0xFFE0 || c == 0xFFE1 || c == 0xFFE5 || c == 0xFFE6) {
      const std::u32string text = c == 0xA2                                                ? U"cents"
                                  : c == 0xA3                                              ? U"#"
                                  : (c == 0x80 || c == 0xA4 || c == 0x20A0 || c == 0x20AC) ? U"$"
                                                                                           : std::u32string(1, c);
      offer(best, bestRule, rule, replaced(1, 1, text));
    }
    ++rule;
    // ACRONYM / SPACENLS (sentence starter) SPACENL
    for (std::size_t n : acro(i, false)) {
      if (at(i + n) != '.') {
        continue;
      }
      const std::size_t len = n + 1;
      const std::size_t spaces = runOf(i + len, isSpaceNl);
      if (spaces == 0) {
        continue;
      }
      std::vector<std::size_t> starters = matchAny(i + len + spaces, sentenceStarters());
      if (const std::size_t tag = sgml(i + len + spaces); tag > 0) {
        starters.push_back(tag);
      }
      for (std::size_t starter : starters) {
        if (has(i + len + spaces + starter) && isSpaceNl(s_[i + len + spaces + starter])) {
          const std::size_t total = len + spaces + starter + 1;
          if (len == 2) {
            offer(best, bestRule, rule, verbatim(total, 1));
          } else {
            offer(best, bestRule, rule, replaced(total, len - 1, std::u32string(s_.substr(i, len))));
          }
        }
      }
    }
    ++rule;
    // ABBREV3 / SPACENL? [:digit:]
    for (std::size_t n : matchAny(i, abbrev3Bodies())) {
      if (at(i + n) != '.') {
        continue;
      }
      const std::size_t len = n + 1;
      if (isDigitChar(at(i + len))) {
        offer(best, bestRule, rule, verbatim(len + 1, len));
      } else if (isSpaceNl(at(i + len)) && isDigitChar(at(i + len + 1))) {
        offer(best, bestRule, rule, verbatim(len + 2, len));
      }
    }
    ++rule;
    // (pt[eyEY]|co)\. / SPACE (ltd|lim)
    {
      std::size_t n = 0;
      if (asciiLower(c) == 'p' && asciiLower(at(i + 1)) == 't' &&
          (at(i + 2) == 'e' || at(i + 2) == 'y' || at(i + 2) == 'E' || at(i + 2) == 'Y')) {
        n = 3;
      } else if (matchLiteral(i, U"co") > 0) {
        n = 2;
      }
      if (n > 0 && at(i + n) == '.' && isSpace(at(i + n + 1)) &&
          (matchLiteral(i + n + 2, U"ltd") > 0 || matchLiteral(i + n + 2, U"lim") > 0)) {
        offer(best, bestRule, rule, verbatim(n + 5, n + 1));
      }
    }
    ++rule;
    // ABBREV1 / SENTEND, ABBREV1 / [^][^], ABBREV1 (three rules)
    {
      std::vector<std::size_t> abbrev1;
      for (std::size_t n : matchAny(i, abbrev1Bodies())) {
        if (at(i + n) == '.') {
          abbrev1.push_back(n + 1);
        }
      }
      for (std::size_t len : abbrev1) {
        const char32_t next = at(i + len + 1);
        if (isSpaceNl(at(i + len)) && has(i + len + 1) && (isSpaceNl(next) || isUppercase(next) || next == '<')) {
          offer(best, bestRule, rule, replaced(len + 2, len - 1, std::u32string(s_.substr(i, len))));
        }
      }
      ++rule;
      for (std::size_t len : abbrev1) {
        if (has(i + len + 1)) {
          offer(best, bestRule, rule, verbatim(len + 2, len));
        }
      }
      ++rule;
      for (std::size_t len : abbrev1) {
        offer(best, bestRule, rule, replaced(len, len - 1, std::u32string(s_.substr(i, len))));
      }
      ++rule;
    }
    const std::vector<std::size_t> abbrev4Lengths = abbrev4(i);
    // ABBREV2 = ABBREV4 \.
    for (std::size_t n : abbrev4Lengths) {
      if (at(i + n) == '.') {
        offer(best, bestRule, rule, verbatim(n + 1, n + 1));
      }
    }
    ++rule;
    // ABBREV4 / SPACE
    for (std::size_t n : abbrev4Lengths) {
      if (isSpace(at(i + n))) {
        offer(best, bestRule, rule, verbatim(n + 1, n));
      }
    }
    ++rule;
    // ACRO / SPACENL
    for (std::size_t n : acro(i, false)) {
      if (isSpaceNl(at(i + n))) {
        offer(best, bestRule, rule, verbatim(n + 1, n));
      }
    }
    ++rule;
    // TBSPEC2 = APOS [0-9][0-9] / SPACENL
    if (isApos(c) && isAsciiDigit(at(i + 1)) && isAsciiDigit(at(i + 2)) && isSpaceNl(at(i + 3))) {
      offer(best, bestRule, rule, verbatim(4, 3));
    }
    ++rule;
    // FILENAME / (SPACENL | [.?!,])
    if (const std::size_t n = filename(i); n > 0) {
      offer(best, bestRule, rule, verbatim(n + 1, n));
    }
    ++rule;
    // WORD \. / INSENTP
    if (w > 0 && at(i + w) == '.' && isInSentencePunct(at(i + w + 1))) {
      offer(best, bestRule, rule, withoutSoftHyphens(i, w + 2, w + 1));
    }
    ++rule;
    // PHONE: inner spaces become U+00A0, parentheses -LRB- -RRB-
    if (const std::size_t n = phone(i); n > 0) {
      std::u32string text;
      for (char32_t x : s_.substr(i, n)) {
        if (x == ' ') {
          text.push_back(0xA0);
        } else if (x == '(') {
          text += U"-LRB-";
        } else if (x == ')') {
          text += U"-RRB-";
        } else {
          text.push_back(x);
        }
      }
      offer(best, bestRule, rule, replaced(n, n, std::move(text)));
    }
    ++rule;
    // DBLQUOT / [A-Za-z0-9$], DBLQUOT
    if (c == '"') {
      if (isAsciiAlnum(at(i + 1)) || at(i + 1) == '$') {
        offer(best, bestRule, rule, replaced(2, 1, U"``"));
      }
      offer(best, bestRule, rule + 1, replaced(1, 1, U"''"));
    }
    rule += 2;
    // \x7f
    if (c == 0x7F) {
      offer(best, bestRule, rule, skipped(1));
    }
    ++rule;
    // LESSTHAN, GREATERTHAN
    if (c == '<' || matchLiteral(i, U"&lt;") > 0) {
      const std::size_t n = c == '<' ? 1 : 4;
      offer(best, bestRule, rule, replaced(n, n, U"<"));
    }
    ++rule;
    if (c == '>' || matchLiteral(i, U"&gt;") > 0) {
      const std::size_t n = c == '>' ? 1 : 4;
      offer(best, bestRule, rule, replaced(n, n, U">"));
    }
    ++rule;
    // SMILEY / [^A-Za-z0-9]
    if (const std::size_t n = smiley(i); n > 0 && has(i + n) && !isAsciiAlnum(s_[i + n])) {
      offer(best, bestRule, rule, replaced(n + 1, n, escapeParentheses(s_.substr(i, n))));
    }
    ++rule;
    // ASIANSMILEY (the x_x and (^_^) shapes)
    if (const std::size_t n = asianSmiley(i); n > 0) {
      offer(best, bestRule, rule, replaced(n, n, escapeParentheses(s_.substr(i, n))));
    }
    ++rule;
    // Brackets
    {
      const char32_t* bracket = c == '{'   ? U"-LCB-"
                                : c == '}' ? U"-RCB-"
                                : c == '[' ? U"-LSB-"
                                : c == ']' ? U"-RSB-"
                                : c == '(' ? U"-LRB-"
                                : c == ')' ? U"-RRB-"
                                           : nullptr;
      if (bracket != nullptr) {
        offer(best, bestRule, rule, replaced(1, 1, bracket));
      }
    }
    ++rule;
    // HYPHENS: 3 or 4 become --
    if (c == '-') {
      const std::size_t n = runOf(i, [](char32_t x) { return x == '-'; });
      offer(best, bestRule, rule, (n >= 3 && n <= 4) ? replaced(n, n, U"--") : verbatim(n, n));
    }
    ++rule;
    // LDOTS = \.{3,5} | (\.[ \u00A0]){2,4}\. | [\u0085\u2026]
    if (const std::size_t n = ldots(i); n > 0) {
      offer(best, bestRule, rule, replaced(n, n, U"..."));
    }
    ++rule;
    // FNMARKS = @+ | #+ | _+
    if (c == '@' || c == '#' || c == '_') {
      const std::size_t n = runOf(i, [c](char32_t x) { return x == c; });
      offer(best, bestRule, rule, verbatim(n, n));
    }
    ++rule;
    // ASTS = \*+ | (\\\*){1,3}
    if (c == '*') {
      const std::size_t n = runOf(i, [](char32_t x) { return x == '*'; });
      offer(best, bestRule, rule, verbatim(n, n));
    } else if (c == '\\' && at(i + 1) == '*') {
      std::size_t n = 2;
      while (n < 6 && at(i + n) == '\\' && at(i + n + 1) == '*') {
        n += 2;
      }
      offer(best, bestRule, rule, verbatim(n, n));
    }
    ++rule;
    // INSENTP
    if (isInSentencePunct(c)) {
      offer(best, bestRule, rule, verbatim(1, 1));
    }
    ++rule;
    // [?!]+
    if (c == '?' || c == '!') {
      const std::size_t n = runOf(i, [](char32_t x) { return x == '?' || x == '!'; });
      offer(best, bestRule, rule, verbatim(n, n));
    }
    ++rule;
    // Sentence-final punctuation, = and /
    if (c == '.' || c == 0xA1 || c == 0xBF || c == 0x37E || c == 0x589 || c == 0x61F || c == 0x6D4 ||
        inRange(c, 0x700, 0x702) || c == 0x7FA || c == 0x3002 || c == '=' || c == '/') {
      offer(best, bestRule, rule, verbatim(1, 1));
    }
    ++rule;
    // HTHING \. / INSENTP, HTHING
    if (const std::size_t n = hthing(i); n > 0) {
      if (at(i + n) == '.' && isInSentencePunct(at(i + n + 1))) {
        offer(best, bestRule, rule, withoutSoftHyphens(i, n + 2, n + 1));
      }
      offer(best, bestRule, rule + 1, withoutSoftHyphens(i, n, n));
    }
    rule += 2;
    // THING \. / INSENTP, THING
    if (const std::size_t n = thing(i); n > 0) {
      if (at(i + n) == '.' && isInSentencePunct(at(i + n + 1))) {
        offer(best, bestRule, rule, verbatim(n + 2, n + 1));
      }
      offer(best, bestRule, rule + 1, verbatim(n, n));
    }
    rule += 2;
    // THINGA \. / INSENTP, THINGA (&amp; -> &)
    if (const std::size_t n = thinga(i); n > 0) {
      const auto unescape = [&](std::size_t len) {
        std::u32string text(s_.substr(i, len));
        for (std::size_t p = text.find(U"&amp;"); p != std::u32string::npos; p = text.find(U"&amp;", p + 1)) {
          text.replace(p, 5, U"&");
        }
        return text;
      };
      if (at(i + n) == '.' && isInSentencePunct(at(i + n + 1))) {
        offer(best, bestRule, rule, replaced(n + 2, n + 1, unescape(n + 1)));
      }
      offer(best, bestRule, rule + 1, replaced(n, n, unescape(n)));
    }
    rule += 2;
    // ' / [A-Za-z][^ \t\n\r\u00A0]  -> `
    if (c == '\'' && isAsciiLetter(at(i + 1)) && has(i + 2)) {
      const char32_t after = s_[i + 2];
      if (after != ' ' && after != '\t' && after != '\n' && after != '\r' && after != 0xA0) {
        offer(best, bestRule, rule, replaced(3, 1, U"`"));
      }
    }
    ++rule;
    // REDAUX, SREDAUX, QUOTES
    if (const std::size_t r = redaux(i); r > 0) {
      offer(best, bestRule, rule, replaced(r, r, latexQuotes(s_.substr(i, r), false)));
    }
    ++rule;
    if (sredaux(i) > 0) {
      offer(best, bestRule, rule, replaced(3, 3, latexQuotes(s_.substr(i, 3), false)));
    }
    ++rule;
    {
      std::size_t n = 0;
      if (isApos(c)) {
        n = 1;
      }
      if (c == '\'' && at(i + 1) == '\'') {
        n = 2;
      }
      if (isQuoteChar(c)) {
        n = std::max<std::size_t>(n, isQuoteChar(at(i + 1)) ? 2 : 1);
      }
      if (n > 0) {
        offer(best, bestRule, rule, replaced(n, n, latexQuotes(s_.substr(i, n), false)));
      }
    }
    ++rule;
    // FAKEDUCKFEET = << | >>
    if ((c == '<' || c == '>') && at(i + 1) == c) {
      offer(best, bestRule, rule, verbatim(2, 2));
    }
    ++rule;
    // MISCSYMBOL
    if (kind == Kind::kMisc) {
      offer(best, bestRule, rule, verbatim(1, 1));
    }
    ++rule;
    // Whitespace, newlines, zero-width characters, &nbsp;
    if (kind == Kind::kSpace || c == 0x200B || c == 0x200E || c == 0x200F || c == 0xFEFF) {
      offer(best, bestRule, rule, skipped(1));
    }
    if (matchLiteral(i, U"&nbsp;") > 0) {
      offer(best, bestRule, rule, skipped(6));
    }
    ++rule;
    // Anything else is untokenizable: the jar deletes it (and logs the first one).
    if (best.length == 0) {
      offer(best, bestRule, rule, skipped(1));
    }
  }

  // SGML = < ([!?][A-Za-z-][^>\r\n]* | NAME ([ ]+ (NAME | NAME [ ]*=[ ]*('[^']*'|"[^"]*")))* [ ]* /? | / NAME) [ ]* >
  std::size_t sgml(std::size_t i) const {
    if (at(i) != '<') {
      return 0;
    }
    const auto nameChar = [](char32_t x) { return isAsciiAlnum(x) || x == '_' || x == ':' || x == '.' || x == '-'; };
    const auto name = [&](std::size_t j) -> std::size_t {
      return isAsciiLetter(at(j)) ? 1 + runOf(j + 1, nameChar) : 0;
    };
    const auto spaces = [&](std::size_t j) { return runOf(j, [](char32_t x) { return x == ' '; }); };
    std::size_t j = i + 1;
    if ((at(j) == '!' || at(j) == '?') && (isAsciiLetter(at(j + 1)) || at(j + 1) == '-')) {
      j += 2 + runOf(j + 2, [](char32_t x) { return x != '>' && x != '\r' && x != '\n'; });
    } else if (at(j) == '/') {
      const std::size_t n = name(j + 1);
      if (n == 0) {
        return 0;
      }
      j += 1 + n;
    } else {
      const std::size_t n = name(j);
      if (n == 0) {
        return 0;
      }
      j += n;
      for (;;) {
        const std::size_t gap = spaces(j);
        const std::size_t attr = gap > 0 ? name(j + gap) : 0;
        if (attr == 0) {
          break;
        }
        std::size_t k = j + gap + attr;
        const std::size_t beforeEq = spaces(k);
        if (at(k + beforeEq) == '=') {
          std::size_t v = k + beforeEq + 1;
          v += spaces(v);
          const char32_t quote = at(v);
          if (quote == '\'' || quote == '"') {
            const std::size_t body = runOf(v + 1, [quote](char32_t x) { return x != quote; });
            if (at(v + 1 + body) == quote) {
              k = v + 2 + body;
            }
          }
        }
        j = k;
      }
      j += spaces(j);
      if (at(j) == '/') {
        ++j;
      }
    }
    j += spaces(j);
    return at(j) == '>' ? j + 1 - i : 0;
  }

  // PHONE = ( \([0-9]{2,3}\)[ \u00A0]? | (\+\+?)?([0-9]{2,4}[- \u00A0])?[0-9]{2,4}[- \u00A0] ) [0-9]{3,4} [- \u00A0]?
  // [0-9]{3,5}
  //       | ((\+\+?)?[0-9]{2,4}\.)?[0-9]{2,4}\.[0-9]{3,4}\.[0-9]{3,5}
  // Simulated on sets of end positions, so every way the bounded repeats can split is tried.
  std::size_t phone(std::size_t i) const {
    if (!(isAsciiDigit(at(i)) || at(i) == '(' || at(i) == '+')) {
      return 0;
    }
    using Ends = std::vector<std::size_t>;
    const auto digits = [this](const Ends& in, std::size_t lo, std::size_t hi) {
      Ends out;
      for (std::size_t p : in) {
        const std::size_t run = std::min(runOf(p, isAsciiDigit), hi);
        for (std::size_t k = lo; k <= run; ++k) {
          out.push_back(p + k);
        }
      }
      return out;
    };
    const auto one = [this](const Ends& in, auto pred, bool optional) {
      Ends out;
      for (std::size_t p : in) {
        if (optional) {
          out.push_back(p);
        }
        if (has(p) && pred(s_[p])) {
          out.push_back(p + 1);
        }
      }
      return out;
    };
    const auto merge = [](Ends a, const Ends& b) {
      a.insert(a.end(), b.begin(), b.end());
      std::sort(a.begin(), a.end());
      a.erase(std::unique(a.begin(), a.end()), a.end());
      return a;
    };
    const auto sep = [](char32_t x) { return x == '-' || x == ' ' || x == 0xA0; };
    const auto space = [](char32_t x) { return x == ' ' || x == 0xA0; };
    const auto is = [](char32_t want) { return [want](char32_t x) { return x == want; }; };
    const Ends start{i};
    // First alternative.
    Ends paren = one(start, is('('), false);
    paren = digits(paren, 2, 3);
    paren = one(paren, is(')'), false);
    paren = one(paren, space, true);
    Ends plus = one(one(start, is('+'), true), is('+'), true);
    const Ends group = one(digits(plus, 2, 4), sep, false);
    Ends area = merge(plus, group);
    area = one(digits(area, 2, 4), sep, false);
    Ends first = merge(paren, area);
    first = digits(first, 3, 4);
    first = one(first, sep, true);
    first = digits(first, 3, 5);
    // Second alternative (dotted).
    Ends dotted = merge(start, one(digits(plus, 2, 4), is('.'), false));
    dotted = one(digits(dotted, 2, 4), is('.'), false);
    dotted = one(digits(dotted, 3, 4), is('.'), false);
    dotted = digits(dotted, 3, 5);
    const Ends all = merge(first, dotted);
    return all.empty() ? 0 : all.back() - i;
  }

  std::size_t apoword(std::size_t i) const {
    const char32_t c = at(i);
    // Every alternative has an apostrophe first or right after its leading run of letters.
    if (!isApos(c) && !isAposEtc(at(i + runOf(i, isJavaLetter)))) {
      return 0;
    }
    std::size_t best = 0;
    const auto keep = [&best](std::size_t n) { best = std::max(best, n); };
    if (isApos(c)) {
      if (asciiLower(at(i + 1)) == 'n') {
        keep(isApos(at(i + 2)) ? 3 : 2);  // 'n' or 'n
      }
      if (matchLiteral(i + 1, U"em") > 0) {
        keep(3);
      }
      if (inRange(at(i + 1), '2', '9') && at(i + 2) == '0' && asciiLower(at(i + 3)) == 's') {
        keep(4);  // '90s
      }
      if (matchLiteral(i + 1, U"till") > 0) {
        keep(5);
      } else if (matchLiteral(i + 1, U"til") > 0) {
        keep(4);
      }
      if (matchLiteral(i + 1, U"cause") > 0) {
        keep(6);
      }
    }
    if ((c == 'l' || c == 'L' || c == 'd' || c == 'D' || c == 'j' || c == 'J') && isApos(at(i + 1))) {
      keep(2);
    }
    for (std::u32string_view stem : {U"Dunkin", U"somethin", U"ol"}) {
      if (const std::size_t n = matchLiteral(i, stem); n > 0 && isApos(at(i + n))) {
        keep(n + 1);
      }
    }
    // [A-HJ-XZn] APOSETC [:letter:]{2,}
    if (((c >= 'A' && c <= 'H') || (c >= 'J' && c <= 'X') || c == 'Z' || c == 'n') && isAposEtc(at(i + 1))) {
      const std::size_t letters = runOf(i + 2, isJavaLetter);
      if (letters >= 2) {
        keep(2 + letters);
      }
    }
    // [:letter:]+ [aeiouyAEIOUY] APOSETC [aeiouA-Z] [:letter:]*
    {
      const std::size_t letters = runOf(i, isJavaLetter);
      const char32_t last = letters >= 2 ? asciiLower(s_[i + letters - 1]) : 0;
      const bool vowelEnd = last == 'a' || last == 'e' || last == 'i' || last == 'o' || last == 'u' || last == 'y';
      const char32_t next = at(i + letters + 1);
      const bool vowelNext =
          next == 'a' || next == 'e' || next == 'i' || next == 'o' || next == 'u' || isAsciiUpper(next);
      if (vowelEnd && isAposEtc(at(i + letters)) && vowelNext) {
        keep(letters + 2 + runOf(i + letters + 2, isJavaLetter));
      }
    }
    // Literal words with an ASCII apostrophe.
    if (const std::size_t n = matchLiteral(i, U"cont'd"); n > 0) {
      keep(at(i + n) == '.' ? n + 1 : n);
    }
    for (std::u32string_view lit :
         {U"'twas", U"nor'easter", U"c'mon", U"e'er", U"s'mores", U"ev'ry", U"li'l", U"nat'l"}) {
      keep(matchLiteral(i, lit));
    }
    // O APOSETC o
    if (asciiLower(c) == 'o' && isAposEtc(at(i + 1)) && asciiLower(at(i + 2)) == 'o') {
      keep(3);
    }
    return best;
  }

  std::size_t fullUrl(std::size_t i) const {
    std::size_t scheme = matchLiteral(i, U"https://");
    if (scheme == 0) {
      scheme = matchLiteral(i, U"http://");
    }
    if (scheme == 0) {
      return 0;
    }
    const auto body = [](char32_t x) {
      return !(x == ' ' || x == '\t' || x == '\n' || x == '\f' || x == '\r' || x == '"' || x == '<' || x == '>' ||
               x == '|' || x == '(' || x == ')' || x == '{' || x == '}');
    };
    const auto last = [&body](char32_t x) {
      return body(x) && !(x == '.' || x == '!' || x == '?' || x == ',' || x == '-');
    };
    // The lexer counts UTF-16 units: a code point above U+FFFF alone satisfies "two characters".
    const std::size_t run = runOf(i + scheme, body);
    std::size_t units = 0;
    for (std::size_t k = 0; k < run; ++k) {
      units += s_[i + scheme + k] >= 0x10000 ? 2 : 1;
    }
    for (std::size_t n = run; n >= 1; --n) {
      if (units >= 2 && last(s_[i + scheme + n - 1])) {
        return scheme + n;
      }
      units -= s_[i + scheme + n - 1] >= 0x10000 ? 2 : 1;
    }
    return 0;
  }

  // LIKELYURL = ( www\.([^ \t\n\f\r"<>|.!?(){},]+\.)+[a-zA-Z]{2,4}
  //             | ([^ \t\n\f\r"`'<>|.!?(){},-_$]+\.)+(com|net|org|edu) )
  //             (/[^ \t\n\f\r"<>|()]+[^ \t\n\f\r"<>|.!?(){},-])?
  // Note ",-_" in the second class is a range (0x2C-0x5F): digits, upper case and most ASCII
  // punctuation are excluded from those labels.
  std::size_t likelyUrl(std::size_t i) const {
    const auto commonExcluded = [](char32_t x) {
      return x == ' ' || x == '\t' || x == '\n' || x == '\f' || x == '\r' || x == '"' || x == '<' || x == '>' ||
             x == '|' || x == '.' || x == '!' || x == '?' || x == '(' || x == ')' || x == '{' || x == '}';
    };
    const auto wwwLabel = [&](char32_t x) { return !commonExcluded(x) && x != ','; };
    const auto domainLabel = [&](char32_t x) {
      return !commonExcluded(x) && x != '`' && x != '\'' && !inRange(x, 0x2C, 0x5F) && x != '$';
    };
    std::size_t end = 0;
    if (matchLiteral(i, U"www.") > 0) {
      std::size_t j = i + 4;
      for (;;) {
        const std::size_t label = runOf(j, wwwLabel);
        if (label == 0 || at(j + label) != '.') {
          break;
        }
        j += label + 1;
        const std::size_t tld = std::min<std::size_t>(runOf(j, isAsciiLetter), 4);
        if (tld >= 2) {
          end = std::max(end, j + tld);
        }
      }
    }
    {
      std::size_t j = i;
      for (;;) {
        const std::size_t label = runOf(j, domainLabel);
        if (label == 0 || at(j + label) != '.') {
          break;
        }
        j += label + 1;
        for (std::u32string_view tld : {U"com", U"net", U"org", U"edu"}) {
          if (matchLiteral(j, tld) > 0) {
            end = std::max(end, j + 3);
          }
        }
      }
    }
    if (end == 0) {
      return 0;
    }
    if (at(end) == '/') {
      const auto body = [](char32_t x) {
        return !(x == ' ' || x == '\t' || x == '\n' || x == '\f' || x == '\r' || x == '"' || x == '<' || x == '>' ||
                 x == '|' || x == '(' || x == ')');
      };
      const auto last = [&body](char32_t x) {
        return body(x) && !(x == '.' || x == '!' || x == '?' || x == '{' || x == '}' || x == ',' || x == '-');
      };
      const std::size_t run = runOf(end + 1, body);
      for (std::size_t n = run; n >= 2; --n) {
        if (last(s_[end + n])) {
          return end + 1 + n - i;
        }
      }
    }
    return end - i;
  }

  // EMAIL = (&lt;|<)? [a-zA-Z0-9] [^ \t\n\f\r"<>|()\u00A0{}]* @ ([^ ...{}.\u00A0]+ \.)* [^ ...{}.\u00A0]+ (&gt;|>)?
  std::size_t email(std::size_t i) const {
    std::size_t start = i;
    if (at(i) == '<') {
      start = i + 1;
    } else if (matchLiteral(i, U"&lt;") > 0) {
      start = i + 4;
    }
    if (!isAsciiAlnum(at(start))) {
      return 0;
    }
    const auto local = [](char32_t x) {
      return !(x == ' ' || x == '\t' || x == '\n' || x == '\f' || x == '\r' || x == '"' || x == '<' || x == '>' ||
               x == '|' || x == '(' || x == ')' || x == 0xA0 || x == '{' || x == '}');
    };
    const std::size_t runEnd = start + 1 + runOf(start + 1, local);
    // The longest end whose domain part (after some '@') is dot-separated non-empty labels.
    for (std::size_t end = runEnd; end >= start + 3; --end) {
      if (s_[end - 1] == '.') {
        continue;
      }
      std::size_t doubleDot = start;  // domain must start after the last ".."
      for (std::size_t k = start + 1; k + 1 < end; ++k) {
        if (s_[k] == '.' && s_[k + 1] == '.') {
          doubleDot = k + 1;
        }
      }
      for (std::size_t at = end - 2; at > start && at >= doubleDot; --at) {
        if (s_[at] == '@' && s_[at + 1] != '.') {
          std::size_t n = end - i;
          if (this->at(end) == '>') {
            n += 1;
          } else if (matchLiteral(end, U"&gt;") > 0) {
            n += 4;
          }
          return n;
        }
      }
    }
    return 0;
  }

  std::size_t date(std::size_t i) const {
    const auto isSep = [](char32_t x) { return x == '-' || x == '/'; };
    const std::size_t a = runOf(i, isDigitChar);
    if (a < 1 || a > 2 || !isSep(at(i + a))) {
      return 0;
    }
    const std::size_t b = runOf(i + a + 1, isDigitChar);
    if (b < 1 || b > 2 || !isSep(at(i + a + 1 + b))) {
      return 0;
    }
    const std::size_t y = std::min<std::size_t>(runOf(i + a + b + 2, isDigitChar), 4);
    return y >= 2 ? a + b + 2 + y : 0;
  }

  std::size_t subSupNum(std::size_t i) const {
    std::size_t j = i;
    const char32_t c = at(j);
    if (c == 0x207A || c == 0x207B || c == 0x208A || c == 0x208B) {
      ++j;
    }
    const std::size_t sup = runOf(
        j, [](char32_t x) { return x == 0x2070 || x == 0xB9 || x == 0xB2 || x == 0xB3 || inRange(x, 0x2074, 0x2079); });
    const std::size_t sub = runOf(j, [](char32_t x) { return inRange(x, 0x2080, 0x2089); });
    const std::size_t n = std::max(sup, sub);
    return n > 0 ? j - i + n : 0;
  }

  // FRAC = (DIGIT{1,4} [- \u00A0])? DIGIT{1,4} (\\?/ | \u2044) DIGIT{1,4}
  std::size_t frac(std::size_t i) const {
    const auto simple = [this](std::size_t j) -> std::size_t {
      const std::size_t a = runOf(j, isDigitChar);
      if (a < 1 || a > 4) {
        return 0;
      }
      std::size_t k = j + a;
      if (at(k) == '\\' && at(k + 1) == '/') {
        k += 2;
      } else if (at(k) == '/' || at(k) == 0x2044) {
        k += 1;
      } else {
        return 0;
      }
      const std::size_t b = std::min<std::size_t>(runOf(k, isDigitChar), 4);
      return b > 0 ? k + b - j : 0;
    };
    std::size_t best = simple(i);
    const std::size_t whole = runOf(i, isDigitChar);
    const char32_t sep = at(i + whole);
    if (whole >= 1 && whole <= 4 && (sep == '-' || sep == ' ' || sep == 0xA0)) {
      if (const std::size_t rest = simple(i + whole + 1); rest > 0) {
        best = std::max(best, whole + 1 + rest);
      }
    }
    return best;
  }

  // TBSPEC = -(RRB|LRB|RCB|LCB|RSB|LSB)- | C.D.s | pro- | anti- | S(&|&amp;)P-500 | S(&|&amp;)Ls
  //          | Cap APOS n | c APOS est
  std::size_t tbSpec(std::size_t i) const {
    const char32_t first = asciiLower(at(i));
    if (!(first == '-' || first == 'c' || first == 'p' || first == 'a' || first == 's')) {
      return 0;
    }
    std::size_t best = 0;
    for (std::u32string_view lit : {U"-RRB-", U"-LRB-", U"-RCB-", U"-LCB-", U"-RSB-", U"-LSB-", U"C.D.s", U"pro-",
                                    U"anti-", U"S&P-500", U"S&amp;P-500", U"S&Ls", U"S&amp;Ls"}) {
      best = std::max(best, matchLiteral(i, lit));
    }
    if (matchLiteral(i, U"Cap") > 0 && isApos(at(i + 3)) && asciiLower(at(i + 4)) == 'n') {
      best = std::max<std::size_t>(best, 5);
    }
    if (asciiLower(at(i)) == 'c' && isApos(at(i + 1)) && matchLiteral(i + 2, U"est") > 0) {
      best = std::max<std::size_t>(best, 5);
    }
    return best;
  }

  // FILENAME = (LETTER|DIGIT)+ ([.](LETTER|DIGIT)+)* [.] FILENAME_EXT, followed by SPACENL or [.?!,]
  std::size_t filename(std::size_t i) const {
    static const std::vector<std::u32string_view> kExtensions = {
        U"bat", U"bmp", U"c",    U"class", U"cgi",  U"cpp",  U"dll", U"doc", U"docx", U"exe", U"gif", U"gz",
        U"h",   U"htm", U"html", U"jar",   U"java", U"jpeg", U"jpg", U"mov", U"mp3",  U"pdf", U"php", U"pl",
        U"png", U"ppt", U"ps",   U"py",    U"sql",  U"tar",  U"txt", U"wav", U"x",    U"xml", U"zip"};
    const auto part = [](char32_t x) { return isLetterMacro(x) || isDigitChar(x); };
    std::size_t j = i + runOf(i, part);
    if (j == i) {
      return 0;
    }
    std::size_t best = 0;
    while (at(j) == '.') {
      const std::size_t n = runOf(j + 1, part);
      if (n == 0) {
        break;
      }
      // Any prefix of this component that is an extension and is followed by the context works.
      for (std::u32string_view ext : kExtensions) {
        if (ext.size() <= n && matchLiteral(j + 1, ext) == ext.size()) {
          const char32_t after = at(j + 1 + ext.size());
          if (isSpaceNl(after) || after == '.' || after == '?' || after == '!' || after == ',') {
            best = std::max(best, j + 1 + ext.size() - i);
          }
        }
      }
      j += 1 + n;
    }
    return best;
  }

  // SMILEY = [<>]? [:;=] [\-o\*']? [\(\)DPdpO\\{@\|\[\]]
  std::size_t smiley(std::size_t i) const {
    std::size_t j = i;
    if (at(j) == '<' || at(j) == '>') {
      ++j;
    }
    if (!(at(j) == ':' || at(j) == ';' || at(j) == '=')) {
      return 0;
    }
    ++j;
    const auto mouth = [](char32_t x) {
      return x == '(' || x == ')' || x == 'D' || x == 'P' || x == 'd' || x == 'p' || x == 'O' || x == '\\' ||
             x == '{' || x == '@' || x == '|' || x == '[' || x == ']';
    };
    const char32_t nose = at(j);
    if ((nose == '-' || nose == 'o' || nose == '*' || nose == '\'') && mouth(at(j + 1))) {
      return j + 2 - i;
    }
    return mouth(nose) ? j + 1 - i : 0;
  }

  std::size_t asianSmiley(std::size_t i) const {
    const auto eye = [](char32_t x) {
      return x == '-' || x == '^' || x == 'x' || x == '=' || x == '~' || x == '<' || x == '>' || x == '\'';
    };
    const auto eye2 = [](char32_t x) {
      return x == '^' || x == 'x' || x == '=' || x == '~' || x == '<' || x == '>' || x == '\'';
    };
    std::size_t best = 0;
    if (eye(at(i)) && at(i + 1) == '_' && eye(at(i + 2))) {
      best = 3;
    }
    if (at(i) == '(' && eye(at(i + 1))) {
      if ((at(i + 2) == '_' || at(i + 2) == '.') && eye(at(i + 3)) && at(i + 4) == ')') {
        best = std::max<std::size_t>(best, 5);
      }
      if (eye(at(i + 2)) && at(i + 3) == ')') {
        best = std::max<std::size_t>(best, 4);
      }
    }
    if (at(i) == '(' && eye2(at(i + 1)) && at(i + 2) == '-' && (eye2(at(i + 3)) || at(i + 3) == '`') &&
        at(i + 4) == ')') {
      best = std::max<std::size_t>(best, 5);
    }
    return best;
  }

  static std::u32string escapeParentheses(std::u32string_view text) {
    std::u32string out;
    for (char32_t x : text) {
      if (x == '(') {
        out += U"-LRB-";
      } else if (x == ')') {
        out += U"-RRB-";
      } else {
        out.push_back(x);
      }
    }
    return out;
  }

  std::size_t ldots(std::size_t i) const {
    const char32_t c = at(i);
    if (c == 0x85 || c == 0x2026) {
      return 1;
    }
    if (c != '.') {
      return 0;
    }
    std::size_t best = 0;
    const std::size_t dots = runOf(i, [](char32_t x) { return x == '.'; });
    if (dots >= 3) {
      best = std::min<std::size_t>(dots, 5);
    }
    std::size_t pairs = 0;  // (\.[ \u00A0]){2,4}\.
    while (pairs < 4 && at(i + 2 * pairs) == '.' && (at(i + 2 * pairs + 1) == ' ' || at(i + 2 * pairs + 1) == 0xA0)) {
      ++pairs;
      if (pairs >= 2 && at(i + 2 * pairs) == '.') {
        best = std::max(best, 2 * pairs + 1);
      }
    }
    return best;
  }
};

}  // namespace

std::vector<std::string> ptbTokens(std::string_view caption) {
  const std::u32string text = decodeUtf8(caption);
  std::vector<std::string> out;
  for (const std::u32string& token : Lexer(text).run()) {
    std::string utf8;
    utf8.reserve(token.size());
    for (char32_t c : token) {
      appendUtf8(utf8, toLowerCodePoint(c));
    }
    out.push_back(std::move(utf8));
  }
  return out;
}

bool isCocoPunctuation(std::string_view token) {
  static constexpr std::array<std::string_view, 17> kDropped = {
      "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"};
  return std::find(kDropped.begin(), kDropped.end(), token) != kDropped.end();
}

std::string cocoTokenize(std::string_view caption) {
  std::string out;
  for (const std::string& token : ptbTokens(caption)) {
    if (isCocoPunctuation(token)) {
      continue;
    }
    if (!out.empty()) {
      out.push_back(' ');
    }
    out += token;
  }
  return out;
}

}  // namespace prunelab::evaluators
