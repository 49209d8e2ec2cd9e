#include "experiments/App.h"

#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "datasets/Register.h"
#include "evaluators/Register.h"
#include "framework/config/Composer.h"
#include "framework/config/Value.h"
#include "framework/core/Log.h"
#include "framework/run/Job.h"
#include "framework/run/Runner.h"
#include "models/Register.h"
#include "pruners/Register.h"
#include "results/Plot.h"
#include "results/Table.h"
#include "experiments/verbs/AllocateVerb.h"
#include "experiments/verbs/DataExportVerb.h"
#include "experiments/verbs/PruneMatrixVerb.h"
#include "experiments/verbs/ScoreVerb.h"
#include "experiments/verbs/TrainVerb.h"
#include "experiments/verbs/Verb.h"

namespace prunelab::app {

namespace fs = std::filesystem;

void registerAllPlugins(run::Registries& r) {
  datasets::registerAll(r);
  models::registerAll(r);
  pruners::registerAll(r);
  evaluators::registerAll(r);
}

fs::path CliGlobals::confDir() const {
  if (!configDir.empty()) return configDir;
  if (fs::is_directory("experiments/conf")) return "experiments/conf";
  return fs::path(PRUNELAB_SOURCE_DIR) / "experiments" / "conf";
}

namespace {

std::string emit(const YAML::Node& node) { return config::toYamlText(node); }

template <class Base>
void printPlugins(const Registry<Base>& registry) {
  fmt::print("{}s:\n", registry.kind());
  for (const auto& name : registry.names()) {
    const auto& e = registry.entry(name);
    fmt::print("  {:<14} {}\n", name, e.description);
    for (const auto& h : e.help()) fmt::print("      {:<22} {:<16} default {:<24} {}\n", h.key, h.type, h.defaultValue, h.doc);
  }
}

std::string formatTime(std::int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace

int runCli(int argc, char** argv) {
  CLI::App app{"prunelab: reproducible pruning experiments on vision-language models"};
  app.require_subcommand(1);
  app.fallthrough();  // --store/--config-dir may also follow the verb
  CliGlobals globals;
  std::string& storePath = globals.storePath;
  app.add_option("--store", globals.storePath, "SQLite run store")->capture_default_str();
  app.add_option("--config-dir", globals.configDir, "config folder (default: ./experiments/conf, else the source tree's)");

  std::vector<std::string> overrides;
  bool multirun = false, resume = false, resolveConfig = false;

  auto* runCmd = app.add_subcommand("run", "run one job, or a sweep with -m (k=a,b,c; k=range(0,1,0.25))");
  runCmd->add_flag("-m,--multirun", multirun, "run the cartesian product of sweep overrides, one job each");
  runCmd->add_flag("--resume", resume, "skip jobs whose resolved config already FINISHED in the store");
  runCmd->add_option("overrides", overrides, "overrides: a.b=v, +a.b=v, ++a.b=v, ~a.b, group=option, +experiment=x");

  auto* showCmd = app.add_subcommand("show", "print the composed config (unresolved; --resolve for final values)");
  showCmd->add_flag("--resolve", resolveConfig, "resolve interpolations and fill every plugin default");
  showCmd->add_option("overrides", overrides, "overrides, as for run");

  store::RunFilter filter;
  std::vector<std::string> paramFilters;
  auto* runsCmd = app.add_subcommand("runs", "list runs in the store, newest first");
  runsCmd->add_option("--status", filter.status, "RUNNING, FINISHED, FAILED or KILLED");
  runsCmd->add_option("--name", filter.experiment, "experiment name");
  runsCmd->add_option("--sweep", filter.sweepId, "sweep id (prefix)");
  runsCmd->add_option("--param", paramFilters, "key=value on the flattened config (repeatable)");
  runsCmd->add_option("--limit", filter.limit, "show at most N runs");

  std::string specPath, tableFormat = "md";
  auto* tableCmd = app.add_subcommand("table", "render a table spec (YAML) from the store");
  tableCmd->add_option("spec", specPath, "table spec file")->required();
  tableCmd->add_option("--format", tableFormat, "md, csv or latex (booktabs)")->capture_default_str();

  std::vector<std::string> plotSpecs;
  std::string plotDir = "plots";
  auto* plotCmd = app.add_subcommand("plot", "draw plot specs (YAML) from the store: SPEC.dat, SPEC.gp and figures "
                                     "(gnuplot)");
  plotCmd->add_option("spec", plotSpecs, "plot spec file(s)")->required();
  plotCmd->add_option("--out", plotDir, "folder for the data, scripts and figures")->capture_default_str();

  std::string pluginKind;
  auto* pluginsCmd = app.add_subcommand("plugins", "list registered plugins and their options");
  pluginsCmd->add_option("kind", pluginKind, "model, dataset, pruner or evaluator (default: all)");

  // Verbs defined in experiments/verbs/, one file each.
  const std::vector<Verb> verbs = {addPruneMatrixVerb(app), addAllocateVerb(app), addTrainVerb(app),
                                   addScoreVerb(app), addDataExportVerb(app)};

  CLI11_PARSE(app, argc, argv);

  try {
    run::Registries registries;
    registerAllPlugins(registries);
    globals.registries = &registries;
    const fs::path confDir = globals.confDir();
    for (const auto& verb : verbs)
      if (*verb.command) return verb.run(globals);

    if (*runCmd) {
      config::Composer composer(confDir);
      run::RunnerSettings settings;
      settings.storePath = storePath;
      settings.sourceDir = PRUNELAB_SOURCE_DIR;
      settings.resume = resume;
      settings.argv.assign(argv, argv + argc);
      return run::runCommand(composer, overrides, multirun, registries, settings);
    }
    if (*showCmd) {
      config::Composer composer(confDir);
      if (!resolveConfig) {
        std::cout << emit(composer.compose(overrides).config) << "\n";
      } else {
        auto job = run::prepareJob(composer, overrides, registries);
        std::cout << emit(job.normalized) << "\n# config_hash: " << job.configHash << "\n";
      }
      return 0;
    }
    if (*runsCmd) {
      for (const auto& p : paramFilters) {
        auto eq = p.find('=');
        PL_CHECK(eq != std::string::npos, "--param expects key=value, got '{}'", p);
        filter.params[p.substr(0, eq)] = p.substr(eq + 1);
      }
      PL_CHECK(fs::exists(storePath), "store '{}' does not exist yet: run something first, or pass --store PATH",
               storePath);
      store::RunStore store(storePath);
      const auto now = store::nowMs();
      fmt::print("{:<10} {:<9} {:<16} {:>4} {:<20} {:<8} {}\n", "run", "status", "name", "job", "started", "seconds",
                 "overrides / error");
      for (const auto& r : store.listRuns(filter)) {
        std::string status = r.status;
        if (status == "RUNNING" && now - r.heartbeatMs > 3 * store::RunStore::kHeartbeatMs) status = "STALE";
        std::string detail = r.overridesJson;
        if (!r.error.empty()) detail += "  " + r.error.substr(0, 120);
        fmt::print("{:<10} {:<9} {:<16} {:>4} {:<20} {:<8} {}\n", r.id.substr(0, 8), status, r.experiment,
                   r.jobNum < 0 ? std::string("-") : std::to_string(r.jobNum), formatTime(r.startMs),
                   r.endMs > 0 ? fmt::format("{:.1f}", (r.endMs - r.startMs) / 1000.0) : "-", detail);
      }
      return 0;
    }
    if (*tableCmd) {
      PL_CHECK(fs::exists(storePath), "store '{}' does not exist yet: run something first, or pass --store PATH",
               storePath);
      store::RunStore store(storePath);
      std::cout << results::renderTableFile(store, specPath, tableFormat);
      return 0;
    }
    if (*plotCmd) {
      PL_CHECK(fs::exists(storePath), "store '{}' does not exist yet: run something first, or pass --store PATH",
               storePath);
      store::RunStore store(storePath);
      for (const auto& spec : plotSpecs) {
        const auto files = results::plotFile(store, spec, results::PlotOptions().outDir(plotDir));
        fmt::print("{}: {}, {}, {}\n", spec, files.data, files.script, fmt::join(files.figures, ", "));
      }
      return 0;
    }
    if (*pluginsCmd) {
      const std::vector<std::string> kinds = {"model", "dataset", "pruner", "evaluator"};
      PL_CHECK(pluginKind.empty() || std::find(kinds.begin(), kinds.end(), pluginKind) != kinds.end(),
               "unknown plugin kind '{}'{}; kinds: {}", pluginKind, didYouMean(pluginKind, kinds), quotedList(kinds));
      if (pluginKind.empty() || pluginKind == "model") printPlugins(registries.models);
      if (pluginKind.empty() || pluginKind == "dataset") printPlugins(registries.datasets);
      if (pluginKind.empty() || pluginKind == "pruner") printPlugins(registries.pruners);
      if (pluginKind.empty() || pluginKind == "evaluator") printPlugins(registries.evaluators);
      return 0;
    }
  } catch (const std::exception& e) {
    logError("{}", e.what());
    return 2;
  }
  return 0;
}

}  // namespace prunelab::app
