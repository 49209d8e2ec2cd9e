#include "framework/config/Interpolator.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <regex>

#include "framework/config/Composer.h"
#include "framework/config/ConfigTree.h"
#include "framework/config/Value.h"
#include "framework/config/ValueParser.h"
#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::config {

namespace {

// Index just past the '}' closing the "${" at `open`, or npos. Quotes inside protect braces.
std::size_t closingBrace(const std::string& text, std::size_t open) {
  int depth = 0;
  char quote = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '\\') {
      ++i;
    } else if ((c == '\'' || c == '"') && depth > 0 && i > 0 && (text[i - 1] == ':' || text[i - 1] == ',')) {
      quote = c;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string::npos;
}

std::string chain(const std::vector<std::string>& keys, const std::string& last) {
  std::string out;
  for (const auto& k : keys) out += k + " -> ";
  return out + last;
}

}  // namespace

std::string nowText(const std::string& format) {
  static std::mutex mutex;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(format);
  if (it != cache.end()) return it->second;
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::string buffer(256 + format.size() * 8, '\0');
  const std::size_t n = std::strftime(buffer.data(), buffer.size(), format.c_str(), &tm);
  buffer.resize(n);
  cache[format] = buffer;
  return buffer;
}

Interpolator::Interpolator(const YAML::Node& root, std::map<std::string, Resolver> resolvers)
    : root_(root), resolvers_(std::move(resolvers)) {}

YAML::Node Interpolator::resolveAll() {
  if (!root_.IsMap()) return resolveNode(root_, "");
  YAML::Node out(YAML::NodeType::Map);
  for (auto it = root_.begin(); it != root_.end(); ++it) out[it->first.Scalar()] = resolveKey(it->first.Scalar());
  return out;
}

YAML::Node Interpolator::resolveKey(const std::string& key) {
  auto cached = cache_.find(key);
  if (cached != cache_.end()) return clone(cached->second);
  if (std::find(stack_.begin(), stack_.end(), key) != stack_.end()) {
    const auto first = std::find(stack_.begin(), stack_.end(), key);
    PL_THROW("Interpolation cycle: {}. Break the loop by giving one of these keys a plain value",
             chain(std::vector<std::string>(first, stack_.end()), key));
  }
  auto node = findKey(root_, key);
  PL_CHECK(node.has_value(), "No config key '{}'{}", key, didYouMean(key, dottedKeys(root_, false)));
  stack_.push_back(key);
  YAML::Node value = resolveNode(*node, key);
  stack_.pop_back();
  cache_[key] = value;
  return clone(value);
}

YAML::Node Interpolator::resolveNode(const YAML::Node& node, const std::string& key) {
  if (node.IsMap()) {
    YAML::Node out(YAML::NodeType::Map);
    out.SetStyle(node.Style());
    for (auto it = node.begin(); it != node.end(); ++it)
      out[it->first.Scalar()] = resolveKey(joinKey(key, it->first.Scalar()));
    return out;
  }
  if (node.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    out.SetStyle(node.Style());
    for (std::size_t i = 0; i < node.size(); ++i) out.push_back(resolveKey(joinKey(key, std::to_string(i))));
    return out;
  }
  if (!node.IsScalar()) return clone(node);
  const std::string& text = node.Scalar();
  if (text == "???") {
    std::string neededBy;
    if (!referrers_.empty()) neededBy = fmt::format(" (needed by '{}')", referrers_.back());
    PL_THROW("Missing mandatory value '{}'{}: set it with {}=<value> on the command line or in a config file", key,
             neededBy, key);
  }
  if (text.find("${") != std::string::npos) return evalString(text, key);
  return clone(node);
}

YAML::Node Interpolator::evalString(const std::string& text, const std::string& key) {
  std::string out;
  bool onlyOne = false;  // the text is exactly one `${...}`
  YAML::Node single;
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, 3, "\\${") == 0) {  // escaped: a literal "${"
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") == 0) {
      const std::size_t end = closingBrace(text, i);
      PL_CHECK(end != std::string::npos, "Unterminated interpolation in '{}' at '{}': add the missing '}}'", text, key);
      YAML::Node value = evalInterpolation(text.substr(i + 2, end - i - 3), key);
      onlyOne = i == 0 && end == text.size();
      if (onlyOne) single = value;
      out += scalarText(value);
      i = end;
      continue;
    }
    out += text[i++];
  }
  if (onlyOne) return single;  // `${a.b}` alone keeps the referenced value's kind
  return stringNode(out);
}

