#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace prunelab::config {

/// A custom interpolation resolver, `${name:arg1,arg2}`: gets the arguments (unquoted, nested
/// interpolations already resolved) and returns the value.
using Resolver = std::function<YAML::Node(const std::vector<std::string>& args)>;

/// Resolves OmegaConf interpolations in a config: node references `${a.b}`, relative `${.x}` and
/// `${..x}`, list items `${a.0}`/`${a[0]}`, resolvers `${oc.env:VAR[,default]}` and `${now:fmt}`
/// (plus any given), interpolations nested inside others and inside strings (`run_${seed}`).
/// A value that is exactly one interpolation takes the referenced node's kind; anything else is a
/// string. `\${` is a literal `${`. Inside strings, ints/floats/bools print as scalarText() does
/// (`true`, not Python's `True`: a deliberate difference from OmegaConf).
class Interpolator {
 public:
  Interpolator(const YAML::Node& root, std::map<std::string, Resolver> resolvers = {});

  /// A resolved deep copy of the whole config.
  YAML::Node resolveAll();

  /// The resolved value at a dotted key.
  YAML::Node resolveKey(const std::string& key);

 private:
  YAML::Node resolveNode(const YAML::Node& node, const std::string& key);
  YAML::Node evalString(const std::string& text, const std::string& key);
  YAML::Node evalInterpolation(const std::string& body, const std::string& key);
  YAML::Node callResolver(const std::string& name, const std::string& args, const std::string& key);
  std::string absoluteKey(const std::string& ref, const std::string& key) const;
  std::string argText(const std::string& raw, const std::string& key);

  YAML::Node root_;
  std::map<std::string, Resolver> resolvers_;
  std::map<std::string, YAML::Node> cache_;
  std::vector<std::string> stack_;      // keys being resolved, outermost first (cycle detection)
  std::vector<std::string> referrers_;  // keys whose interpolation is being followed ("needed by")
};

/// resolve() with extra resolvers (e.g. `hydra:` for runtime values); names shadow the built-ins.
YAML::Node resolve(const YAML::Node& config, const std::map<std::string, Resolver>& resolvers);

/// The current local time formatted with strftime; the first result per format is cached for the
/// rest of the process, as Hydra's `now` resolver does, so every job of a sweep agrees on it.
std::string nowText(const std::string& format);

}  // namespace prunelab::config
