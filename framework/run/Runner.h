#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "framework/run/Job.h"
#include "framework/run/Registries.h"
#include "framework/store/RunStore.h"

namespace prunelab::run {

/// Settings of the process that runs jobs (not part of any job's config).
struct RunnerSettings {
  std::string storePath = "results/prunelab.sqlite";
  std::filesystem::path sourceDir;  ///< checkout whose git commit is recorded
  bool resume = false;              ///< skip jobs whose config hash already FINISHED
  std::vector<std::string> argv;    ///< the command line, recorded with a sweep
};

/// How one job ended.
struct RunOutcome {
  std::string runId;
  store::RunStatus status = store::RunStatus::Failed;
  std::string error;
  bool skipped = false;  ///< resumed: an equal config already FINISHED
  std::filesystem::path outputDir;
};

/// Runs one job end to end (design.md §2): output dir and saved config, store.begin, model,
/// data, pruner, evaluators, store.finish. Every exception below is caught here and recorded:
/// Interrupted -> KILLED, anything else -> FAILED with its message; the store stays intact.
class Runner {
 public:
  Runner(const Registries& registries, store::RunStore& store, RunnerSettings settings);

  /// Runs `job` in `outputDir` (created here; must not exist yet). An empty path gives
  /// singleRunDir(output_root, run id).
  RunOutcome run(const Job& job, const std::filesystem::path& outputDir = {}, const std::string& sweepId = "");

 private:
  const Registries& registries_;
  store::RunStore& store_;
  RunnerSettings settings_;
};

/// Unique run directory `<root>/<YYYY-MM-DD>/<HH-MM-SS>-<id8>` (not created).
std::filesystem::path singleRunDir(const std::string& root, const std::string& runId);

/// Runs a single job or a sweep (-m) from command-line overrides: expands the sweep (config
/// `hydra.sweeper.params` first, the CLI wins per key), composes and validates every job before
/// the first runs, then runs them in order; a failing job does not stop the others.
/// Returns the process exit code: 0 all finished or skipped, 1 some job failed, 2 invalid
/// config (nothing ran), 130/143 interrupted.
int runCommand(const config::Composer& composer, const std::vector<std::string>& overrides, bool multirun,
               const Registries& registries, const RunnerSettings& settings);

}  // namespace prunelab::run
