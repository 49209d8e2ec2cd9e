#include "results/Plot.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "framework/core/Error.h"
#include "framework/core/Log.h"
#include "framework/core/Suggest.h"
#include "results/RunSelection.h"

namespace prunelab::results {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSpec = "plot";

const std::vector<std::string> kKinds = {"curve", "blocks", "bars"};
const std::vector<std::string> kCommonKeys = {"title",  "kind",   "runs",   "where",  "series",  "order",
                                              "labels", "xlabel", "ylabel", "output", "formats", "size"};
// The keys only one kind reads, by kind (so that a key of another kind is named as such).
const std::map<std::string, std::vector<std::string>> kKindKeys = {
    {"curve", {"x", "y", "points"}}, {"blocks", {"value", "panels"}}, {"bars", {"bars", "stacked"}}};

// Line colors (Tableau 10) and point types that stay distinct in print (circle, square, triangle,
// diamond, ...); the script defines one linetype per series or bar from them, in one place to re-style.
const char* const kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                               "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
const int kPointTypes[] = {7, 5, 9, 13, 11, 15, 4, 6, 8, 10, 12, 14};

// A metric the plot reads: a y of a curve or one kind of bar.
struct Measure {
  std::string label, metric;
  double divide = 1.0;
  bool pattern = false;  // the metric holds a `*`: expanded against the recorded metrics
};

struct PlotSpec {
  std::string kind, title, xlabel, ylabel;
  std::vector<std::string> formats = {"svg", "png"};
  int width = 900, height = 500;
  store::RunFilter filter;
  Where where;
  std::vector<std::string> seriesKeys;
  std::map<std::string, std::vector<std::string>> order;
  std::map<std::string, std::string> labels;
  std::string x;                    // curve
  std::vector<Measure> y;           // curve
  std::vector<std::string> points;  // curve; empty: x when x is a config key, else the config but `seed`
  bool pointsGiven = false;
  std::string value = "allocated";  // blocks
  std::vector<std::string> panels;  // blocks
  std::vector<Measure> bars;        // bars
  bool stacked = false;             // bars
};

std::vector<std::string> keyList(const YAML::Node& node) {
  std::vector<std::string> out;
  if (!node) return out;
  if (node.IsSequence()) {
    for (const auto& k : node) out.push_back(k.as<std::string>());
  } else {
    out.push_back(node.as<std::string>());
  }
  return out;
}

std::vector<Measure> measuresOf(const YAML::Node& node, const std::string& what) {
  std::vector<YAML::Node> entries;
  if (node.IsSequence()) {
    for (const auto& e : node) entries.push_back(e);
  } else {
    entries.push_back(node);
  }
  std::vector<Measure> out;
  for (const auto& e : entries) {
    Measure m;
    if (e.IsMap()) {
      checkSpecKeys(e, {"metric", "label", "divide"}, fmt::format("an entry of '{}'", what), kSpec);
      PL_CHECK(e["metric"],
               "plot spec: every entry of '{}' needs a 'metric' key, e.g. {{metric: vqa/x/test/acc, "
               "label: VQA}}",
               what);
      m.metric = e["metric"].as<std::string>();
      if (e["label"]) m.label = e["label"].as<std::string>();
      if (e["divide"]) m.divide = e["divide"].as<double>();
    } else {
      m.metric = e.as<std::string>();
    }
    m.pattern = m.metric.find('*') != std::string::npos;
    PL_CHECK(!(m.pattern && !m.label.empty()),
             "plot spec: '{}' entry '{}' is a pattern, named by what `*` matches; "
             "drop its label or list the metrics one by one",
             what, m.metric);
    PL_CHECK(m.divide != 0.0 && std::isfinite(m.divide),
             "plot spec: '{}' entry '{}' has divide {}: give a finite "
             "non-zero divisor (e.g. 1048576 for MiB)",
             what, m.metric, m.divide);
    if (m.label.empty()) m.label = m.metric;
    out.push_back(std::move(m));
  }
  PL_CHECK(!out.empty(), "plot spec: '{}' lists no metric", what);
  return out;
}

PlotSpec parseSpec(const YAML::Node& node) {
  PL_CHECK(node.IsMap(), "plot spec must be a mapping with kind, runs and what to draw (x and y, or bars)");
  PL_CHECK(node["kind"], "plot spec: 'kind' is missing; use {}", quotedList(kKinds));
  PlotSpec s;
  s.kind = node["kind"].as<std::string>();
  checkOneOf("plot spec: kind", s.kind, kKinds);
  std::vector<std::string> allowed = kCommonKeys;
  const auto& own = kKindKeys.at(s.kind);
  allowed.insert(allowed.end(), own.begin(), own.end());
  for (auto it = node.begin(); it != node.end(); ++it) {
    const auto k = it->first.as<std::string>();
    for (const auto& [kind, keys] : kKindKeys)
      PL_CHECK(kind == s.kind || std::find(keys.begin(), keys.end(), k) == keys.end(),
               "plot spec: '{}' is a key of kind {}, but this spec's kind is {}; its keys are {}", k, kind, s.kind,
               quotedList(own));
  }
  checkSpecKeys(node, allowed, "the spec", kSpec);

  if (node["title"]) s.title = node["title"].as<std::string>();
  if (node["xlabel"]) s.xlabel = node["xlabel"].as<std::string>();
  if (node["ylabel"]) s.ylabel = node["ylabel"].as<std::string>();
  if (node["formats"]) {
    s.formats = keyList(node["formats"]);
    PL_CHECK(!s.formats.empty(), "plot spec: 'formats' lists nothing; use [svg, png]");
    for (const auto& f : s.formats) checkOneOf("plot spec: format", f, {"svg", "png"});
  }
  if (s.kind == "blocks") s.width = 1100, s.height = 450;
  if (node["size"]) {
    const auto size = node["size"];
    PL_CHECK(size.IsSequence() && size.size() == 2, "plot spec: 'size' is [width, height] in pixels, e.g. [900, 500]");
    s.width = size[0].as<int>();
    s.height = size[1].as<int>();
    PL_CHECK(s.width >= 100 && s.height >= 100 && s.width <= 10000 && s.height <= 10000,
             "plot spec: size {}x{} is out of range; give pixels between 100 and 10000", s.width, s.height);
  }
  s.filter = runFilterOf(node["runs"], kSpec);
  s.where = whereOf(node["where"], kSpec);
  s.seriesKeys = keyList(node["series"]);
  s.order = orderOf(node["order"], s.seriesKeys, kSpec, "series key");
  s.labels = stringMap(node["labels"]);

  if (s.kind == "curve") {
    PL_CHECK(node["x"] && node["y"],
             "plot spec: a curve needs 'x' (a metric or config key, e.g. "
             "prune/targets/all/achieved_sparsity) and 'y' (a metric or a list of them)");
    s.x = node["x"].as<std::string>();
    s.y = measuresOf(node["y"], "y");
    s.pointsGiven = static_cast<bool>(node["points"]);
    s.points = keyList(node["points"]);
  } else if (s.kind == "blocks") {
    if (node["value"]) s.value = node["value"].as<std::string>();
    checkOneOf("plot spec: value", s.value, {"allocated", "achieved"});
    s.panels = keyList(node["panels"]);
  } else {
    PL_CHECK(node["bars"],
             "plot spec: a bars plot needs 'bars', a list of metrics (a `*` matches any text), e.g. "
             "bars: [time/prune/seconds] or bars: [\"memory/prune/*_bytes\"]");
    s.bars = measuresOf(node["bars"], "bars");
    if (node["stacked"]) s.stacked = node["stacked"].as<bool>();
  }
  return s;
}

// Matches `text` against `pattern` (`*` = any text), collecting what each `*` matched; the
// shortest match of each `*` wins, so captures are deterministic.
bool globMatch(const char* p, const char* t, std::vector<std::string>& captures) {
  if (*p == '\0') return *t == '\0';
  if (*p != '*') return *p == *t && globMatch(p + 1, t + 1, captures);
  for (const char* end = t;; ++end) {
    captures.emplace_back(t, end);
    if (globMatch(p + 1, end, captures)) return true;
    captures.pop_back();
    if (*end == '\0') return false;
  }
}

// Expands patterns and checks that every metric is recorded by a plotted run.
std::vector<Measure> resolveMeasures(const std::vector<Measure>& measures, const std::set<std::string>& metrics,
                                     const std::string& what) {
  const std::vector<std::string> metricList(metrics.begin(), metrics.end());
  std::vector<Measure> out;
  for (const auto& m : measures) {
    if (!m.pattern) {
      PL_CHECK(metrics.count(m.metric), "plot spec: metric '{}' ({}) is not recorded by any plotted run{}", m.metric,
               what, didYouMean(m.metric, metricList));
      out.push_back(m);
      continue;
    }
    bool any = false;
    for (const auto& k : metricList) {
      std::vector<std::string> captures;
      if (!globMatch(m.metric.c_str(), k.c_str(), captures)) continue;
      out.push_back({fmt::format("{}", fmt::join(captures, "/")), k, m.divide, false});
      any = true;
    }
    PL_CHECK(any, "plot spec: pattern '{}' ({}) matches no metric of the plotted runs{}", m.metric, what,
             didYouMean(m.metric, metricList));
  }
  return out;
}

// A number as written to the data file and script: enough digits, never "-0".
std::string num(double v) { return fmt::format("{:.10g}", v == 0.0 ? 0.0 : v); }

// A gnuplot single-quoted string (no escapes are interpreted inside; '' is a quote).
std::string gq(const std::string& text) {
  std::string out = "'";
  for (char ch : text) {
    if (ch == '\'')
      out += "''";
    else if (ch == '\n' || ch == '\r' || ch == '\t')
      out += ' ';
    else
      out += ch;
  }
  return out + "'";
}

// A data-file cell or comment: no tabs or line breaks.
std::string clean(const std::string& text) {
  std::string out = text;
  std::replace_if(
      out.begin(), out.end(), [](char ch) { return ch == '\t' || ch == '\n' || ch == '\r'; }, ' ');
  return out;
}

std::optional<double> numberOf(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<double> metricOf(const SelectedRun& run, const std::string& key, double divide = 1.0) {
  auto it = run.metrics.find(key);
  if (it == run.metrics.end() || std::isnan(it->second)) return std::nullopt;
  return it->second / divide;
}

// The last dotted part of a config key (pruner.coarse.batch_size -> batch_size).
std::string shortKey(const std::string& key) {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// The runs to plot, split by series: selection, `where`, checks of every config key the spec names.
struct Plotted {
  std::vector<SelectedRun> runs;
  std::set<std::string> metrics;                 // recorded by at least one plotted run
  std::vector<std::vector<std::string>> series;  // distinct series tuples, in display order
  std::vector<std::size_t> seriesOf;             // per run: its index in `series`
  std::vector<std::string> labels;               // per series: its display name
};

Plotted selectPlotted(store::RunStore& store, const PlotSpec& s) {
  const RunSelection selection = selectRuns(store, s.filter);
  PL_CHECK(!selection.runs.empty(),
           "plot spec: no {} run matches runs: (experiment '{}'{}); `prunelab runs` lists "
           "what the store holds (or pass --store PATH)",
           s.filter.status.empty() ? "" : s.filter.status, s.filter.experiment,
           s.filter.params.empty() ? "" : ", with the params filter");
  const auto paramList = selection.paramList();
  auto checkParam = [&](const std::string& key, const std::string& what) {
    PL_CHECK(selection.params.count(key),
             "plot spec: {} '{}' is neither a config key nor a config group of the "
             "selected runs{}",
             what, key, didYouMean(key, paramList));
  };
  for (const auto& [k, v] : s.where) checkParam(k, "where-key");
  for (const auto& k : s.seriesKeys) checkParam(k, "series key");
  for (const auto& k : s.points) checkParam(k, "points key");

  Plotted p;
  for (const auto& r : selection.runs)
    if (matches(r, s.where)) p.runs.push_back(r);
  PL_CHECK(!p.runs.empty(),
           "plot spec: none of the {} selected runs matches 'where'; check its values against "
           "`prunelab runs --param key=value`",
           selection.runs.size());
  for (const auto& r : p.runs)
    for (const auto& [k, v] : r.metrics) p.metrics.insert(k);
  std::vector<std::vector<std::string>> tuples;
  for (const auto& r : p.runs) {
    tuples.push_back(valuesOf(r, s.seriesKeys));
    if (std::find(p.series.begin(), p.series.end(), tuples.back()) == p.series.end()) p.series.push_back(tuples.back());
  }
  sortTuples(p.series, s.seriesKeys, s.order);
  for (const auto& t : tuples)
    p.seriesOf.push_back(static_cast<std::size_t>(std::find(p.series.begin(), p.series.end(), t) - p.series.begin()));
  for (const auto& t : p.series) {
    // The first key's value alone; a later key as short-key=value where another series with the
    // same first value differs in it (so ecoflap_first, batch_size=1 but plain wanda).
    std::vector<std::string> parts;
    for (std::size_t k = 0; k < t.size(); ++k) {
      const bool needed = k == 0 || std::any_of(p.series.begin(), p.series.end(),
                                                [&](const auto& o) { return o[0] == t[0] && o[k] != t[k]; });
      if (needed && t[k] != "—") parts.push_back(k == 0 ? t[k] : shortKey(s.seriesKeys[k]) + "=" + t[k]);
    }
    std::string label = fmt::format("{}", fmt::join(parts, ", "));
    auto renamed = s.labels.find(label);
    p.labels.push_back(renamed == s.labels.end() ? label : renamed->second);
  }
  return p;
}

// The data file's header: what it is, its layout, and the runs drawn (by series, then id).
std::string dataHeader(const PlotSpec& s, const std::string& name, const Plotted& p, const std::string& layout,
                       const std::vector<std::string>& pointKeys = {}) {
  std::string out = fmt::format("# prunelab plot data '{}' (kind {}){}\n", name, s.kind,
                                s.title.empty() ? "" : ": " + clean(s.title));
  out += fmt::format("# read by {}.gp; tab-separated; {}\n", name, layout);
  out += fmt::format("# runs ({}; the newest {} run per config hash):\n", p.runs.size(),
                     s.filter.status.empty() ? "" : s.filter.status);
  std::vector<std::size_t> idx(p.runs.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(p.seriesOf[a], p.runs[a].id) < std::tie(p.seriesOf[b], p.runs[b].id);
  });
  for (auto i : idx) {
    const auto& r = p.runs[i];
    std::string line = "#   " + r.id;
    if (!s.seriesKeys.empty()) line += "\t" + clean(p.labels[p.seriesOf[i]]);
    for (const auto& k : pointKeys)
      if (r.params.count(k)) line += "\t" + k + "=" + clean(r.params.at(k));
    if (r.params.count("seed")) line += "\tseed=" + r.params.at("seed");
    out += line + "\n";
  }
  return out;
}

// The part of a script that sets the terminal and output for each format and draws `body`.
std::string scriptFrame(const PlotSpec& s, const std::string& name, std::size_t linetypes, const std::string& settings,
                        const std::string& body) {
  std::string out = fmt::format(
      "# prunelab plot script '{}' (kind {}): reads {}.dat, writes {}.<format>.\n"
      "# Re-style it here and run `gnuplot {}.gp` in this folder; `prunelab plot` rewrites it.\n",
      name, s.kind, name, name, name);
  out += fmt::format("data = {}\n", gq(name + ".dat"));
  out += "set datafile separator tab\nset datafile missing '?'\n";
  for (std::size_t i = 0; i < std::max<std::size_t>(linetypes, 1); ++i)
    out += fmt::format("set linetype {} lc rgb '{}' lw 2 pt {} ps 1.2 dt {}\n", i + 1, kColors[i % std::size(kColors)],
                       kPointTypes[i % std::size(kPointTypes)], 1 + i / std::size(kColors));
  out += settings;
  std::string formats;
  for (const auto& f : s.formats) formats += (formats.empty() ? "" : " ") + f;
  const std::string size = fmt::format("size {},{}", s.width, s.height);
  out += fmt::format("do for [fmt in {}] {{\n", gq(formats));
  out += "  if (fmt eq 'svg') {\n";
  out += fmt::format("    set terminal svg {} dynamic noenhanced font 'sans,12' background rgb 'white'\n", size);
  out += "  }\n  if (fmt eq 'png') {\n";
  // gnuplot-nox may lack cairo; libgd's png is the fallback.
  out += "    if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n";
  out += fmt::format("      set terminal pngcairo {} noenhanced font 'sans,11' background rgb 'white'\n", size);
  out += "    } else {\n";
  out += fmt::format("      set terminal png {} noenhanced background rgb 'white'\n", size);
  out += "    }\n  }\n";
  out += fmt::format("  set output {}.fmt\n", gq(name + "."));
  out += body;
  out += "  unset output\n}\n";
  return out;
}

// The linetype of a series; with several y metrics, each y gets its own dash.
std::string lineStyle(std::size_t series, std::size_t y, std::size_t ys) {
  return ys > 1 ? fmt::format("lt {} dt {}", series + 1, y + 1) : fmt::format("lt {}", series + 1);
}

PlotSource buildCurve(const PlotSpec& s, const std::string& name, const Plotted& p) {
  std::vector<std::string> paramList;
  std::set<std::string> params;
  for (const auto& r : p.runs)
    for (const auto& [k, v] : r.params) params.insert(k);
  paramList.assign(params.begin(), params.end());
  const bool xIsParam = params.count(s.x) > 0;
  if (!xIsParam) {
    std::vector<std::string> both(paramList);
    both.insert(both.end(), p.metrics.begin(), p.metrics.end());
    PL_CHECK(p.metrics.count(s.x), "plot spec: x '{}' is neither a metric nor a config key of the plotted runs{}", s.x,
             didYouMean(s.x, both));
  }
  const auto ys = resolveMeasures(s.y, p.metrics, "y");
  std::vector<std::string> pointKeys = s.points;
  if (!s.pointsGiven && xIsParam) pointKeys = {s.x};

  // A point's identity within its series: the points keys' values, or the config but `seed`.
  auto pointOf = [&](const SelectedRun& r) {
    std::vector<std::string> key;
    if (s.pointsGiven || xIsParam) return valuesOf(r, pointKeys);
    for (const auto& [k, v] : r.params)
      if (k != "seed") key.push_back(k + "=" + v);
    return key;
  };
  auto xOf = [&](const SelectedRun& r) -> std::optional<double> {
    if (!xIsParam) return metricOf(r, s.x);
    auto it = r.params.find(s.x);
    if (it == r.params.end()) return std::nullopt;
    const auto v = numberOf(it->second);
    PL_CHECK(v,
             "plot spec: x '{}' has the value '{}' in run {}, not a number; a curve's x must be numeric (use "
             "a bars plot for categories)",
             s.x, it->second, r.id.substr(0, 8));
    return v;
  };

  std::string data = dataHeader(s, name, p,
                                "one block per series and y, two blank lines apart (gnuplot `index`); "
                                "a point is the mean over its runs; sd = their standard deviation",
                                pointKeys);
  std::string plots;
  int index = 0;
  for (std::size_t si = 0; si < p.series.size(); ++si) {
    std::map<std::vector<std::string>, std::vector<std::size_t>> groups;  // point -> runs
    for (std::size_t i = 0; i < p.runs.size(); ++i)
      if (p.seriesOf[i] == si) groups[pointOf(p.runs[i])].push_back(i);
    for (std::size_t yi = 0; yi < ys.size(); ++yi) {
      struct Point {
        Summary x, y;
      };
      std::vector<Point> points;
      for (const auto& [key, runs] : groups) {
        std::vector<double> xs, yv;
        for (auto i : runs) {
          const auto xv = xOf(p.runs[i]);
          const auto v = metricOf(p.runs[i], ys[yi].metric, ys[yi].divide);
          if (!xv || !v) continue;  // a missing value is left out, never drawn as 0
          xs.push_back(*xv);
          yv.push_back(*v);
        }
        if (!yv.empty()) points.push_back({summarize(xs), summarize(yv)});
      }
      if (points.empty()) continue;
      std::stable_sort(points.begin(), points.end(),
                       [](const Point& a, const Point& b) { return a.x.mean < b.x.mean; });
      bool xErrors = false, yErrors = false;
      for (const auto& pt : points) {
        xErrors = xErrors || pt.x.sd > 0;
        yErrors = yErrors || pt.y.n > 1;
      }
      std::string title = p.labels[si];
      if (ys.size() > 1 || title.empty()) title = title.empty() ? ys[yi].label : title + " — " + ys[yi].label;
      data += fmt::format("{}# [{}] series: {}; y: {} ({})\n# x\tx_sd\ty\ty_sd\tn\n", index ? "\n\n" : "\n", index,
                          clean(p.labels[si]), clean(ys[yi].label), ys[yi].metric);
      for (const auto& pt : points)
        data += fmt::format("{}\t{}\t{}\t{}\t{}\n", num(pt.x.mean), num(pt.x.sd), num(pt.y.mean), num(pt.y.sd), pt.y.n);
      const std::string with = xErrors   ? "using 1:3:2:4 with xyerrorlines"
                               : yErrors ? "using 1:3:4 with yerrorlines"
                                         : "using 1:3 with linespoints";
      plots += fmt::format("{}data index {} {} {} title {}", plots.empty() ? "" : ", \\\n       ", index, with,
                           lineStyle(si, yi, ys.size()), gq(title));
      ++index;
    }
  }
  PL_CHECK(index > 0, "plot spec: none of the {} plotted runs records both x '{}' and a y metric", p.runs.size(), s.x);

  std::string settings;
  if (!s.title.empty()) settings += "set title " + gq(s.title) + "\n";
  settings += "set xlabel " + gq(s.xlabel.empty() ? s.x : s.xlabel) + "\n";
  settings += "set ylabel " + gq(!s.ylabel.empty() ? s.ylabel : ys.size() == 1 ? ys[0].label : "") + "\n";
  settings += "set grid\nset key outside right top Left reverse samplen 2\nset bars small\n";
  return {name, data, scriptFrame(s, name, p.series.size(), settings, "  plot " + plots + "\n"), s.formats};
}

// A pruned matrix's block: its name up to the first numeric part (vision.blocks.0.attn.qkv ->
// vision.blocks.0), or the matrix itself when it has none.
struct BlockId {
  std::string prefix;  // the name before the number
  long number = -1;
  std::string name;
  bool operator<(const BlockId& o) const {
    return std::make_tuple(number < 0, prefix, number, name) <
           std::make_tuple(o.number < 0, o.prefix, o.number, o.name);
  }
};

BlockId blockOf(const std::string& layer) {
  std::size_t start = 0;
  while (start <= layer.size()) {
    auto end = layer.find('.', start);
    if (end == std::string::npos) end = layer.size();
    const auto part = layer.substr(start, end - start);
    if (!part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return {layer.substr(0, start), std::stol(part), layer.substr(0, end)};
    start = end + 1;
  }
  return {layer, -1, layer};
}

// A block's tic label: its name without the modality and a "blocks." (vision.blocks.0 -> 0).
std::string blockLabel(const BlockId& b, const std::string& modality) {
  std::string label = b.name;
  if (label.rfind(modality + ".", 0) == 0) label = label.substr(modality.size() + 1);
  if (label.rfind("blocks.", 0) == 0) label = label.substr(7);
  return label;
}

PlotSource buildBlocks(store::RunStore& store, const PlotSpec& s, const std::string& name, const Plotted& p) {
  // Per run, per modality, per block: the numel-weighted mean sparsity of its matrices.
  std::vector<std::map<std::string, std::map<BlockId, double>>> perRun(p.runs.size());
  std::set<std::string> modalities;
  for (std::size_t i = 0; i < p.runs.size(); ++i) {
    std::map<std::string, std::map<BlockId, std::pair<double, double>>> sums;  // weighted sum, weight
    for (const auto& l : store.layers(p.runs[i].id)) {
      const double v = s.value == "allocated" ? l.targetSparsity : l.achievedSparsity;
      if (std::isnan(v) || l.numel <= 0) continue;
      auto& acc = sums[l.modality][blockOf(l.name)];
      acc.first += v * static_cast<double>(l.numel);
      acc.second += static_cast<double>(l.numel);
    }
    for (const auto& [modality, blocks] : sums) {
      modalities.insert(modality);
      for (const auto& [b, acc] : blocks) perRun[i][modality][b] = acc.first / acc.second;
    }
  }
  PL_CHECK(!modalities.empty(),
           "plot spec: none of the {} plotted runs recorded per-layer sparsity (the store's "
           "layers table); a blocks plot needs pruned runs",
           p.runs.size());
  const std::vector<std::string> found(modalities.begin(), modalities.end());
  std::vector<std::string> panels = s.panels.empty() ? found : s.panels;
  for (const auto& m : panels)
    PL_CHECK(modalities.count(m),
             "plot spec: panel '{}' is not a modality of the plotted runs' layers{}; they have "
             "{}",
             m, didYouMean(m, found), quotedList(found));

  std::string data = dataHeader(s, name, p,
                                "one block per panel and series, two blank lines apart (gnuplot "
                                "`index`); value = the numel-weighted mean " +
                                    s.value +
                                    " sparsity of a block's "
                                    "matrices, averaged over the series' runs; sd = their standard deviation");
  std::string body =
      fmt::format("  set multiplot layout 1,{}{}\n", panels.size(), s.title.empty() ? "" : " title " + gq(s.title));
  int index = 0;
  double lo = INFINITY, hi = -INFINITY;
  std::string panelScripts;
  for (std::size_t pi = 0; pi < panels.size(); ++pi) {
    const auto& modality = panels[pi];
    std::set<BlockId> blockSet;
    for (const auto& r : perRun) {
      auto it = r.find(modality);
      if (it != r.end())
        for (const auto& [b, v] : it->second) blockSet.insert(b);
    }
    const std::vector<BlockId> blocks(blockSet.begin(), blockSet.end());
    std::string tics;
    for (std::size_t b = 0; b < blocks.size(); ++b)
      tics += fmt::format("{}{} {}", b ? ", " : "", gq(blockLabel(blocks[b], modality)), b);
    std::string panel = "  set title " + gq(modality) + "\n";
    panel +=
        fmt::format("  set xrange [-0.5:{}]\n  set xtics ({})\n", num(static_cast<double>(blocks.size()) - 0.5), tics);
    panel += pi == 0 ? "  set key top left Left reverse samplen 2\n" : "  unset key\n";
    std::string plots;
    for (std::size_t si = 0; si < p.series.size(); ++si) {
      std::string rows;
      bool errors = false;
      for (std::size_t b = 0; b < blocks.size(); ++b) {
        std::vector<double> values;
        for (std::size_t i = 0; i < p.runs.size(); ++i) {
          if (p.seriesOf[i] != si) continue;
          auto m = perRun[i].find(modality);
          if (m == perRun[i].end()) continue;
          auto v = m->second.find(blocks[b]);
          if (v != m->second.end()) values.push_back(v->second);
        }
        const auto sum = summarize(values);
        if (!sum.present) continue;
        errors = errors || sum.n > 1;
        lo = std::min(lo, sum.mean - sum.sd);
        hi = std::max(hi, sum.mean + sum.sd);
        rows += fmt::format("{}\t{}\t{}\t{}\t{}\n", b, num(sum.mean), num(sum.sd), sum.n, clean(blocks[b].name));
      }
      if (rows.empty()) continue;
      data += fmt::format("{}# [{}] panel: {}; series: {}\n# x\tvalue\tsd\tn\tblock\n{}", index ? "\n\n" : "\n", index,
                          clean(modality), clean(p.labels[si]), rows);
      plots += fmt::format("{}data index {} {} {} title {}", plots.empty() ? "" : ", \\\n       ", index,
                           errors ? "using 1:2:3 with yerrorlines" : "using 1:2 with linespoints", lineStyle(si, 0, 1),
                           gq(p.labels[si].empty() ? s.value : p.labels[si]));
      ++index;
    }
    if (plots.empty()) plots = "NaN notitle";
    panelScripts += panel + "  plot " + plots + "\n";
  }
  // One y range for all panels, so that their lines compare.
  const double pad = hi > lo ? 0.08 * (hi - lo) : 0.05;
  std::string settings = fmt::format("set yrange [{}:{}]\n", num(std::round((lo - pad) * 1000) / 1000),
                                     num(std::round((hi + pad) * 1000) / 1000));
  settings += "set xlabel " + gq(s.xlabel.empty() ? "block" : s.xlabel) + "\n";
  settings += "set ylabel " + gq(s.ylabel.empty() ? s.value + " sparsity" : s.ylabel) + "\n";
  settings += "set grid\nset bars small\n";
  body += panelScripts + "  unset multiplot\n";
  return {name, data, scriptFrame(s, name, p.series.size(), settings, body), s.formats};
}

PlotSource buildBars(const PlotSpec& s, const std::string& name, const Plotted& p) {
  const auto bars = resolveMeasures(s.bars, p.metrics, "bars");
  std::string header = "# series";
  for (const auto& b : bars) header += fmt::format("\t{0}\t{0} sd\t{0} n", clean(b.label));
  std::string rows, leftOut;
  bool errors = false, negative = false, longLabels = false;
  for (std::size_t si = 0; si < p.series.size(); ++si) {
    std::string row = clean(p.labels[si].empty() ? "all" : p.labels[si]);
    bool any = false;
    for (const auto& b : bars) {
      std::vector<double> values;
      for (std::size_t i = 0; i < p.runs.size(); ++i)
        if (p.seriesOf[i] == si)
          if (auto v = metricOf(p.runs[i], b.metric, b.divide)) values.push_back(*v);
      const auto sum = summarize(values);
      if (!sum.present) {
        row += "\t?\t?\t0";  // a gap, never a bar of 0
        continue;
      }
      any = true;
      errors = errors || sum.n > 1;
      negative = negative || sum.mean < 0;
      row += fmt::format("\t{}\t{}\t{}", num(sum.mean), num(sum.sd), sum.n);
    }
    if (!any) {
      leftOut += (leftOut.empty() ? "" : ", ") + clean(p.labels[si]);
      continue;
    }
    longLabels = longLabels || p.labels[si].size() > 6;
    rows += row + "\n";
  }
  PL_CHECK(!rows.empty(), "plot spec: none of the {} plotted runs records any of the bars' metrics", p.runs.size());
  std::string data = dataHeader(s, name, p,
                                "one row per series, three columns per bar (mean over the series' "
                                "runs, their standard deviation, count); '?' = not recorded");
  if (!leftOut.empty()) data += "# left out (no bar recorded): " + leftOut + "\n";
  data += header + "\n" + rows;

  const bool withErrors = errors && !s.stacked;
  std::string settings;
  if (!s.title.empty()) settings += "set title " + gq(s.title) + "\n";
  if (!s.xlabel.empty()) settings += "set xlabel " + gq(s.xlabel) + "\n";
  settings += "set ylabel " + gq(!s.ylabel.empty() ? s.ylabel : bars.size() == 1 ? bars[0].label : "") + "\n";
  settings += "set style data histograms\n";
  settings += s.stacked    ? "set style histogram rowstacked\nset boxwidth 0.75\n"
              : withErrors ? "set style histogram errorbars gap 1 lw 1\n"
                           : "set style histogram clustered gap 1\n";
  settings += "set style fill solid 0.85 border -1\n";
  if (!negative) settings += "set yrange [0:*]\n";
  // A stack's key lists its parts top to bottom, as they are drawn.
  settings += s.stacked ? "set grid ytics\nset key outside right top Left reverse invert\nset xtics nomirror"
                        : "set grid ytics\nset key outside right top Left reverse\nset xtics nomirror";
  settings += longLabels ? " rotate by 30 right\n" : "\n";
  std::string plots;
  for (std::size_t b = 0; b < bars.size(); ++b) {
    const std::size_t col = 2 + 3 * b;
    const std::string using_ = withErrors ? fmt::format("{}:{}", col, col + 1) : std::to_string(col);
    plots += fmt::format("{}{} using {}{} lt {} lw 1 title {}", b ? ", \\\n       " : "", b ? "''" : "data", using_,
                         b ? "" : ":xtic(1)", b + 1, gq(bars[b].label));
  }
  return {name, data, scriptFrame(s, name, bars.size(), settings, "  plot " + plots + "\n"), s.formats};
}

// `program` if it names an executable, else its first match on PATH; empty when there is none.
std::string findProgram(const std::string& program) {
  auto executable = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) return executable(program) ? fs::absolute(program).string() : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const fs::path dir = dirs.substr(start, end - start);
    if (!dir.empty() && executable(dir / program)) return fs::absolute(dir / program).string();
    start = end + 1;
  }
  return "";
}

std::string shellQuote(const std::string& arg) {
  std::string out = "'";
  for (char ch : arg) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

void writeText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  PL_CHECK(out, "cannot write '{}': check that the folder is writable, or pick another with --out DIR", path.string());
  out << text;
  out.close();
  PL_CHECK(out, "writing '{}' failed (disk full?)", path.string());
}

}  // namespace

