#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace prunelab::config {

/// Parses one command-line override value with Hydra's grammar (override_grammar/basic): int
/// (`1_000`), float (`1e-3`, `inf`, `nan`), bool (`true`/`false`, any case), `null`, quoted
/// strings, `[lists]`, `{dicts}`, `${interpolations}` (kept as strings), and unquoted strings with
/// `\` escapes for `\()[]{}:=, ` and tab. Unlike YAML, `yes`/`no`/`on`/`off` are strings here.
class ValueParser {
 public:
  explicit ValueParser(std::string text) : text_(std::move(text)) {}

  /// The value as a typed node (strings carry Tag "!" so they stay strings).
  YAML::Node parse();

  /// Splits at `sep` characters that are outside quotes, brackets, parentheses, braces and
  /// `${...}`, and not escaped with `\`. Pieces are returned untrimmed.
  static std::vector<std::string> splitTopLevel(const std::string& text, char sep);

  /// Removes surrounding whitespace.
  static std::string trim(const std::string& s);

 private:
  YAML::Node parseElement(const char* terminators);
  YAML::Node parseList();
  YAML::Node parseDict();
  std::string parseQuoted();
  YAML::Node parsePrimitive(const char* terminators);
  void skipSpace();
  bool atEnd() const { return pos_ >= text_.size(); }
  [[noreturn]] void fail(const std::string& what) const;

  std::string text_;
  std::size_t pos_ = 0;
};

}  // namespace prunelab::config
