#include "results/Table.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::results {

namespace {

struct Column {
  std::string label, metric;
  std::map<std::string, std::string> where;
  double divide = 1.0;
  int digits = -1;
};

struct RunData {
  std::map<std::string, std::string> params;
  std::map<std::string, double> metrics;
};

void checkKeys(const YAML::Node& node, const std::vector<std::string>& allowed, const std::string& where) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const auto k = it->first.as<std::string>();
    PL_CHECK(std::find(allowed.begin(), allowed.end(), k) != allowed.end(), "table spec: unknown key '{}' in {}{}; "
             "valid keys: {}", k, where, didYouMean(k, allowed), quotedList(allowed));
  }
}

std::map<std::string, std::string> stringMap(const YAML::Node& node) {
  std::map<std::string, std::string> out;
  if (!node) return out;
  for (auto it = node.begin(); it != node.end(); ++it) out[it->first.as<std::string>()] = it->second.as<std::string>();
  return out;
}

// The config-group choices of a run (e.g. pruner: wanda), which name presets that params alone
// cannot tell apart.
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

bool numericLess(const std::string& a, const std::string& b) {
  char* ea = nullptr;
  char* eb = nullptr;
  double da = std::strtod(a.c_str(), &ea), db = std::strtod(b.c_str(), &eb);
  if (*ea == '\0' && *eb == '\0' && !a.empty() && !b.empty()) return da < db;
  return a < b;
}

}  // namespace

