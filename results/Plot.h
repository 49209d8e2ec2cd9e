#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

#include "framework/store/RunStore.h"

namespace prunelab::results {

/// A plot spec's data and gnuplot script, before anything is written.
///
///   title: VQA accuracy against achieved sparsity
///   kind: curve                       # curve, blocks or bars
///   runs: {name: ecoflap_table1}      # as in table specs: name, status (default FINISHED), params
///   where: {pruner: [wanda, owl]}     # optional: keep runs whose config key (or group) has one of these values
///   series: pruner                    # a config key or group, or a list: one line (bar group) per value tuple
///   order: {pruner: [wanda, owl]}     # optional: these series values first, in this order
///   labels: {wanda: uniform (Wanda)}  # optional: display names of series
///   xlabel: ..., ylabel: ...          # optional axis labels
///   output: name                      # optional: file name stem (default: the spec file's)
///   formats: [svg, png]               # default both
///   size: [900, 500]                  # optional: pixels
///
/// kind curve: `x` (a metric, or a config key such as pruner.sparsity), `y` (a metric or a list of
/// them; an entry may be {metric, label, divide}). Runs of a series sharing the values of `points`
/// (config keys; default: x when x is a config key, else the whole config but `seed`) make one
/// point: the mean over them, with standard-deviation error bars when there are several.
/// kind blocks: the sparsity of each block (the numel-weighted mean over its matrices in the
/// store's layers table; `value: allocated` (target, default) or `achieved`), one line per series,
/// one panel per modality (`panels: [vision, language]`, default every modality, sorted).
/// kind bars: `bars` lists metrics ({metric, label, divide}; a `*` in a metric expands to every
/// recorded match, named by what `*` matched), one group of bars per series; `stacked: true`
/// stacks them (e.g. a memory split) instead.
///
/// Runs are the newest FINISHED run per config hash. A value a run lacks is left out, never drawn
/// as 0. Same store, same spec -> byte-identical data and script. Unknown spec keys, and metrics or
/// config keys no selected run records, are errors with the nearest valid names.
struct PlotSource {
  std::string name;                  ///< file name stem: <name>.dat, <name>.gp, <name>.<format>
  std::string data;                  ///< <name>.dat: tab-separated, with a commented header naming columns and runs
  std::string script;                ///< <name>.gp: reads <name>.dat, writes <name>.<format> for each format
  std::vector<std::string> formats;  ///< svg and/or png
};

/// Where `writePlot` writes and what draws the figures, as chainable values:
/// PlotOptions().outDir("figures").gnuplot("/opt/bin/gnuplot").
class PlotOptions {
 public:
  /// Folder for the data, script and figures (created when missing); default "plots".
  PlotOptions& outDir(std::string dir) { return outDir_ = std::move(dir), *this; }
  /// The gnuplot executable: a path, or a name looked up on PATH (default "gnuplot").
  PlotOptions& gnuplot(std::string program) { return gnuplot_ = std::move(program), *this; }

  const std::string& outDir() const { return outDir_; }
  const std::string& gnuplot() const { return gnuplot_; }

 private:
  std::string outDir_ = "plots";
  std::string gnuplot_ = "gnuplot";
};

/// The files `writePlot` wrote.
struct PlotFiles {
  std::string data, script;          ///< <dir>/<name>.dat and <dir>/<name>.gp
  std::vector<std::string> figures;  ///< <dir>/<name>.<format>, one per format
};

/// Builds a plot spec's data and script from the store; `name` is the output stem unless the spec
/// sets `output`.
PlotSource buildPlot(store::RunStore& store, const YAML::Node& spec, const std::string& name);

/// Writes <name>.dat and <name>.gp into the output folder, then runs gnuplot there to draw each
/// format. When gnuplot is missing or fails, throws after writing them, naming the fix.
PlotFiles writePlot(store::RunStore& store, const YAML::Node& spec, const std::string& name,
                    const PlotOptions& options = PlotOptions());

/// Loads a spec file and plots it under the file's stem (e.g. foo.yaml -> foo.dat, foo.gp, foo.svg).
PlotFiles plotFile(store::RunStore& store, const std::string& specPath, const PlotOptions& options = PlotOptions());

}  // namespace prunelab::results
