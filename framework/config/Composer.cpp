#include "framework/config/Composer.h"

#include <algorithm>

#include "framework/config/ConfigTree.h"
#include "framework/config/DefaultsList.h"
#include "framework/config/Interpolator.h"
#include "framework/config/Override.h"
#include "framework/config/Value.h"
#include "framework/config/ValueParser.h"
#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

// Hydra composition (spec-conventions-metrics.md section 1). Known limits, each an error when met
// rather than a silent difference: several options for one group (`db: [a, b]`), interpolations
// inside defaults lists, glob()/sort()/shuffle()/interval() sweeps (Sweep.cpp). Options are
// `.yaml` files only (not `.yml`), config keys must not contain '.', and `hydra.sweeper.params`
// is not read here (the Sweeper prepends them to the command line).
namespace fs = std::filesystem;

namespace prunelab::config {

namespace {

std::string overrideSource(const std::string& text) { return "override '" + text + "'"; }

// Merges a file's body at its package, creating the package's mappings.
void mergeAt(YAML::Node root, const ConfigSource& s, std::map<std::string, std::string>& origins) {
  if (!s.package.empty()) {
    auto target = findKey(root, s.package);
    if (!target || !target->IsMap()) {
      const YAML::Node empty(YAML::NodeType::Map);
      setKey(root, s.package, empty);
      recordOrigins(empty, s.package, s.display, &origins);
    }
  }
  if (!s.body.IsMap()) return;
  YAML::Node target = s.package.empty() ? root : *findKey(root, s.package);
  mergeInto(target, s.body, s.package, s.display, &origins);
}

// The option named by a group override's value: a bare name or null.
std::string groupOption(const Override& o) {
  const std::string v = ValueParser::trim(*o.value);
  PL_CHECK(!v.empty(), "Bad override '{}': missing option after '='. Expected {}=<option>", o.text, o.key);
  PL_CHECK(v.find(',') == std::string::npos,
           "Override '{}' is a sweep over options; run it as a multirun (-m) or pick one option", o.text);
  PL_CHECK(v[0] != '[' && v[0] != '{',
           "Bad override '{}': give one option name for group '{}' (lists of options are not supported)", o.text,
           o.key);
  if (v.size() >= 2 && (v[0] == '\'' || v[0] == '"') && v.back() == v[0]) return v.substr(1, v.size() - 2);
  return v;
}

// Applies one value override (a.b=v, +a.b=v, ++a.b=v, ~a.b, ~a.b=v) to the merged config.
void applyOverride(const fs::path& dir, YAML::Node config, const Override& o,
                   std::map<std::string, std::string>& origins) {
  const std::string source = overrideSource(o.text);
  const std::string& key = o.key;
  PL_CHECK(key.find('@') == std::string::npos,
           "Bad override '{}': '@package' only applies to config groups, and '{}' is not a group in {}", o.text,
           key.substr(0, key.find('@')), dir.string());
  YAML::Node value;
  if (o.value) {
    try {
      value = parseValue(*o.value);
    } catch (const Error& e) {
      throw Error(fmt::format("In override '{}': {}", o.text, e.what()), e.file(), e.line());
    }
  }
  const auto existing = findKey(config, key);
  auto candidates = [&] {
    auto keys = dottedKeys(config, false);
    for (const auto& g : DefaultsList::groupsIn(dir)) keys.push_back(g);
    return keys;
  };
  auto parentIsContainer = [&] {
    const auto segs = splitKey(key);
    std::string parent;
    for (std::size_t i = 0; i + 1 < segs.size(); ++i) {
      parent = joinKey(parent, segs[i]);
      auto p = findKey(config, parent);
      if (!p) return true;  // missing parents are created
      if (!p->IsMap() && !(p->IsSequence() && i + 2 == segs.size())) return false;
    }
    return true;
  };

  switch (o.kind) {
    case Override::Kind::Change:
      PL_CHECK(existing.has_value(), "Could not override '{}': no such key{}. To add a new key use +{}={}", key,
               didYouMean(key, candidates()), key, *o.value);
      break;
    case Override::Kind::Add:
      PL_CHECK(!existing.has_value(),
               "Could not add '{}' with '{}': the key already exists (value {}). To change it use {}={}, or ++{}={} to "
               "add or change",
               key, o.text, scalarText(*existing), key, *o.value, key, *o.value);
      break;
    case Override::Kind::ForceAdd: break;
    case Override::Kind::Delete: {
      PL_CHECK(existing.has_value(), "Could not delete '{}' with '{}': no such key{}", key, o.text,
               didYouMean(key, candidates()));
      if (o.value) {
        PL_CHECK(canonicalJson(*existing) == canonicalJson(value),
                 "Could not delete '{}' with '{}': its value is {}, not {}. Use ~{} to delete it whatever its value",
                 key, o.text, scalarText(*existing), scalarText(value), key);
      }
      removeKey(config, key);
      eraseOrigins(key, &origins);
      return;
    }
  }
  PL_CHECK(parentIsContainer(), "Could not set '{}' with '{}': a parent of that key is a plain value, not a mapping",
           key, o.text);
  if (existing && existing->IsMap() && value.IsMap()) {
    mergeInto(*existing, value, key, source, &origins);  // `k={a:1}` merges into an existing mapping
    return;
  }
  setKey(config, key, value);
  // Lists are leaves of the origin map: `l.0=x` makes the override the origin of `l`.
  std::string owner;
  for (const auto& seg : splitKey(key)) {
    owner = joinKey(owner, seg);
    auto node = findKey(config, owner);
    if (node && node->IsSequence()) break;
  }
  recordOrigins(value, owner, source, &origins);
}

}  // namespace

Composer::Composer(fs::path configDir, std::string primary) : dir_(std::move(configDir)), primary_(std::move(primary)) {
  PL_CHECK(fs::is_directory(dir_), "Config directory '{}' does not exist. Pass the folder holding {}.yaml",
           dir_.string(), primary_);
}

std::vector<std::string> Composer::groupOptions(const std::string& group) const {
  return DefaultsList::optionsIn(dir_, group);
}

Composition Composer::compose(const std::vector<std::string>& overrides) const {
  Composition out;
  out.overrides = overrides;
  DefaultsList defaults(dir_);
  std::vector<Override> valueOverrides;

  // Group overrides edit the defaults list before anything loads; value overrides wait.
  for (const auto& text : overrides) {
    const Override o = Override::parse(text);
    const std::string group = o.key.substr(0, o.key.find('@'));
    const bool isGroup = fs::is_directory(dir_ / group) && group.find('.') == std::string::npos;
    if (!isGroup) {
      if (group.find('/') != std::string::npos) {
        const auto groups = DefaultsList::groupsIn(dir_);
        PL_THROW("Unknown config group '{}' in override '{}'{}. Available groups: {}", group, text,
                 didYouMean(group, groups), groups.empty() ? "none" : quotedList(groups));
      }
      valueOverrides.push_back(o);
      continue;
    }
    const std::string source = overrideSource(text);
    switch (o.kind) {
      case Override::Kind::Change:
      case Override::Kind::ForceAdd: {
        PL_CHECK(o.value.has_value(), "Bad override '{}': expected {}=<option>", text, o.key);
        const std::string option = groupOption(o);
        const bool isNull = option == "null";
        defaults.overrideGroup(o.key, option, isNull, source, o.kind == Override::Kind::ForceAdd);
        break;
      }
      case Override::Kind::Add:
        PL_CHECK(o.value.has_value(), "Bad override '{}': expected +{}=<option>", text, o.key);
        defaults.appendGroup(o.key, groupOption(o), source);
        break;
      case Override::Kind::Delete:
        defaults.deleteGroup(o.key, o.value ? std::optional<std::string>(groupOption(o)) : std::nullopt, source);
        break;
    }
  }

  defaults.build(primary_);
  out.choices = defaults.choices();

  YAML::Node config(YAML::NodeType::Map);
  for (const auto& s : defaults.sources()) mergeAt(config, s, out.origins);

  for (const auto& o : valueOverrides) applyOverride(dir_, config, o, out.origins);

  // Keep origins of the leaves that survived (merges and deletions can orphan some).
  const auto leaves = dottedKeys(config, true);
  std::map<std::string, std::string> kept;
  for (const auto& k : leaves) {
    auto it = out.origins.find(k);
    if (it != out.origins.end()) kept.insert(*it);
  }
  out.origins = std::move(kept);
  out.config = config;
  return out;
}

}  // namespace prunelab::config