std::string renderTable(store::RunStore& store, const YAML::Node& spec, const std::string& format) {
  PL_CHECK(spec.IsMap(), "table spec must be a mapping with runs, rows and columns");
  checkKeys(spec, {"title", "runs", "rows", "order", "columns", "digits"}, "the spec");
  PL_CHECK(spec["rows"] && spec["columns"], "table spec needs 'rows' (a params key or a list of them) and 'columns' "
           "(a list)");
  PL_CHECK(format == "md" || format == "csv", "table format '{}' is not supported: use md or csv", format);
  std::vector<std::string> rowKeys;
  if (spec["rows"].IsSequence()) {
    for (const auto& k : spec["rows"]) rowKeys.push_back(k.as<std::string>());
  } else {
    rowKeys.push_back(spec["rows"].as<std::string>());
  }
  PL_CHECK(!rowKeys.empty(), "table spec: 'rows' lists no key; give a params key such as pruner.sparsity");
  std::map<std::string, std::vector<std::string>> order;
  if (spec["order"]) {
    PL_CHECK(spec["order"].IsMap(), "table spec: 'order' maps a rows key to its values in display order, e.g. "
             "order: {{pruner: [none, wanda]}}");
    for (auto it = spec["order"].begin(); it != spec["order"].end(); ++it) {
      const auto key = it->first.as<std::string>();
      PL_CHECK(std::find(rowKeys.begin(), rowKeys.end(), key) != rowKeys.end(),
               "table spec: 'order' names '{}', which is not a rows key{}", key, didYouMean(key, rowKeys));
      for (const auto& v : it->second) order[key].push_back(v.as<std::string>());
    }
  }
  const int digits = spec["digits"] ? spec["digits"].as<int>() : 2;
  std::vector<Column> columns;
  for (const auto& c : spec["columns"]) {
    checkKeys(c, {"label", "metric", "where", "divide", "digits"}, "a column");
    PL_CHECK(c["metric"], "table spec: every column needs a 'metric' key");
    Column col{c["label"] ? c["label"].as<std::string>() : c["metric"].as<std::string>(), c["metric"].as<std::string>(),
               stringMap(c["where"])};
    if (c["divide"]) col.divide = c["divide"].as<double>();
    PL_CHECK(col.divide != 0.0 && std::isfinite(col.divide), "table spec: column '{}' has divide {}: give a finite "
             "non-zero divisor (e.g. 1048576 for MiB)", col.label, col.divide);
    col.digits = c["digits"] ? c["digits"].as<int>() : digits;
    columns.push_back(std::move(col));
  }
  store::RunFilter filter;
  filter.status = "FINISHED";
  if (spec["runs"]) {
    checkKeys(spec["runs"], {"name", "status", "params"}, "runs");
    if (spec["runs"]["name"]) filter.experiment = spec["runs"]["name"].as<std::string>();
    if (spec["runs"]["status"]) filter.status = spec["runs"]["status"].as<std::string>();
    filter.params = stringMap(spec["runs"]["params"]);
  }

  // The newest run per config hash (listRuns is newest first).
  std::vector<RunData> runs;
  std::set<std::string> seenHashes, allMetrics, allParams;
  for (const auto& row : store.listRuns(filter)) {
    if (!seenHashes.insert(row.configHash).second) continue;
    RunData d{store.params(row.id), store.metrics(row.id)};
    for (const auto& [group, choice] : choicesOf(store, row.id)) d.params.emplace(group, choice);
    for (const auto& [k, v] : d.metrics) allMetrics.insert(k);
    for (const auto& [k, v] : d.params) allParams.insert(k);
    runs.push_back(std::move(d));
  }
  if (!runs.empty()) {
    std::vector<std::string> paramList(allParams.begin(), allParams.end());
    std::vector<std::string> metricList(allMetrics.begin(), allMetrics.end());
    for (const auto& rowKey : rowKeys)
      PL_CHECK(allParams.count(rowKey), "table spec: rows key '{}' is neither a config key nor a config group of the "
               "selected runs{}", rowKey, didYouMean(rowKey, paramList));
    for (const auto& c : columns) {
      PL_CHECK(allMetrics.count(c.metric), "table spec: metric '{}' (column '{}') is not recorded by any selected "
               "run{}", c.metric, c.label, didYouMean(c.metric, metricList));
      for (const auto& [k, v] : c.where)
        PL_CHECK(allParams.count(k), "table spec: where-key '{}' (column '{}') is not a config key{}", k, c.label,
                 didYouMean(k, paramList));
    }
  }

  // One row per distinct tuple of rows-key values; a key a run lacks reads "—" (e.g. the coarse
  // batch of a pruner without a coarse step).
  auto rowOf = [&](const RunData& r) {
    std::vector<std::string> values;
    for (const auto& k : rowKeys) {
      auto it = r.params.find(k);
      values.push_back(it == r.params.end() ? std::string("—") : it->second);
    }
    return values;
  };
  auto valueLess = [&](std::size_t key, const std::string& a, const std::string& b) {
    auto o = order.find(rowKeys[key]);
    if (o != order.end()) {
      const auto& list = o->second;
      const auto ia = std::find(list.begin(), list.end(), a) - list.begin();
      const auto ib = std::find(list.begin(), list.end(), b) - list.begin();
      if (ia != ib) return ia < ib;  // listed values first, in the listed order
    }
    return numericLess(a, b);
  };
  std::vector<std::vector<std::string>> rowValues;
  for (const auto& r : runs) {
    auto v = rowOf(r);
    if (std::find(rowValues.begin(), rowValues.end(), v) == rowValues.end()) rowValues.push_back(v);
  }
  std::sort(rowValues.begin(), rowValues.end(), [&](const auto& a, const auto& b) {
    for (std::size_t k = 0; k < a.size(); ++k) {
      if (valueLess(k, a[k], b[k])) return true;
      if (valueLess(k, b[k], a[k])) return false;
    }
    return false;
  });

  std::vector<std::vector<std::string>> cells;
  for (const auto& rv : rowValues) {
    std::vector<std::string> line = rv;
    for (const auto& c : columns) {
      std::vector<double> values;
      for (const auto& r : runs) {
        if (rowOf(r) != rv) continue;
        bool match = true;
        for (const auto& [k, v] : c.where) {
          auto q = r.params.find(k);
          match = match && q != r.params.end() && q->second == v;
        }
        auto m = r.metrics.find(c.metric);
        if (match && m != r.metrics.end() && !std::isnan(m->second)) values.push_back(m->second / c.divide);
      }
      if (values.empty()) {
        line.push_back(format == "csv" ? "" : "—");
      } else if (values.size() == 1) {
        line.push_back(fmt::format("{:.{}f}", values[0], c.digits));
      } else {
        double mean = 0, var = 0;
        for (double v : values) mean += v;
        mean /= static_cast<double>(values.size());
        for (double v : values) var += (v - mean) * (v - mean);
        const double sd = std::sqrt(var / static_cast<double>(values.size() - 1));
        line.push_back(format == "csv" ? fmt::format("{:.{}f}", mean, c.digits)
                                       : fmt::format("{:.{}f} ± {:.{}f} (n={})", mean, c.digits, sd, c.digits,
                                                     values.size()));
      }
    }
    cells.push_back(line);
  }

  std::string out;
  std::vector<std::string> header = rowKeys;
  for (const auto& c : columns) header.push_back(c.label);
  if (format == "csv") {
    auto csvCell = [](const std::string& s) {
      if (s.find_first_of(",\"\n") == std::string::npos) return s;
      std::string q = "\"";
      for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      return q + "\"";
    };
    for (std::size_t i = 0; i < header.size(); ++i) out += (i ? "," : "") + csvCell(header[i]);
    out += "\n";
    for (const auto& line : cells) {
      for (std::size_t i = 0; i < line.size(); ++i) out += (i ? "," : "") + csvCell(line[i]);
      out += "\n";
    }
    return out;
  }
  if (spec["title"]) out += "### " + spec["title"].as<std::string>() + "\n\n";
  out += "| " + fmt::format("{}", fmt::join(header, " | ")) + " |\n|";
  for (std::size_t i = 0; i < header.size(); ++i) out += i < rowKeys.size() ? "---|" : "---:|";
  out += "\n";
  for (const auto& line : cells) out += "| " + fmt::format("{}", fmt::join(line, " | ")) + " |\n";
  if (cells.empty()) out += "\n(no FINISHED runs match this spec)\n";
  return out;
}

std::string renderTableFile(store::RunStore& store, const std::string& specPath, const std::string& format) {
  YAML::Node spec;
  try {
    spec = YAML::LoadFile(specPath);
  } catch (const YAML::Exception& e) {
    PL_THROW("cannot read table spec '{}': {}", specPath, e.what());
  }
  return renderTable(store, spec, format);
}

}  // namespace prunelab::results
