#include "framework/run/Runner.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "framework/config/Value.h"
#include "framework/core/Interrupt.h"
#include "framework/core/Log.h"
#include "framework/model/Safetensors.h"
#include "framework/profile/Profiler.h"
#include "framework/run/Environment.h"

namespace prunelab::run {

namespace fs = std::filesystem;

namespace {

// The masks of the pruned matrices (weight != 0 after pruning) and/or every parameter and buffer
// of the pruned model, as safetensors in the run folder.
void saveRunTensors(model::Model& model, const std::vector<store::LayerRecord>& layers, const fs::path& dir,
                    const RunOptions& opt, const std::map<std::string, std::string>& metadata) {
  torch::NoGradGuard noGrad;
  if (opt.save_masks) {
    std::set<std::string> pruned;
    for (const auto& l : layers) pruned.insert(l.name);
    std::vector<std::pair<std::string, torch::Tensor>> masks;
    for (const auto& l : model.linears())
      if (pruned.count(l.name)) masks.emplace_back(l.name, (l.layer->weight.detach() != 0).to(torch::kUInt8));
    model::saveSafetensors(dir / "masks.safetensors", masks, metadata);
  }
  if (opt.save_checkpoint) {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& p : model.module().named_parameters()) tensors.emplace_back(p.key(), p.value().detach());
    for (const auto& b : model.module().named_buffers()) tensors.emplace_back(b.key(), b.value().detach());
    auto meta = model.checkpointMetadata();
    for (const auto& [key, value] : metadata) meta[key] = value;
    meta["weights_id"] = model.weightsId();
    model::saveSafetensors(dir / "pruned.safetensors", tensors, meta);
  }
}

std::string timeString(const char* format) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

void writeYaml(const fs::path& path, const YAML::Node& node) {
  std::ofstream f(path);
  PL_CHECK(f, "cannot write '{}': check that the output folder is writable (output_root=...)", path.string());
  f << config::toYamlText(node) << "\n";
}

// Refreshes the run's heartbeat from its own connection (SQLite connections are per thread).
class Heartbeat {
 public:
  Heartbeat(const std::string& storePath, std::string runId) : runId_(std::move(runId)) {
    if (storePath == ":memory:") return;  // an in-memory store is private to its connection
    thread_ = std::thread([this, storePath] {
      try {
        store::RunStore store(storePath);
        std::unique_lock<std::mutex> lock(mutex_);
        while (!cv_.wait_for(lock, std::chrono::milliseconds(store::RunStore::kHeartbeatMs), [this] { return stop_; }))
          store.heartbeat(runId_);
      } catch (const std::exception& e) {
        logWarn("heartbeat stopped: {}", e.what());
      }
    });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::string runId_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

std::string yamlToJsonText(const YAML::Node& node) { return config::toJson(node).dump(); }

// The pruning stages' time and memory as metrics, so that a table reads them like any other
// column: time/<stage>/seconds and memory/<stage>/{peak,weights,activations,gradients,scores,
// statistics,other}_bytes for the "prune" stage and every stage nested in it. peak_bytes counts
// the model's weights plus what pruning added on top of the tensors alive when it began (the
// dataset, caches), the CPU counterpart of torch.cuda.max_memory_allocated() with only the model
// on the device, as ECoFLaP measures it. A stage name recorded twice (one per iteration) keeps
// its largest peak and the sum of its times.
std::vector<store::MetricRecord> stageMetrics(const std::vector<store::StageRecord>& records, std::size_t from,
                                              std::int64_t weightBytes) {
  std::vector<store::MetricRecord> out;
  if (records.size() <= from) return out;
  const std::int64_t base = records.back().tensorBytesStart - weightBytes;  // the "prune" stage comes last
  std::map<std::string, const store::StageRecord*> peakOf;
  std::map<std::string, double> secondsOf;
  std::vector<std::string> order;
  for (std::size_t i = from; i < records.size(); ++i) {
    const auto& r = records[i];
    if (!secondsOf.count(r.stage)) order.push_back(r.stage);
    secondsOf[r.stage] += r.seconds;
    auto& best = peakOf[r.stage];
    if (!best || r.peakTensorBytes > best->peakTensorBytes) best = &r;
  }
  for (const auto& name : order) {
    const auto& r = *peakOf[name];
    const std::string prefix = "memory/" + name + "/";
    const std::int64_t peak = r.peakTensorBytes - base;
    std::int64_t tagged = 0;
    out.push_back({"time/" + name + "/seconds", secondsOf[name], 0, "runner-1"});
    out.push_back({prefix + "peak_bytes", static_cast<double>(peak), 0, "runner-1"});
    out.push_back({prefix + "weights_bytes", static_cast<double>(weightBytes), 0, "runner-1"});
    for (const auto& [category, bytes] : r.peakByCategory) {
      out.push_back({prefix + category + "_bytes", static_cast<double>(bytes), 0, "runner-1"});
      tagged += bytes;
    }
    out.push_back({prefix + "other_bytes", static_cast<double>(peak - weightBytes - tagged), 0, "runner-1"});
  }
  return out;
}

}  // namespace

fs::path singleRunDir(const std::string& root, const std::string& runId) {
  return fs::path(root) / timeString("%Y-%m-%d") / (timeString("%H-%M-%S") + "-" + runId.substr(0, 8));
}

Runner::Runner(const Registries& registries, store::RunStore& store, RunnerSettings settings)
    : registries_(registries), store_(store), settings_(std::move(settings)) {}

RunOutcome Runner::run(const Job& job, const fs::path& requestedDir, const std::string& sweepId) {
  RunOutcome outcome;
  outcome.runId = newRunId();
  const fs::path outputDir = requestedDir.empty() ? singleRunDir(job.options.output_root, outcome.runId) : requestedDir;
  outcome.outputDir = outputDir;

  // Output directory first: a run whose config cannot be saved does not start (Hydra's order).
  fs::create_directories(outputDir.parent_path());
  std::error_code ec;
  PL_CHECK(fs::create_directory(outputDir, ec) && !ec,
           "run directory '{}' already exists or cannot be created{}: each run needs its own directory",
           outputDir.string(), ec ? " (" + ec.message() + ")" : "");
  fs::create_directories(outputDir / ".hydra");
  writeYaml(outputDir / ".hydra" / "config.yaml", job.composition.config);
  writeYaml(outputDir / ".hydra" / "resolved.yaml", job.normalized);
  YAML::Node overrides(YAML::NodeType::Sequence);
  for (const auto& o : job.composition.overrides) overrides.push_back(o);
  writeYaml(outputDir / ".hydra" / "overrides.yaml", overrides);
  setLogFile(outputDir / "run.log");

  // The manifest: what was asked and what it runs on.
  const RunOptions& opt = job.options;
  torch::manual_seed(static_cast<std::uint64_t>(opt.seed));
  if (opt.threads > 0) at::set_num_threads(opt.threads);
  if (opt.interop_threads > 0) {
    try {
      at::set_num_interop_threads(opt.interop_threads);
    } catch (const std::exception&) {
      logWarn("inter-op threads can only be set once per process; keeping {}", at::get_num_interop_threads());
    }
  }
  at::globalContext().setDeterministicAlgorithms(opt.deterministic, /*warn_only=*/true);

  store::RunManifest m;
  m.id = outcome.runId;
  m.experiment = opt.name;
  m.sweepId = sweepId;
  m.jobNum = job.jobNum;
  m.configJson = yamlToJsonText(job.normalized);
  m.configHash = job.configHash;
  m.overridesJson = nlohmann::json(job.composition.overrides).dump();
  m.choicesJson = nlohmann::json(job.composition.choices).dump();
  m.seed = opt.seed;
  const GitInfo git = readGitInfo(settings_.sourceDir);
  m.gitCommit = git.commit;
  m.gitDirty = git.dirty;
  m.gitDiffSha256 = git.diffSha256;
  m.binarySha256 = binarySha256();
  m.envJson = environmentJson();
  m.hwJson = hardwareJson();
  m.host = hostName();
  m.pid = getpid();
  m.outputDir = fs::absolute(outputDir).string();
  YAML::Node params = config::clone(job.normalized);
  params.remove("hydra");
  m.params = config::flatten(params);
  store_.beginRun(m);
  logInfo("run {} started: {} (job {}), config {}", outcome.runId.substr(0, 8), opt.name, job.jobNum,
          job.configHash.substr(0, 12));

  Heartbeat heartbeat(settings_.storePath, outcome.runId);
  try {
    profile::Profiler profiler;
    profiler.onRecord([&](const store::StageRecord& s) { store_.putStage(outcome.runId, s); });
    const OriginMap* origins = &job.composition.origins;
    const YAML::Node& cfg = job.resolved;

    auto data = registries_.datasets.create(cfg["dataset"], "dataset", origins);
    auto model = registries_.models.create(cfg["model"], "model", origins);
    auto pruner = registries_.pruners.create(cfg["pruner"], "pruner", origins);
    // Before any training: a pruner that cannot work on this model says so now.
    pruner->checkModel(*model);
    std::vector<std::pair<std::string, std::unique_ptr<Evaluator>>> evaluators;
    if (cfg["eval"] && cfg["eval"].IsMap()) {
      for (auto it = cfg["eval"].begin(); it != cfg["eval"].end(); ++it) {
        const auto name = it->first.as<std::string>();
        evaluators.emplace_back(name, registries_.evaluators.create(it->second, "eval." + name, origins));
      }
    }

    {
      auto stage = profiler.stage("load");
      data->prepare();
      model::ModelContext mctx;
      mctx.data = data.get();
      mctx.cacheDir = opt.cache_dir;
      mctx.seed = opt.seed;
      mctx.logMetric = [&](const std::string& key, double value, std::int64_t step) {
        store_.putMetrics(outcome.runId, {{key, value, step, "train"}});
      };
      model->prepare(mctx);
      torch::manual_seed(static_cast<std::uint64_t>(opt.seed));  // training must not shift later RNG use
    }
    store_.putTags(outcome.runId, {{"dataset.fingerprint", data->fingerprint()}, {"model.weights", model->weightsId()}});

    std::int64_t weightBytes = 0;
    for (const auto& p : model->module().parameters())
      weightBytes += p.numel() * static_cast<std::int64_t>(p.element_size());
    prune::PruneResult pruned;
    const std::size_t firstPruneStage = profiler.records().size();
    {
      auto stage = profiler.stage("prune");
      prune::PruneContext pctx{*model, *data, profiler, opt.seed, outputDir};
      pruned = pruner->prune(pctx);
    }
    store_.putLayers(outcome.runId, pruned.layers);
    for (auto& m : stageMetrics(profiler.records(), firstPruneStage, weightBytes)) pruned.metrics.push_back(m);
    if (opt.save_masks || opt.save_checkpoint) {
      auto stage = profiler.stage("save");
      saveRunTensors(*model, pruned.layers, outputDir, opt, {{"run_id", outcome.runId}, {"config_hash", job.configHash}});
    }
    {
      // Overall achieved sparsity of the pruned matrices, weighted by size: the x-axis of most tables.
      // Also per modality (prune/targets/<modality>/...), where the allocating methods differ.
      double zeros = 0, total = 0;
      std::map<std::string, std::pair<double, double>> byModality;
      for (const auto& l : pruned.layers) {
        zeros += l.achievedSparsity * static_cast<double>(l.numel);
        total += static_cast<double>(l.numel);
        auto& m = byModality[l.modality.empty() ? std::string("other") : l.modality];
        m.first += l.achievedSparsity * static_cast<double>(l.numel);
        m.second += static_cast<double>(l.numel);
      }
      if (total > 0) pruned.metrics.push_back({"prune/targets/all/achieved_sparsity", zeros / total, 0, "runner-1"});
      for (const auto& [modality, zt] : byModality)
        if (zt.second > 0)
          pruned.metrics.push_back(
              {"prune/targets/" + modality + "/achieved_sparsity", zt.first / zt.second, 0, "runner-1"});
      // Model size and non-zeros after pruning (design.md §7).
      std::int64_t params = 0, nonzero = 0, bytes = 0;
      torch::NoGradGuard noGrad;
      for (const auto& p : model->module().parameters()) {
        params += p.numel();
        nonzero += p.count_nonzero().item<std::int64_t>();
        bytes += p.numel() * static_cast<std::int64_t>(p.element_size());
      }
      pruned.metrics.push_back({"model/all/all/params", static_cast<double>(params), 0, "runner-1"});
      pruned.metrics.push_back({"model/all/all/nonzero", static_cast<double>(nonzero), 0, "runner-1"});
      pruned.metrics.push_back({"model/all/all/bytes", static_cast<double>(bytes), 0, "runner-1"});
    }
    if (!pruned.metrics.empty()) store_.putMetrics(outcome.runId, pruned.metrics);

    for (auto& [name, evaluator] : evaluators) {
      auto stage = profiler.stage("evaluate:" + name);
      EvalContext ectx{*model, *data, opt.seed, outputDir};
      auto metrics = evaluator->evaluate(ectx);
      for (auto& metric : metrics) metric.version = evaluator->version();
      store_.putMetrics(outcome.runId, metrics);
      for (const auto& metric : metrics) logInfo("{} = {:.4f}", metric.key, metric.value);
    }
    outcome.status = store::RunStatus::Finished;
  } catch (const Interrupted& e) {
    outcome.status = store::RunStatus::Killed;
    outcome.error = e.what();
  } catch (const std::exception& e) {
    outcome.status = store::RunStatus::Failed;
    outcome.error = e.what();
  }
  store_.finishRun(outcome.runId, outcome.status, outcome.error);
  if (outcome.status == store::RunStatus::Finished) {
    logInfo("run {} FINISHED ({})", outcome.runId.substr(0, 8), outputDir.string());
  } else {
    logError("run {} {}: {}", outcome.runId.substr(0, 8), store::toString(outcome.status), outcome.error);
  }
  setLogFile({});
  return outcome;
}

int runCommand(const config::Composer& composer, const std::vector<std::string>& overrides, bool multirun,
               const Registries& registries, const RunnerSettings& settings) {
  // 1. The job list.
  std::vector<std::vector<std::string>> jobOverrides;
  if (multirun) {
    // Sweep params declared in the config come first; the command line wins for the same key.
    std::vector<std::string> plain;
    for (const auto& o : overrides)
      if (!isSweepOverride(o)) plain.push_back(o);
    const auto base = composer.compose(plain);
    std::vector<std::string> all;
    for (const auto& p : configSweepParams(base.config)) {
      bool onCli = false;
      for (const auto& o : overrides) onCli = onCli || overrideKey(o) == overrideKey(p);
      if (!onCli) all.push_back(p);
    }
    all.insert(all.end(), overrides.begin(), overrides.end());
    // Extra jobs first (the command line's single values apply to them too), then the grid.
    for (auto extra : configSweepExtras(base.config)) {
      std::vector<std::string> job;
      for (const auto& o : plain) {
        bool replaced = false;
        for (const auto& e : extra) replaced = replaced || overrideKey(e) == overrideKey(o);
        if (!replaced) job.push_back(o);
      }
      job.insert(job.end(), extra.begin(), extra.end());
      jobOverrides.push_back(std::move(job));
    }
    for (auto& job : config::expandSweep(all)) jobOverrides.push_back(std::move(job));
  } else {
    for (const auto& o : overrides) {
      PL_CHECK(!isSweepOverride(o), "'{}' is a sweep: add -m to run one job per value (prunelab run -m ...)", o);
    }
    jobOverrides = {overrides};
  }

  // 2. Compose and validate every job before the first one runs.
  std::vector<Job> jobs;
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < jobOverrides.size(); ++i) {
    try {
      jobs.push_back(prepareJob(composer, jobOverrides[i], registries));
      jobs.back().jobNum = multirun ? static_cast<int>(i) : -1;
    } catch (const Error& e) {
      errors.push_back(multirun ? fmt::format("job {} ({}): {}", i, fmt::join(jobOverrides[i], " "), e.what())
                                : std::string(e.what()));
    }
  }
  if (!errors.empty()) {
    for (const auto& e : errors) logError("{}", e);
    logError("invalid config: nothing was run{}", multirun ? fmt::format(" ({} of {} jobs invalid)", errors.size(),
                                                                         jobOverrides.size())
                                                           : "");
    return 2;
  }