PlotSource buildPlot(store::RunStore& store, const YAML::Node& node, const std::string& name) {
  const PlotSpec s = parseSpec(node);
  const std::string stem = node["output"] ? node["output"].as<std::string>() : name;
  PL_CHECK(!stem.empty() && stem.find('/') == std::string::npos && stem != "." && stem != "..",
           "plot spec: output '{}' must be a plain file name stem (the folder is --out DIR)", stem);
  const Plotted p = selectPlotted(store, s);
  if (s.kind == "curve") return buildCurve(s, stem, p);
  if (s.kind == "blocks") return buildBlocks(store, s, stem, p);
  return buildBars(s, stem, p);
}

PlotFiles writePlot(store::RunStore& store, const YAML::Node& spec, const std::string& name,
                    const PlotOptions& options) {
  const PlotSource source = buildPlot(store, spec, name);
  const fs::path dir = options.outDir().empty() ? fs::path(".") : fs::path(options.outDir());
  std::error_code ec;
  fs::create_directories(dir, ec);
  PL_CHECK(!ec, "cannot create the plot folder '{}': {}; pick another with --out DIR", dir.string(), ec.message());
  PlotFiles files{(dir / (source.name + ".dat")).string(), (dir / (source.name + ".gp")).string(), {}};
  writeText(files.data, source.data);
  writeText(files.script, source.script);
  for (const auto& f : source.formats) files.figures.push_back((dir / (source.name + "." + f)).string());

  const std::string gnuplot = findProgram(options.gnuplot());
  PL_CHECK(!gnuplot.empty(),
           "wrote {} and {}, but gnuplot ('{}') is not installed or not on PATH, so no figure was "
           "drawn: install it with `sudo apt-get install gnuplot-nox` (or run scripts/setup.sh), then re-run, or run "
           "`gnuplot {}.gp` in {}",
           files.data, files.script, options.gnuplot(), source.name, dir.string());
  for (const auto& f : files.figures) fs::remove(f, ec);  // so that a stale figure never passes for a new one
  const std::string command =
      "cd " + shellQuote(dir.string()) + " && " + shellQuote(gnuplot) + " " + shellQuote(source.name + ".gp") + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  PL_CHECK(pipe, "cannot start gnuplot ('{}'): {}", gnuplot, std::strerror(errno));
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = ::pclose(pipe);
  const bool ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  PL_CHECK(ok,
           "gnuplot failed on {} (status {}); the data and script are kept, so fix the script (or the spec) and "
           "run `gnuplot {}.gp` in {}:\n{}",
           files.script, status, source.name, dir.string(), output);
  if (!output.empty()) logWarn("gnuplot ({}): {}", files.script, output);
  for (const auto& f : files.figures)
    PL_CHECK(fs::exists(f) && fs::file_size(f, ec) > 0,
             "gnuplot ran but did not write {}; run `gnuplot {}.gp` in {} "
             "to see why",
             f, source.name, dir.string());
  return files;
}

PlotFiles plotFile(store::RunStore& store, const std::string& specPath, const PlotOptions& options) {
  YAML::Node spec;
  try {
    spec = YAML::LoadFile(specPath);
  } catch (const YAML::Exception& e) {
    PL_THROW("cannot read plot spec '{}': {}", specPath, e.what());
  }
  return writePlot(store, spec, fs::path(specPath).stem().string(), options);
}

}  // namespace prunelab::results
