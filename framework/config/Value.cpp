#include "framework/config/Value.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <regex>

#include "framework/config/ValueParser.h"
#include "framework/core/Error.h"

namespace prunelab::config {

namespace {

// PyYAML's YAML 1.1 resolvers (SafeLoader), with OmegaConf's float resolver replacing PyYAML's.
const std::regex& intPattern() {
  static const std::regex re(
      R"(^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$)");
  return re;
}

const std::regex& floatPattern() {
  static const std::regex re(
      R"(^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$)");
  return re;
}

// Bare inf/nan are not YAML 1.1 floats, but Hydra's override grammar produces them, so a config
// that went through an override (or was written by hand the same way) reads them as floats too.
bool isBareInfNan(const std::string& s) {
  static const std::regex re(R"(^(?:[-+]?(?:inf|Inf|INF)|nan|NaN|NAN)$)");
  return std::regex_match(s, re);
}

bool isNullWord(const std::string& s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

std::optional<bool> boolWord(const std::string& s) {
  static const char* kTrue[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const char* kFalse[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  for (const char* w : kTrue)
    if (s == w) return true;
  for (const char* w : kFalse)
    if (s == w) return false;
  return std::nullopt;
}

ScalarKind plainKind(const std::string& s) {
  if (isNullWord(s)) return ScalarKind::Null;
  if (boolWord(s)) return ScalarKind::Bool;
  if (std::regex_match(s, intPattern())) return ScalarKind::Int;
  if (std::regex_match(s, floatPattern()) || isBareInfNan(s)) return ScalarKind::Float;
  return ScalarKind::String;
}

std::string withoutUnderscores(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != '_') out += c;
  return out;
}

// Sexagesimal (base 60) numbers, a YAML 1.1 oddity: 1:30 == 90.
double sexagesimal(const std::string& body) {
  double value = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = body.find(':', start);
    const std::string part = body.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    value = value * 60 + std::strtod(part.c_str(), nullptr);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return value;
}

std::optional<std::int64_t> parseInt(const std::string& text) {
  std::string s = withoutUnderscores(text);
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s = s.substr(1);
  }
  if (s.find(':') != std::string::npos) {
    const double v = sexagesimal(s);
    if (v > 9.2e18) return std::nullopt;
    return static_cast<std::int64_t>(negative ? -v : v);
  }
  int base = 10;
  if (s.rfind("0b", 0) == 0) {
    base = 2;
    s = s.substr(2);
  } else if (s.rfind("0x", 0) == 0) {
    base = 16;
    s = s.substr(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
  }
  if (s.empty()) return 0;
  errno = 0;
  char* end = nullptr;
  const unsigned long long magnitude = std::strtoull(s.c_str(), &end, base);
  if (errno == ERANGE || *end != '\0') return std::nullopt;
  const auto limit = static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max());
  if (magnitude > limit + (negative ? 1 : 0)) return std::nullopt;
  if (negative)
    return magnitude == limit + 1 ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(magnitude);
  return static_cast<std::int64_t>(magnitude);
}

double parseFloat(const std::string& text) {
  std::string s = withoutUnderscores(text);
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s = s.substr(1);
  }
  if (!s.empty() && s[0] == '.') {
    const std::string word = s.substr(1);
    if (word == "inf" || word == "Inf" || word == "INF") s = "inf";
    if (word == "nan" || word == "NaN" || word == "NAN") s = "nan";
  }
  double v;
  if (s == "inf" || s == "Inf" || s == "INF") {
    v = std::numeric_limits<double>::infinity();
  } else if (s == "nan" || s == "NaN" || s == "NAN") {
    v = std::numeric_limits<double>::quiet_NaN();
  } else if (s.find(':') != std::string::npos) {
    v = sexagesimal(s);
  } else {
    v = std::strtod(s.c_str(), nullptr);
  }
  return negative ? -v : v;
}

std::string formatDouble(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return nlohmann::json(v).dump();
}

const char* kindName(ScalarKind k) {
  switch (k) {
    case ScalarKind::Null: return "null";
    case ScalarKind::Bool: return "bool";
    case ScalarKind::Int: return "int";
    case ScalarKind::Float: return "float";
    case ScalarKind::String: return "string";
  }
  return "value";
}

// "string 'abc'", "int 5", "null", "a list", "a mapping": what a node is, for type errors.
std::string describe(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing (the key is absent)";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  const ScalarKind k = scalarKind(node);
  if (k == ScalarKind::Null) return "null";
  return std::string(kindName(k)) + " '" + node.Scalar() + "'";
}

[[noreturn]] void typeError(const YAML::Node& node, const std::string& key, const char* expected) {
  PL_THROW("{}: expected {}, got {}", key, expected, describe(node));
}

template <class Json>
Json toJsonT(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return nullptr;
  if (node.IsMap()) {
    Json obj = Json::object();
    for (auto it = node.begin(); it != node.end(); ++it) obj[it->first.Scalar()] = toJsonT<Json>(it->second);
    return obj;
  }
  if (node.IsSequence()) {
    Json arr = Json::array();
    for (const auto& item : node) arr.push_back(toJsonT<Json>(item));
    return arr;
  }
  switch (scalarKind(node)) {
    case ScalarKind::Null: return nullptr;
    case ScalarKind::Bool: return *boolWord(node.Scalar());
    case ScalarKind::Int: {
      if (auto v = parseInt(node.Scalar())) return *v;
      return parseFloat(node.Scalar());  // beyond int64: keep the magnitude rather than fail
    }
    case ScalarKind::Float: return parseFloat(node.Scalar());
    case ScalarKind::String: return node.Scalar();
  }
  return nullptr;
}

void flattenInto(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    if (node.size() == 0 && !prefix.empty()) out[prefix] = "{}";
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string k = it->first.Scalar();
      flattenInto(it->second, prefix.empty() ? k : prefix + "." + k, out);
    }
    return;
  }
  out[prefix] = scalarText(node);
}