  // 3. Run.
  store::RunStore store(settings.storePath);
  Runner runner(registries, store, settings);
  installInterruptHandlers();
  std::string sweepId;
  fs::path sweepDir;
  if (multirun) {
    sweepId = newRunId();
    sweepDir = fs::path(jobs.front().options.output_root) / "multirun" / timeString("%Y-%m-%d") /
               (timeString("%H-%M-%S") + "-" + sweepId.substr(0, 8));
    fs::create_directories(sweepDir);
    YAML::Node sweep;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      YAML::Node entry;
      entry["job"] = static_cast<int>(i);
      for (const auto& o : jobOverrides[i]) entry["overrides"].push_back(o);
      entry["config_hash"] = jobs[i].configHash;
      sweep["jobs"].push_back(entry);
    }
    writeYaml(sweepDir / "multirun.yaml", sweep);
    store.createSweep(sweepId, nlohmann::json(settings.argv).dump(), static_cast<int>(jobs.size()),
                      fs::absolute(sweepDir).string());
    logInfo("sweep {}: {} jobs -> {}", sweepId.substr(0, 8), jobs.size(), sweepDir.string());
  }

  int failed = 0, finished = 0, skipped = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const Job& job = jobs[i];
    if (settings.resume && store.hasFinished(job.configHash)) {
      ++skipped;
      logInfo("job {}: config {} already FINISHED, skipped (--resume)", i, job.configHash.substr(0, 12));
      continue;
    }
    RunOutcome outcome;
    try {
      const fs::path dir = multirun ? sweepDir / std::to_string(i) : fs::path();
      outcome = runner.run(job, dir, sweepId);
    } catch (const std::exception& e) {  // could not even start (e.g. output dir)
      logError("job {} could not start: {}", i, e.what());
      ++failed;
      continue;
    }
    if (outcome.status == store::RunStatus::Finished) ++finished;
    if (outcome.status == store::RunStatus::Failed) ++failed;
    if (outcome.status == store::RunStatus::Killed) {
      logError("interrupted: {} of {} jobs not started", jobs.size() - i - 1, jobs.size());
      return pendingInterrupt() == SIGINT ? 130 : 143;
    }
  }
  if (multirun || skipped > 0)
    logInfo("{} jobs: {} finished, {} failed, {} skipped", jobs.size(), finished, failed, skipped);
  return failed > 0 ? 1 : 0;
}

}  // namespace prunelab::run
