#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "framework/store/RunStore.h"

namespace prunelab::results {

/// One run a spec selected: its flattened config with its config-group choices added (`pruner:
/// wanda`, which names presets that params alone cannot tell apart), and its metrics.
struct SelectedRun {
  std::string id;
  std::map<std::string, std::string> params;
  std::map<std::string, double> metrics;
};

/// The runs a spec's `runs:` block selects, with every config key and metric they carry (what spec
/// keys are checked against).
struct RunSelection {
  std::vector<SelectedRun> runs;  ///< the newest run per config hash, newest first
  std::set<std::string> params, metrics;

  /// The config keys and groups, sorted (for "did you mean").
  std::vector<std::string> paramList() const { return {params.begin(), params.end()}; }
  /// The metric keys, sorted (for "did you mean").
  std::vector<std::string> metricList() const { return {metrics.begin(), metrics.end()}; }
};

/// Run filters on config values: key -> accepted values (a scalar in YAML is a one-value list).
using Where = std::map<std::string, std::vector<std::string>>;

/// Throws "<spec> spec: unknown key 'k' in <where> (did you mean ...?); valid keys: ..." for a key of
/// the mapping `node` that is not in `allowed`.
void checkSpecKeys(const YAML::Node& node, const std::vector<std::string>& allowed, const std::string& where,
                   const std::string& spec);

/// A YAML mapping of scalars as a string map (empty for an absent node).
std::map<std::string, std::string> stringMap(const YAML::Node& node);

/// A `where:` mapping (key: value or key: [values]); empty for an absent node.
Where whereOf(const YAML::Node& node, const std::string& spec);

/// True when the run has every key of `where` with one of its values.
bool matches(const SelectedRun& run, const Where& where);

/// The filter of a spec's `runs:` block: name (experiment), status (default FINISHED), params.
store::RunFilter runFilterOf(const YAML::Node& runs, const std::string& spec);

/// The newest run per config hash among those the filter selects (listRuns is newest first), so a
/// re-run replaces its predecessor instead of counting as another seed.
RunSelection selectRuns(store::RunStore& store, const store::RunFilter& filter);

/// Orders config values numerically where both are numbers, else as text.
bool numericLess(const std::string& a, const std::string& b);

/// An `order:` mapping (key -> values to put first, in that order); every key must be one of `keys`
/// (named `keysName` in the error, e.g. "rows key").
std::map<std::string, std::vector<std::string>> orderOf(const YAML::Node& node, const std::vector<std::string>& keys,
                                                        const std::string& spec, const std::string& keysName);

/// Sorts tuples of values of `keys` lexicographically: per key, the values listed in `order` first
/// (in the listed order), then numericLess.
void sortTuples(std::vector<std::vector<std::string>>& tuples, const std::vector<std::string>& keys,
                const std::map<std::string, std::vector<std::string>>& order);

/// The values of `keys` in a run; "—" for a key it lacks (e.g. the coarse batch of a pruner
/// without a coarse step).
std::vector<std::string> valuesOf(const SelectedRun& run, const std::vector<std::string>& keys);

/// Mean, sample standard deviation and count of values (the seeds of one cell or point).
struct Summary {
  bool present = false;
  double mean = 0, sd = 0;
  std::size_t n = 0;
};

/// Summarizes values; absent when there are none, sd 0 for a single value.
Summary summarize(const std::vector<double>& values);

}  // namespace prunelab::results