YAML::Node Interpolator::evalInterpolation(const std::string& rawBody, const std::string& key) {
  const std::string body = ValueParser::trim(rawBody);
  static const std::regex resolverCall(R"(^([A-Za-z_][A-Za-z0-9_.\-]*):([\s\S]*)$)");
  std::smatch m;
  if (std::regex_match(body, m, resolverCall)) return callResolver(m[1], m[2], key);

  std::string ref = body;
  if (ref.find("${") != std::string::npos) ref = scalarText(evalString(ref, key));
  PL_CHECK(!ref.empty(), "Empty interpolation '${{}}' at '{}': write ${{some.key}}", key);
  const std::string target = absoluteKey(ref, key);
  if (!findKey(root_, target)) {
    PL_THROW("Could not resolve '${{{}}}' at '{}': no config key '{}'{}", body, key, target,
             didYouMean(target, dottedKeys(root_, false)));
  }
  referrers_.push_back(key);
  YAML::Node value = resolveKey(target);
  referrers_.pop_back();
  return value;
}

std::string Interpolator::absoluteKey(const std::string& ref, const std::string& key) const {
  if (ref[0] != '.') {
    std::string out;
    for (const auto& s : splitKey(ref)) out = joinKey(out, s);
    return out;
  }
  std::size_t dots = 0;
  while (dots < ref.size() && ref[dots] == '.') ++dots;
  std::vector<std::string> base = splitKey(key);
  // One dot is the node's own container; each further dot goes one level up.
  PL_CHECK(base.size() >= dots, "Relative interpolation '${{{}}}' at '{}' goes above the config root", ref, key);
  base.resize(base.size() - dots);
  std::string out;
  for (const auto& s : base) out = joinKey(out, s);
  for (const auto& s : splitKey(ref.substr(dots))) out = joinKey(out, s);
  return out;
}

std::string Interpolator::argText(const std::string& raw, const std::string& key) {
  std::string a = ValueParser::trim(raw);
  if (a.size() >= 2 && (a[0] == '\'' || a[0] == '"') && a.back() == a[0]) {
    std::string out;
    for (std::size_t i = 1; i + 1 < a.size(); ++i) {
      if (a[i] == '\\' && i + 2 < a.size()) ++i;
      out += a[i];
    }
    return out;
  }
  if (a.find("${") != std::string::npos) return scalarText(evalString(a, key));
  std::string out;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == '\\' && i + 1 < a.size()) ++i;
    out += a[i];
  }
  return out;
}

YAML::Node Interpolator::callResolver(const std::string& name, const std::string& args, const std::string& key) {
  auto custom = resolvers_.find(name);
  if (custom != resolvers_.end()) {
    std::vector<std::string> values;
    if (!ValueParser::trim(args).empty())
      for (const auto& a : ValueParser::splitTopLevel(args, ',')) values.push_back(argText(a, key));
    return custom->second(values);
  }
  if (name == "now") return stringNode(nowText(ValueParser::trim(args)));
  if (name == "oc.env") {
    const auto pieces = ValueParser::splitTopLevel(args, ',');
    PL_CHECK(pieces.size() <= 2, "${{oc.env:{}}} at '{}': expected ${{oc.env:VAR}} or ${{oc.env:VAR,default}}", args,
             key);
    const std::string var = argText(pieces[0], key);
    PL_CHECK(!var.empty(), "${{oc.env:{}}} at '{}': the variable name is empty", args, key);
    if (const char* value = std::getenv(var.c_str())) return stringNode(value);
    if (pieces.size() == 2) {
      if (ValueParser::trim(pieces[1]) == "null") return YAML::Node(YAML::NodeType::Null);
      return stringNode(argText(pieces[1], key));
    }
    PL_THROW(
        "Environment variable '{}' is not set (needed by '{}'). Set it (export {}=...) or give a default: "
        "${{oc.env:{},default}}",
        var, key, var, var);
  }
  std::vector<std::string> known = {"now", "oc.env"};
  for (const auto& [n, r] : resolvers_) known.push_back(n);
  PL_THROW("Unknown resolver '{}' in '${{{}:{}}}' at '{}'{}. Available: {}", name, name, args, key,
           didYouMean(name, known), quotedList(known));
}

YAML::Node resolve(const YAML::Node& config, const std::map<std::string, Resolver>& resolvers) {
  return Interpolator(config, resolvers).resolveAll();
}

YAML::Node resolve(const YAML::Node& config) { return Interpolator(config).resolveAll(); }

}  // namespace prunelab::config
