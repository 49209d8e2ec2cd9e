#include "framework/config/ValueParser.h"

#include <cstring>
#include <regex>

#include "framework/config/Value.h"
#include "framework/core/Error.h"

namespace prunelab::config {

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t'; }

// Characters Hydra lets `\` escape in unquoted values.
bool isEscapable(char c) { return std::strchr("\\()[]{}:=, \t", c) != nullptr; }

bool iequals(const std::string& a, const char* b) {
  if (a.size() != std::strlen(b)) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  return true;
}

// Hydra's INT and FLOAT tokens.
const std::regex& hydraInt() {
  static const std::regex re(R"(^[+-]?(?:0|[1-9](?:_?[0-9])*)$)");
  return re;
}
const std::regex& hydraFloat() {
  static const std::regex re(
      R"(^[+-]?(?:(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*\.)(?:[eE][+-]?[0-9]+)?|[0-9](?:_?[0-9])*[eE][+-]?[0-9]+|[iI][nN][fF]|[nN][aA][nN])$)");
  return re;
}

YAML::Node plainNode(const std::string& text) { return YAML::Node(text); }

// A float as YAML text that scalarKind() reads back as a float.
std::string floatText(const std::string& token) {
  std::string s;
  for (char c : token)
    if (c != '_') s += c;
  std::string body = s;
  std::string sign;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    sign = body[0] == '-' ? "-" : "";
    body = body.substr(1);
  }
  if (iequals(body, "inf")) return sign + ".inf";
  if (iequals(body, "nan")) return ".nan";
  YAML::Node probe(sign + body);
  if (scalarKind(probe) == ScalarKind::Float) return sign + body;
  // `.5`, `-.5`, `5.` with odd signs: print the number the way YAML's float resolver accepts.
  std::string out = nlohmann::json(std::stod(sign + body)).dump();
  if (out.find_first_of(".eE") == std::string::npos) out += ".0";
  return out;
}

}  // namespace

std::string ValueParser::trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (isSpace(s[b]) || s[b] == '\n' || s[b] == '\r')) ++b;
  while (e > b && (isSpace(s[e - 1]) || s[e - 1] == '\n' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> ValueParser::splitTopLevel(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  char quote = 0;
  bool elementStart = true;  // a quote opens a quoted string only at the start of an element
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      cur += c;
      if (c == '\\' && i + 1 < text.size()) {
        cur += text[++i];
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '\\' && i + 1 < text.size()) {
      cur += c;
      cur += text[++i];
      elementStart = false;
      continue;
    }
    if ((c == '\'' || c == '"') && elementStart) {
      quote = c;
      cur += c;
      continue;
    }
    if (c == sep && depth == 0) {
      out.push_back(cur);
      cur.clear();
      elementStart = true;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
      elementStart = true;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth > 0) --depth;
      elementStart = false;
    } else if (c == ',' || c == ':') {
      elementStart = true;
    } else if (!isSpace(c)) {
      elementStart = false;
    }
    cur += c;
  }
  out.push_back(cur);
  return out;
}

void ValueParser::skipSpace() {
  while (!atEnd() && isSpace(text_[pos_])) ++pos_;
}

void ValueParser::fail(const std::string& what) const {
  PL_THROW(
      "Bad override value '{}': {} (at character {}). Expected a value such as 1, 0.5, true, null, 'quoted text', "
      "[1,2] or {{a: 1}}; quote the value or escape special characters with \\",
      text_, what, pos_ + 1);
}

YAML::Node ValueParser::parse() {
  pos_ = 0;
  skipSpace();
  if (atEnd()) return stringNode("");  // `key=` sets an empty string, as in Hydra
  YAML::Node value = parseElement(",");
  skipSpace();
  if (!atEnd()) {
    if (text_[pos_] == ',')
      fail(
          "a top-level ',' makes this a sweep (a,b,c), which needs multirun (-m); to pass a comma in a string, "
          "quote it or write \\,");
    fail(std::string("unexpected '") + text_[pos_] + "'");
  }
  return value;
}

YAML::Node ValueParser::parseElement(const char* terminators) {
  skipSpace();
  if (atEnd()) fail("missing value");
  const char c = text_[pos_];
  if (c == '[') return parseList();
  if (c == '{') return parseDict();
  if (c == '\'' || c == '"') {
    std::string s = parseQuoted();
    skipSpace();
    if (!atEnd() && !std::strchr(terminators, text_[pos_])) fail("text after a quoted string");
    return stringNode(s);
  }
  return parsePrimitive(terminators);
}

