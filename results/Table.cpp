#include "results/Table.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"
#include "results/RunSelection.h"

namespace prunelab::results {

namespace {

constexpr const char* kSpec = "table";

struct Column {
  std::string label, metric;
  Where where;
  double divide = 1.0;
  int digits = -1;
  std::vector<std::string> meanOf;  ///< a derived column: the mean of these columns (by label) per row
  std::string better;               ///< higher, lower or none (no bold)
};

// One cell's numbers: the mean over the runs it aggregates (seeds), their std and count.
using Cell = Summary;

// Which way a metric improves, from its key: costs (time, latency, memory, loss, perplexity) go
// down, descriptive figures (sparsity, sizes, counts, the data's question-only prior) are not
// ranked, scores go up.
std::string directionOf(const std::string& metric) {
  for (const char* part : {"time/", "memory/", "_bytes", "seconds", "latency", "loss", "ppl", "perplexity"})
    if (metric.find(part) != std::string::npos) return "lower";
  for (const char* part : {"sparsity", "/params", "/nonzero", "/count", "/questions", "threshold", "/prior_"})
    if (metric.find(part) != std::string::npos) return "none";
  return "higher";
}

std::string latexEscape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': case '%': case '$': case '#': case '_': case '{': case '}': out += '\\'; out += ch; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '\\': out += "\\textbackslash{}"; break;
      default: out += ch;
    }
  }
  return out;
}

}  // namespace

