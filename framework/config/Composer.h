#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace prunelab::config {

/// The result of composing a primary config with its defaults list and command-line overrides
/// (Hydra semantics, spec-conventions-metrics.md §1).
struct Composition {
  /// The composed config, interpolations still unresolved (what `.hydra/config.yaml` holds).
  YAML::Node config;
  /// Group choices after overrides, e.g. {"model": "mlp", "pruner": "magnitude", "experiment": "x"}.
  std::map<std::string, std::string> choices;
  /// The overrides as given on the command line, in order.
  std::vector<std::string> overrides;
  /// Where each leaf key's value came from: dotted key -> "conf/pruner/magnitude.yaml" or
  /// "override 'pruner.sparsity=0.5'". Used by error messages that name the source of a bad key.
  std::map<std::string, std::string> origins;
};

/// Composes configs from a Hydra-style config directory: `<dir>/<primary>.yaml` plus one folder per
/// group. Throws prunelab::Error with a fix-it message on any problem (missing option with the list
/// of available ones and a "did you mean", bad override syntax, overriding a missing key without `+`).
class Composer {
 public:
  explicit Composer(std::filesystem::path configDir, std::string primary = "config");

  /// Composes the primary config with the given overrides (each a single, non-sweep override).
  Composition compose(const std::vector<std::string>& overrides) const;

  /// The options available for a group (file stems under `<dir>/<group>/`), sorted.
  std::vector<std::string> groupOptions(const std::string& group) const;

  /// The config directory this composer reads.
  const std::filesystem::path& configDir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::string primary_;
};

/// Expands sweep overrides (`k=a,b,c`, `k=range(0,10,2)`, `k=choice(a,b)`) into one override list
/// per job: cartesian product, keys in order of first appearance, last key varying fastest.
/// Non-sweep overrides are copied into every job. Job i of the result is Hydra's job number i.
std::vector<std::vector<std::string>> expandSweep(const std::vector<std::string>& overrides);

/// Returns a copy with every interpolation resolved: `${a.b}`, `${oc.env:VAR,default}`,
/// `${now:%Y-%m-%d}`, string interpolation (`run_${seed}`), nested. A `???` value anywhere is an
/// error naming the key ("missing mandatory value 'model.path': set it with model.path=...").
/// Cycles and unknown keys are errors naming the key.
YAML::Node resolve(const YAML::Node& config);

}  // namespace prunelab::config