void emitYaml(YAML::Emitter& out, const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) {
    out << YAML::Null;
  } else if (node.IsScalar()) {
    const bool needsQuotes = scalarKind(node) == ScalarKind::String && plainKind(node.Scalar()) != ScalarKind::String;
    if (needsQuotes) out << YAML::DoubleQuoted;
    out << node.Scalar();
  } else if (node.IsSequence()) {
    out << (node.Style() == YAML::EmitterStyle::Flow ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
    for (const auto& item : node) emitYaml(out, item);
    out << YAML::EndSeq;
  } else {
    out << (node.Style() == YAML::EmitterStyle::Flow ? YAML::Flow : YAML::Block) << YAML::BeginMap;
    for (auto it = node.begin(); it != node.end(); ++it) {
      out << YAML::Key;
      emitYaml(out, it->first);
      out << YAML::Value;
      emitYaml(out, it->second);
    }
    out << YAML::EndMap;
  }
}

}  // namespace

ScalarKind scalarKind(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return ScalarKind::Null;
  PL_CHECK(node.IsScalar(), "expected a scalar value, got {}", node.IsMap() ? "a mapping" : "a list");
  const std::string& tag = node.Tag();
  if (tag.empty() || tag == "?") return plainKind(node.Scalar());
  if (tag == "tag:yaml.org,2002:int") return ScalarKind::Int;
  if (tag == "tag:yaml.org,2002:float") return ScalarKind::Float;
  if (tag == "tag:yaml.org,2002:bool") return ScalarKind::Bool;
  if (tag == "tag:yaml.org,2002:null") return ScalarKind::Null;
  // "!" (quoted), !!str and application tags: the text is the value.
  return ScalarKind::String;
}

bool asBool(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar() || scalarKind(node) != ScalarKind::Bool) typeError(node, key, "a bool (true/false)");
  if (auto b = boolWord(node.Scalar())) return *b;
  const std::string& s = node.Scalar();  // explicitly tagged !!bool with another spelling
  return s == "1" || s == "y" || s == "Y";
}

std::int64_t asInt(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar() || scalarKind(node) != ScalarKind::Int) typeError(node, key, "an int");
  auto v = parseInt(node.Scalar());
  PL_CHECK(v.has_value(), "{}: the integer '{}' does not fit in 64 bits", key, node.Scalar());
  return *v;
}

double asDouble(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) typeError(node, key, "a float");
  const ScalarKind k = scalarKind(node);
  if (k == ScalarKind::Float) return parseFloat(node.Scalar());
  if (k == ScalarKind::Int) {
    if (auto v = parseInt(node.Scalar())) return static_cast<double>(*v);
    return parseFloat(node.Scalar());
  }
  typeError(node, key, "a float");
}

std::string asString(const YAML::Node& node, const std::string& key) {
  // OmegaConf's StringNode accepts numbers and bools and keeps their text; null is not a string.
  if (!node.IsScalar() || scalarKind(node) == ScalarKind::Null) typeError(node, key, "a string");
  return node.Scalar();
}

YAML::Node stringNode(const std::string& s) {
  YAML::Node n(s);
  n.SetTag("!");
  return n;
}

YAML::Node parseValue(const std::string& text) { return ValueParser(text).parse(); }

nlohmann::ordered_json toJson(const YAML::Node& node) { return toJsonT<nlohmann::ordered_json>(node); }

std::string canonicalJson(const YAML::Node& node) { return toJsonT<nlohmann::json>(node).dump(); }

std::map<std::string, std::string> flatten(const YAML::Node& node) {
  std::map<std::string, std::string> out;
  flattenInto(node, "", out);
  return out;
}

YAML::Node clone(const YAML::Node& node) {
  if (!node.IsDefined()) return YAML::Node();
  YAML::Node out;
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: out = YAML::Node(YAML::NodeType::Null); break;
    case YAML::NodeType::Scalar: out = YAML::Node(node.Scalar()); break;
    case YAML::NodeType::Sequence:
      out = YAML::Node(YAML::NodeType::Sequence);
      for (const auto& item : node) out.push_back(clone(item));
      break;
    case YAML::NodeType::Map:
      out = YAML::Node(YAML::NodeType::Map);
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (it->first.IsScalar()) {
          out[it->first.Scalar()] = clone(it->second);
        } else {
          out.force_insert(clone(it->first), clone(it->second));
        }
      }
      break;
  }
  if (!node.Tag().empty()) out.SetTag(node.Tag());
  out.SetStyle(node.Style());
  return out;
}

std::string scalarText(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  if (!node.IsScalar()) return toJson(node).dump();
  switch (scalarKind(node)) {
    case ScalarKind::Null: return "null";
    case ScalarKind::Bool: return asBool(node, "") ? "true" : "false";
    case ScalarKind::Int: {
      if (auto v = parseInt(node.Scalar())) return std::to_string(*v);
      return node.Scalar();
    }
    case ScalarKind::Float: return formatDouble(parseFloat(node.Scalar()));
    case ScalarKind::String: return node.Scalar();
  }
  return node.Scalar();
}

std::string toYamlText(const YAML::Node& node) {
  YAML::Emitter out;
  emitYaml(out, node);
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

}  // namespace prunelab::config
