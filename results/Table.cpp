#include "results/Table.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::results {

namespace {

struct Column {
  std::string label, metric;
  std::map<std::string, std::string> where;
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
  checkKeys(spec, {"title", "runs", "rows", "columns", "digits"}, "the spec");
  PL_CHECK(spec["rows"] && spec["columns"], "table spec needs 'rows' (a params key) and 'columns' (a list)");
  PL_CHECK(format == "md" || format == "csv", "table format '{}' is not supported: use md or csv", format);
  const std::string rowKey = spec["rows"].as<std::string>();
  const int digits = spec["digits"] ? spec["digits"].as<int>() : 2;
  std::vector<Column> columns;
  for (const auto& c : spec["columns"]) {
    checkKeys(c, {"label", "metric", "where"}, "a column");
    PL_CHECK(c["metric"], "table spec: every column needs a 'metric' key");
    columns.push_back({c["label"] ? c["label"].as<std::string>() : c["metric"].as<std::string>(),
                       c["metric"].as<std::string>(), stringMap(c["where"])});
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
    for (const auto& [k, v] : d.metrics) allMetrics.insert(k);
    for (const auto& [k, v] : d.params) allParams.insert(k);
    runs.push_back(std::move(d));
  }
  if (!runs.empty()) {
    std::vector<std::string> paramList(allParams.begin(), allParams.end());
    std::vector<std::string> metricList(allMetrics.begin(), allMetrics.end());
    PL_CHECK(allParams.count(rowKey), "table spec: rows key '{}' is not a config key of the selected runs{}", rowKey,
             didYouMean(rowKey, paramList));
    for (const auto& c : columns) {
      PL_CHECK(allMetrics.count(c.metric), "table spec: metric '{}' (column '{}') is not recorded by any selected "
               "run{}", c.metric, c.label, didYouMean(c.metric, metricList));
      for (const auto& [k, v] : c.where)
        PL_CHECK(allParams.count(k), "table spec: where-key '{}' (column '{}') is not a config key{}", k, c.label,
                 didYouMean(k, paramList));
    }
  }

  std::vector<std::string> rowValues;
  for (const auto& r : runs) {
    auto it = r.params.find(rowKey);
    if (it != r.params.end() && std::find(rowValues.begin(), rowValues.end(), it->second) == rowValues.end())
      rowValues.push_back(it->second);
  }
  std::sort(rowValues.begin(), rowValues.end(), numericLess);

  std::vector<std::vector<std::string>> cells;
  for (const auto& rv : rowValues) {
    std::vector<std::string> line{rv};
    for (const auto& c : columns) {
      std::vector<double> values;
      for (const auto& r : runs) {
        auto p = r.params.find(rowKey);
        if (p == r.params.end() || p->second != rv) continue;
        bool match = true;
        for (const auto& [k, v] : c.where) {
          auto q = r.params.find(k);
          match = match && q != r.params.end() && q->second == v;
        }
        auto m = r.metrics.find(c.metric);
        if (match && m != r.metrics.end() && !std::isnan(m->second)) values.push_back(m->second);
      }
      if (values.empty()) {
        line.push_back(format == "csv" ? "" : "—");
      } else if (values.size() == 1) {
        line.push_back(fmt::format("{:.{}f}", values[0], digits));
      } else {
        double mean = 0, var = 0;
        for (double v : values) mean += v;
        mean /= static_cast<double>(values.size());
        for (double v : values) var += (v - mean) * (v - mean);
        const double sd = std::sqrt(var / static_cast<double>(values.size() - 1));
        line.push_back(format == "csv" ? fmt::format("{:.{}f}", mean, digits)
                                       : fmt::format("{:.{}f} ± {:.{}f} (n={})", mean, digits, sd, digits,
                                                     values.size()));
      }
    }
    cells.push_back(line);
  }

  std::string out;
  std::vector<std::string> header{rowKey};
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
  for (std::size_t i = 0; i < header.size(); ++i) out += i == 0 ? "---|" : "---:|";
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
