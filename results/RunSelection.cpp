#include "results/RunSelection.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::results {

namespace {

// The config-group choices of a run (e.g. pruner: wanda), from choices_json.
std::map<std::string, std::string> choicesOf(store::RunStore& store, const std::string& runId) {
  SQLite::Statement q(store.db(), "SELECT choices_json FROM runs WHERE id = ?");
  q.bind(1, runId);
  std::map<std::string, std::string> out;
  if (!q.executeStep()) return out;
  const auto j = nlohmann::json::parse(q.getColumn(0).getString(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items())
    if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

}  // namespace

void checkSpecKeys(const YAML::Node& node, const std::vector<std::string>& allowed, const std::string& where,
                   const std::string& spec) {
  if (node.IsNull()) return;
  PL_CHECK(node.IsMap(), "{} spec: {} must be a mapping (key: value); valid keys: {}", spec, where,
           quotedList(allowed));
  for (auto it = node.begin(); it != node.end(); ++it) {
    const auto k = it->first.as<std::string>();
    PL_CHECK(std::find(allowed.begin(), allowed.end(), k) != allowed.end(),
             "{} spec: unknown key '{}' in {}{}; "
             "valid keys: {}",
             spec, k, where, didYouMean(k, allowed), quotedList(allowed));
  }
}

std::map<std::string, std::string> stringMap(const YAML::Node& node) {
  std::map<std::string, std::string> out;
  if (!node) return out;
  for (auto it = node.begin(); it != node.end(); ++it) out[it->first.as<std::string>()] = it->second.as<std::string>();
  return out;
}

Where whereOf(const YAML::Node& node, const std::string& spec) {
  Where out;
  if (!node) return out;
  PL_CHECK(node.IsMap(),
           "{} spec: 'where' maps config keys to a value or a list of values, e.g. "
           "where: {{pruner: [wanda, owl], pruner.sparsity: 0.5}}",
           spec);
  for (auto it = node.begin(); it != node.end(); ++it) {
    auto& values = out[it->first.as<std::string>()];
    if (it->second.IsSequence()) {
      for (const auto& v : it->second) values.push_back(v.as<std::string>());
    } else {
      values.push_back(it->second.as<std::string>());
    }
  }
  return out;
}

bool matches(const SelectedRun& run, const Where& where) {
  for (const auto& [k, values] : where) {
    auto it = run.params.find(k);
    if (it == run.params.end() || std::find(values.begin(), values.end(), it->second) == values.end()) return false;
  }
  return true;
}

store::RunFilter runFilterOf(const YAML::Node& runs, const std::string& spec) {
  store::RunFilter filter;
  filter.status = "FINISHED";
  if (!runs) return filter;
  checkSpecKeys(runs, {"name", "status", "params"}, "runs", spec);
  if (runs["name"]) filter.experiment = runs["name"].as<std::string>();
  if (runs["status"]) filter.status = runs["status"].as<std::string>();
  filter.params = stringMap(runs["params"]);
  return filter;
}

RunSelection selectRuns(store::RunStore& store, const store::RunFilter& filter) {
  RunSelection out;
  std::set<std::string> seenHashes;
  for (const auto& row : store.listRuns(filter)) {
    if (!seenHashes.insert(row.configHash).second) continue;
    SelectedRun run{row.id, store.params(row.id), store.metrics(row.id)};
    for (const auto& [group, choice] : choicesOf(store, row.id)) run.params.emplace(group, choice);
    for (const auto& [k, v] : run.metrics) out.metrics.insert(k);
    for (const auto& [k, v] : run.params) out.params.insert(k);
    out.runs.push_back(std::move(run));
  }
  return out;
}

bool numericLess(const std::string& a, const std::string& b) {
  char* ea = nullptr;
  char* eb = nullptr;
  double da = std::strtod(a.c_str(), &ea), db = std::strtod(b.c_str(), &eb);
  if (*ea == '\0' && *eb == '\0' && !a.empty() && !b.empty()) return da < db;
  return a < b;
}

std::map<std::string, std::vector<std::string>> orderOf(const YAML::Node& node, const std::vector<std::string>& keys,
                                                        const std::string& spec, const std::string& keysName) {
  std::map<std::string, std::vector<std::string>> order;
  if (!node) return order;
  PL_CHECK(node.IsMap(),
           "{} spec: 'order' maps a {} to its values in display order, e.g. "
           "order: {{pruner: [none, wanda]}}",
           spec, keysName);
  for (auto it = node.begin(); it != node.end(); ++it) {
    const auto key = it->first.as<std::string>();
    PL_CHECK(std::find(keys.begin(), keys.end(), key) != keys.end(),
             "{} spec: 'order' names '{}', which is not a "
             "{}{}",
             spec, key, keysName, didYouMean(key, keys));
    for (const auto& v : it->second) order[key].push_back(v.as<std::string>());
  }
  return order;
}

void sortTuples(std::vector<std::vector<std::string>>& tuples, const std::vector<std::string>& keys,
                const std::map<std::string, std::vector<std::string>>& order) {
  auto valueLess = [&](std::size_t key, const std::string& a, const std::string& b) {
    auto o = order.find(keys[key]);
    if (o != order.end()) {
      const auto& list = o->second;
      const auto ia = std::find(list.begin(), list.end(), a) - list.begin();
      const auto ib = std::find(list.begin(), list.end(), b) - list.begin();
      if (ia != ib) return ia < ib;  // listed values first, in the listed order
    }
    return numericLess(a, b);
  };
  std::sort(tuples.begin(), tuples.end(), [&](const auto& a, const auto& b) {
    for (std::size_t k = 0; k < a.size(); ++k) {
      if (valueLess(k, a[k], b[k])) return true;
      if (valueLess(k, b[k], a[k])) return false;
    }
    return false;
  });
}

std::vector<std::string> valuesOf(const SelectedRun& run, const std::vector<std::string>& keys) {
  std::vector<std::string> values;
  for (const auto& k : keys) {
    auto it = run.params.find(k);
    values.push_back(it == run.params.end() ? std::string("—") : it->second);
  }
  return values;
}

Summary summarize(const std::vector<double>& values) {
  Summary s;
  if (values.empty()) return s;
  double mean = 0, var = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  for (double v : values) var += (v - mean) * (v - mean);
  s.present = true;
  s.mean = mean;
  s.sd = values.size() > 1 ? std::sqrt(var / static_cast<double>(values.size() - 1)) : 0.0;
  s.n = values.size();
  return s;
}

}  // namespace prunelab::results
