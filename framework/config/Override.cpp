#include "framework/config/Override.h"

#include <regex>

#include "framework/core/Error.h"

namespace prunelab::config {

namespace {

// Dotted names (`a.b.0`) or group paths (`a/b`), optionally with `@package`.
const std::regex& keyPattern() {
  static const std::regex re(R"(^[A-Za-z0-9_$\-]+(?:[./][A-Za-z0-9_$\-]+)*(?:@[A-Za-z0-9_$\-.]*)?$)");
  return re;
}

}  // namespace

Override Override::parse(const std::string& text) {
  Override o;
  o.text = text;
  std::string rest = text;
  if (rest.rfind("++", 0) == 0) {
    o.kind = Kind::ForceAdd;
    rest = rest.substr(2);
  } else if (rest.rfind("+", 0) == 0) {
    o.kind = Kind::Add;
    rest = rest.substr(1);
  } else if (rest.rfind("~", 0) == 0) {
    o.kind = Kind::Delete;
    rest = rest.substr(1);
  }
  const std::size_t eq = rest.find('=');
  if (eq == std::string::npos) {
    PL_CHECK(o.kind == Kind::Delete,
             "Bad override '{}': expected key=value (e.g. pruner.sparsity=0.5 or model=mlp), +key=value to add a new "
             "key, ++key=value to add or change, or ~key to delete",
             text);
    o.key = rest;
  } else {
    o.key = rest.substr(0, eq);
    o.value = rest.substr(eq + 1);
  }
  PL_CHECK(!o.key.empty(),
           "Bad override '{}': the key before '=' is empty. Expected key=value, e.g. pruner.sparsity=0.5", text);
  PL_CHECK(std::regex_match(o.key, keyPattern()),
           "Bad override '{}': '{}' is not a valid key. Expected key=value where key is a dotted name like "
           "pruner.sparsity or a group like model or model/encoder (prefix + to add, ++ to add or change, ~ to delete)",
           text, o.key);
  return o;
}

std::string Override::prefix() const {
  switch (kind) {
    case Kind::Change: return "";
    case Kind::Add: return "+";
    case Kind::ForceAdd: return "++";
    case Kind::Delete: return "~";
  }
  return "";
}

}  // namespace prunelab::config
