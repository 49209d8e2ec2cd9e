#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "framework/core/Error.h"
#include "framework/core/Options.h"
#include "framework/core/Suggest.h"

namespace prunelab {

/// A typed registry of plugins deriving from Base, filled explicitly by each plugin folder's
/// `registerAll`. A plugin class P declares `using Options = ...;` (a struct with `visit`) and a
/// constructor `explicit P(Options)`. A config mapping selects the plugin with its `type:` key; the
/// other keys are P::Options. Unknown names get "did you mean" and the list; duplicates are errors.
template <class Base>
class Registry {
 public:
  /// What the registry knows about one plugin.
  struct Entry {
    std::string description;
    /// Parses and validates the options without building anything (sweep validation).
    std::function<YAML::Node(const YAML::Node&, const std::string&, const OriginMap*)> parse;
    std::function<std::unique_ptr<Base>(const YAML::Node&, const std::string&, const OriginMap*)> create;
    std::function<std::vector<OptionHelp>()> help;
  };

  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  /// Registers plugin P under `name`; throws on a duplicate name.
  template <class P>
  void add(const std::string& name, std::string description) {
    static_assert(std::is_base_of_v<Base, P>, "plugin must derive from the registry's base class");
    PL_CHECK(!entries_.count(name), "{} '{}' is registered twice: each name must be unique in registerAll()", kind_,
             name);
    Entry e;
    e.description = std::move(description);
    e.parse = [](const YAML::Node& spec, const std::string& path, const OriginMap* origins) {
      return dumpOptions(parseOptions<typename P::Options>(spec, path, origins));
    };
    e.create = [](const YAML::Node& spec, const std::string& path, const OriginMap* origins) {
      return std::unique_ptr<Base>(new P(parseOptions<typename P::Options>(spec, path, origins)));
    };
    e.help = [] { return optionsHelp<typename P::Options>(); };
    entries_.emplace(name, std::move(e));
  }

  /// The entry for `name`, or an error listing the registered names with a suggestion.
  const Entry& entry(const std::string& name, const std::string& where = "") const {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      PL_THROW("Unknown {} type '{}'{}{}. Registered: {}", kind_, name, where.empty() ? "" : " at " + where,
               didYouMean(name, names()), quotedList(names()));
    }
    return it->second;
  }

  /// The `type:` of a config mapping at `path`, with a clear error when it is missing.
  std::string typeOf(const YAML::Node& spec, const std::string& path) const {
    PL_CHECK(spec && spec.IsMap(), "{}: expected a mapping with a 'type:' key naming the {} (one of {})", path, kind_,
             quotedList(names()));
    PL_CHECK(spec["type"] && spec["type"].IsScalar(), "{}: missing 'type:' key; set it to one of {}", path,
             quotedList(names()));
    return spec["type"].Scalar();
  }

  /// Validates the options at `path` and returns them resolved (every default filled in).
  YAML::Node parse(const YAML::Node& spec, const std::string& path, const OriginMap* origins = nullptr) const {
    const auto type = typeOf(spec, path);
    YAML::Node out = entry(type, path + ".type").parse(spec, path, origins);
    out["type"] = type;
    return out;
  }

  /// Builds the plugin configured at `path`.
  std::unique_ptr<Base> create(const YAML::Node& spec, const std::string& path,
                               const OriginMap* origins = nullptr) const {
    return entry(typeOf(spec, path), path + ".type").create(spec, path, origins);
  }

  /// Registered names, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : entries_) out.push_back(k);
    return out;
  }

  /// What kind of plugin this registry holds ("model", "pruner", ...).
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace prunelab