YAML::Node ValueParser::parseList() {
  YAML::Node list(YAML::NodeType::Sequence);
  list.SetStyle(YAML::EmitterStyle::Flow);
  ++pos_;  // '['
  skipSpace();
  if (!atEnd() && text_[pos_] == ']') {
    ++pos_;
    return list;
  }
  while (true) {
    list.push_back(parseElement(",]"));
    skipSpace();
    if (atEnd()) fail("missing ']'");
    if (text_[pos_] == ',') {
      ++pos_;
      continue;
    }
    if (text_[pos_] == ']') {
      ++pos_;
      return list;
    }
    fail(std::string("expected ',' or ']' in a list, found '") + text_[pos_] + "'");
  }
}

YAML::Node ValueParser::parseDict() {
  YAML::Node dict(YAML::NodeType::Map);
  dict.SetStyle(YAML::EmitterStyle::Flow);
  ++pos_;  // '{'
  skipSpace();
  if (!atEnd() && text_[pos_] == '}') {
    ++pos_;
    return dict;
  }
  while (true) {
    skipSpace();
    std::string key;
    if (!atEnd() && (text_[pos_] == '\'' || text_[pos_] == '"')) {
      key = parseQuoted();
    } else {
      const std::size_t start = pos_;
      while (!atEnd() && text_[pos_] != ':' && text_[pos_] != ',' && text_[pos_] != '}') ++pos_;
      key = trim(text_.substr(start, pos_ - start));
    }
    skipSpace();
    if (key.empty()) fail("empty key in a dict");
    if (atEnd() || text_[pos_] != ':') fail("expected ':' after dict key '" + key + "'");
    ++pos_;
    dict[key] = parseElement(",}");
    skipSpace();
    if (atEnd()) fail("missing '}'");
    if (text_[pos_] == ',') {
      ++pos_;
      continue;
    }
    if (text_[pos_] == '}') {
      ++pos_;
      return dict;
    }
    fail(std::string("expected ',' or '}' in a dict, found '") + text_[pos_] + "'");
  }
}

std::string ValueParser::parseQuoted() {
  const char quote = text_[pos_++];
  std::string out;
  while (!atEnd()) {
    const char c = text_[pos_++];
    if (c == '\\' && !atEnd() && (text_[pos_] == quote || text_[pos_] == '\\')) {
      out += text_[pos_++];
    } else if (c == quote) {
      return out;
    } else {
      out += c;
    }
  }
  fail(std::string("missing closing ") + quote);
}

YAML::Node ValueParser::parsePrimitive(const char* terminators) {
  std::string out;
  std::size_t keep = 0;  // characters that trailing-space trimming must not remove (escaped ones)
  bool escaped = false, interpolation = false;
  while (!atEnd()) {
    const char c = text_[pos_];
    if (c == '\\' && pos_ + 1 < text_.size() && isEscapable(text_[pos_ + 1])) {
      out += text_[pos_ + 1];
      pos_ += 2;
      keep = out.size();
      escaped = true;
      continue;
    }
    if (c == '$' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '{') {
      // Copy ${...} verbatim, nested braces included; OmegaConf resolves it later.
      int depth = 0;
      const std::size_t start = pos_++;  // at '{' now
      do {
        if (text_[pos_] == '{') ++depth;
        if (text_[pos_] == '}') --depth;
        ++pos_;
      } while (!atEnd() && depth > 0);
      if (depth > 0) fail("unterminated '${'");
      out += text_.substr(start, pos_ - start);
      keep = out.size();
      interpolation = true;
      continue;
    }
    if (std::strchr(terminators, c)) break;
    if (c == '[' || c == ']' || c == '{' || c == '}')
      fail(std::string("unexpected '") + c + "' inside an unquoted value (escape it as \\" + c + ")");
    out += c;
    ++pos_;
  }
  while (out.size() > keep && isSpace(out.back())) out.pop_back();
  if (out.empty() && !escaped) fail("missing value");
  if (escaped || interpolation) return stringNode(out);
  if (iequals(out, "null")) return YAML::Node(YAML::NodeType::Null);
  if (iequals(out, "true")) return plainNode("true");
  if (iequals(out, "false")) return plainNode("false");
  if (std::regex_match(out, hydraInt())) {
    std::string digits;
    for (char ch : out)
      if (ch != '_' && ch != '+') digits += ch;
    if (digits.size() > 1 && digits[0] == '-' && digits == "-0") digits = "0";
    return plainNode(digits);
  }
  if (std::regex_match(out, hydraFloat())) return plainNode(floatText(out));
  return stringNode(out);
}

}  // namespace prunelab::config