std::string renderTable(store::RunStore& store, const YAML::Node& spec, const std::string& format) {
  PL_CHECK(spec.IsMap(), "table spec must be a mapping with runs, rows and columns");
  checkSpecKeys(spec, {"title", "runs", "rows", "order", "columns", "digits", "bold", "unranked",
                       "bold_within"}, "the spec",
                kSpec);
  PL_CHECK(spec["rows"] && spec["columns"], "table spec needs 'rows' (a params key or a list of them) and 'columns' "
           "(a list)");
  PL_CHECK(format == "md" || format == "csv" || format == "latex",
           "table format '{}' is not supported: use md, csv or latex", format);
  const bool bold = spec["bold"] ? spec["bold"].as<bool>() : true;
  std::vector<std::string> rowKeys;
  if (spec["rows"].IsSequence()) {
    for (const auto& k : spec["rows"]) rowKeys.push_back(k.as<std::string>());
  } else {
    rowKeys.push_back(spec["rows"].as<std::string>());
  }
  PL_CHECK(!rowKeys.empty(), "table spec: 'rows' lists no key; give a params key such as pruner.sparsity");
  const auto order = orderOf(spec["order"], rowKeys, kSpec, "rows key");
  const int digits = spec["digits"] ? spec["digits"].as<int>() : 2;
  // Rows left out of the bolding (e.g. the dense baseline): rows key -> value.
  const auto unranked = whereOf(spec["unranked"], "table");
  for (const auto& [k, v] : unranked)
    PL_CHECK(std::find(rowKeys.begin(), rowKeys.end(), k) != rowKeys.end(),
             "table spec: 'unranked' names '{}', which is not a rows key{}", k, didYouMean(k, rowKeys));
  // bold_within: a rows key; the best cell is then chosen among the rows sharing its value.
  std::size_t groupKey = rowKeys.size();
  if (spec["bold_within"]) {
    const auto key = spec["bold_within"].as<std::string>();
    const auto it = std::find(rowKeys.begin(), rowKeys.end(), key);
    PL_CHECK(it != rowKeys.end(), "table spec: 'bold_within' names '{}', which is not a rows key{}; rows keys: {}", key,
             didYouMean(key, rowKeys), quotedList(rowKeys));
    groupKey = static_cast<std::size_t>(it - rowKeys.begin());
  }
  std::vector<Column> columns;
  for (const auto& c : spec["columns"]) {
    checkSpecKeys(c, {"label", "metric", "where", "divide", "digits", "mean_of", "better"}, "a column", kSpec);
    PL_CHECK(c["metric"] || c["mean_of"], "table spec: every column needs a 'metric' key (or 'mean_of', a list of "
             "column labels to average)");
    PL_CHECK(!(c["metric"] && c["mean_of"]), "table spec: a column takes 'metric' or 'mean_of', not both");
    PL_CHECK(c["label"] || c["metric"], "table spec: a mean_of column needs a 'label'");
    Column col;
    col.label = c["label"] ? c["label"].as<std::string>() : c["metric"].as<std::string>();
    col.metric = c["metric"] ? c["metric"].as<std::string>() : std::string();
    col.where = whereOf(c["where"], kSpec);
    if (c["mean_of"]) {
      for (const auto& l : c["mean_of"]) col.meanOf.push_back(l.as<std::string>());
      PL_CHECK(!col.meanOf.empty(), "table spec: column '{}' averages no column; list labels in mean_of", col.label);
      std::vector<std::string> earlier;
      for (const auto& e : columns) earlier.push_back(e.label);
      for (const auto& l : col.meanOf)
        PL_CHECK(std::find(earlier.begin(), earlier.end(), l) != earlier.end(), "table spec: column '{}' averages "
                 "'{}', which is not the label of an earlier column{}", col.label, l, didYouMean(l, earlier));
    }
    col.better = c["better"] ? c["better"].as<std::string>() : (col.meanOf.empty() ? directionOf(col.metric) : "higher");
    PL_CHECK(col.better == "higher" || col.better == "lower" || col.better == "none",
             "table spec: column '{}' has better: '{}'; use higher, lower or none", col.label, col.better);
    if (c["divide"]) col.divide = c["divide"].as<double>();
    PL_CHECK(col.divide != 0.0 && std::isfinite(col.divide), "table spec: column '{}' has divide {}: give a finite "
             "non-zero divisor (e.g. 1048576 for MiB)", col.label, col.divide);
    col.digits = c["digits"] ? c["digits"].as<int>() : digits;
    columns.push_back(std::move(col));
  }
  const RunSelection selection = selectRuns(store, runFilterOf(spec["runs"], kSpec));
  const auto& runs = selection.runs;
  const auto& allParams = selection.params;
  const auto& allMetrics = selection.metrics;
  if (!runs.empty()) {
    const auto paramList = selection.paramList();
    const auto metricList = selection.metricList();
    for (const auto& rowKey : rowKeys)
      PL_CHECK(allParams.count(rowKey), "table spec: rows key '{}' is neither a config key nor a config group of the "
               "selected runs{}", rowKey, didYouMean(rowKey, paramList));
    for (const auto& c : columns) {
      if (!c.meanOf.empty()) continue;
      PL_CHECK(allMetrics.count(c.metric), "table spec: metric '{}' (column '{}') is not recorded by any selected "
               "run{}", c.metric, c.label, didYouMean(c.metric, metricList));
      for (const auto& [k, v] : c.where)
        PL_CHECK(allParams.count(k), "table spec: where-key '{}' (column '{}') is not a config key{}", k, c.label,
                 didYouMean(k, paramList));
    }
  }

  // One row per distinct tuple of rows-key values; a key a run lacks reads "—".
  std::vector<std::vector<std::string>> runRow, rowValues;  // each run's row; the distinct rows
  for (const auto& r : runs) {
    runRow.push_back(valuesOf(r, rowKeys));
    if (std::find(rowValues.begin(), rowValues.end(), runRow.back()) == rowValues.end())
      rowValues.push_back(runRow.back());
  }
  sortTuples(rowValues, rowKeys, order);

  // Numbers first (means over seeds, then derived columns), text last.
  std::vector<std::vector<Cell>> numbers;
  for (const auto& rv : rowValues) {
    std::vector<Cell> line;
    for (const auto& c : columns) {
      Cell cell;
      if (!c.meanOf.empty()) {
        // A derived column: the mean of the listed columns' cells; missing if any of them is.
        double sum = 0;
        bool all = true;
        for (const auto& l : c.meanOf) {
          const auto k = static_cast<std::size_t>(
              std::find_if(columns.begin(), columns.end(), [&](const Column& e) { return e.label == l; }) -
              columns.begin());
          all = all && line[k].present;
          if (line[k].present) sum += line[k].mean;
        }
        if (all) cell = {true, sum / static_cast<double>(c.meanOf.size()), 0, 1};
        line.push_back(cell);
        continue;
      }
      std::vector<double> values;
      for (std::size_t j = 0; j < runs.size(); ++j) {
        if (runRow[j] != rv) continue;
        const auto& r = runs[j];
        auto m = r.metrics.find(c.metric);
        if (matches(r, c.where) && m != r.metrics.end() && !std::isnan(m->second))
          values.push_back(m->second / c.divide);
      }
      line.push_back(summarize(values));
    }
    numbers.push_back(std::move(line));
  }

  // The best cell of each ranked column among the ranked rows, compared as printed (so
  // equal-looking cells tie); a column whose ranked cells all tie has no best.
  std::vector<bool> ranked(rowValues.size(), true);
  for (std::size_t i = 0; i < rowValues.size(); ++i)
    for (std::size_t k = 0; k < rowKeys.size(); ++k) {
      auto u = unranked.find(rowKeys[k]);
      if (u != unranked.end() && std::find(u->second.begin(), u->second.end(), rowValues[i][k]) != u->second.end())
        ranked[i] = false;
    }
  // Per group of rows (one group without bold_within) and column: the best value as printed.
  const auto groupOf = [&](std::size_t i) {
    return groupKey < rowKeys.size() ? rowValues[i][groupKey] : std::string();
  };
  std::map<std::string, std::vector<std::string>> best;
  for (std::size_t i = 0; i < rowValues.size(); ++i) best.emplace(groupOf(i), std::vector<std::string>(columns.size()));
  for (auto& [group, bestOfGroup] : best)
    for (std::size_t k = 0; k < columns.size() && bold && format != "csv"; ++k) {
      if (columns[k].better == "none") continue;
      std::optional<double> top, bottom;
      for (std::size_t i = 0; i < numbers.size(); ++i) {
        if (!ranked[i] || !numbers[i][k].present || groupOf(i) != group) continue;
        const double v = std::stod(fmt::format("{:.{}f}", numbers[i][k].mean, columns[k].digits));
        if (!top || (columns[k].better == "higher" ? v > *top : v < *top)) top = v;
        if (!bottom || (columns[k].better == "higher" ? v < *bottom : v > *bottom)) bottom = v;
      }
      if (top && *top != *bottom) bestOfGroup[k] = fmt::format("{:.{}f}", *top, columns[k].digits);
    }

  std::vector<std::vector<std::string>> cells;
  for (std::size_t i = 0; i < rowValues.size(); ++i) {
    std::vector<std::string> line;
    for (const auto& v : rowValues[i]) line.push_back(format != "latex" ? v : v == "—" ? "--" : latexEscape(v));
    for (std::size_t k = 0; k < columns.size(); ++k) {
      const Cell& cell = numbers[i][k];
      const int d = columns[k].digits;
      if (!cell.present) {
        line.push_back(format == "csv" ? "" : format == "latex" ? "--" : "—");
        continue;
      }
      const std::string value = fmt::format("{:.{}f}", cell.mean, d);
      std::string text = value;
      if (format != "csv" && cell.n > 1)
        text = format == "latex" ? fmt::format("{} $\\pm$ {:.{}f} (n={})", value, cell.sd, d, cell.n)
                                 : fmt::format("{} ± {:.{}f} (n={})", value, cell.sd, d, cell.n);
      const auto& groupBest = best.at(groupOf(i))[k];
      if (ranked[i] && !groupBest.empty() && value == groupBest)
        text = format == "latex" ? "\\textbf{" + text + "}" : "**" + text + "**";
      line.push_back(text);
    }
    cells.push_back(std::move(line));
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
  if (format == "latex") {
    // booktabs; the title becomes a comment so the fragment drops into any table environment.
    if (spec["title"]) out += "% " + spec["title"].as<std::string>() + "\n";
    out += "\\begin{tabular}{" + std::string(rowKeys.size(), 'l') + std::string(columns.size(), 'r') + "}\n\\toprule\n";
    std::vector<std::string> escaped;
    for (const auto& h : header) escaped.push_back(latexEscape(h));
    out += fmt::format("{}", fmt::join(escaped, " & ")) + " \\\\\n\\midrule\n";
    for (const auto& line : cells) out += fmt::format("{}", fmt::join(line, " & ")) + " \\\\\n";
    out += "\\bottomrule\n\\end{tabular}\n";
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
