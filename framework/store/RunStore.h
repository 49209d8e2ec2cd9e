#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace SQLite {
class Database;
}

namespace prunelab::store {

/// Run lifecycle states (spec-conventions-metrics.md §2.5).
enum class RunStatus { Running, Finished, Failed, Killed };
std::string toString(RunStatus s);
RunStatus runStatusFromString(const std::string& s);

/// Everything recorded when a run starts: what was asked, and what it ran on.
struct RunManifest {
  std::string id;            ///< 32 hex chars, unique
  std::string experiment;    ///< experiment name (config `name`)
  std::string sweepId;       ///< empty for a single run
  int jobNum = -1;           ///< 0-based job number in the sweep, -1 for a single run
  std::string configJson;    ///< resolved config, JSON
  std::string configHash;    ///< sha256 of the sorted-key JSON
  std::string overridesJson; ///< the overrides of this job, JSON list
  std::string choicesJson;   ///< group choices, JSON object
  std::int64_t seed = 0;
  std::string gitCommit;
  int gitDirty = -1;         ///< 1 dirty, 0 clean, -1 unknown
  std::string gitDiffSha256;
  std::string binarySha256;
  std::string envJson;       ///< library versions, threads, build type, env vars
  std::string hwJson;        ///< device, CPU, memory
  std::string host;
  std::int64_t pid = 0;
  std::string outputDir;
  std::map<std::string, std::string> params;  ///< flattened config
  std::map<std::string, std::string> tags;
};

/// One metric value; NaN is stored as NULL. `version` is the evaluator version that produced it.
struct MetricRecord {
  std::string key;  ///< task/dataset/split/metric
  double value = 0;
  std::int64_t step = 0;
  std::string version;
};

/// Wall time and memory of one stage of a run (design.md §7).
struct StageRecord {
  std::string stage;
  std::string status = "FINISHED";
  double seconds = 0;
  std::int64_t tensorBytesStart = 0;  ///< live tensor bytes when the stage began
  std::int64_t peakTensorBytes = 0;   ///< peak live tensor bytes during the stage
  std::int64_t peakRssBytes = 0;      ///< peak resident set during the stage (-1 if unknown)
  std::int64_t peakCudaBytes = -1;    ///< CUDA caching allocator peak, -1 without CUDA
  std::int64_t startMs = 0, endMs = 0;
  /// Live tensor bytes per tagged category (activations, gradients, scores, statistics) at the
  /// moment of the peak; untagged bytes are the rest. Not a column of the stages table: the Runner
  /// stores the pruning stages' split as memory/<stage>/... metrics.
  std::map<std::string, std::int64_t> peakByCategory;
};

/// Per pruned matrix: what was asked and what was achieved.
struct LayerRecord {
  std::string name;      ///< canonical dotted name
  std::string modality;  ///< vision, language, ...
  std::int64_t numel = 0;
  double targetSparsity = 0;
  double achievedSparsity = 0;
  std::string maskSha256;  ///< hash of the kept/pruned pattern, for reproducibility checks
};

/// A row of the runs table, as listed by `prunelab runs`.
struct RunRow {
  std::string id, experiment, sweepId, status, configHash, overridesJson, error, outputDir, gitCommit;
  int jobNum = -1;
  std::int64_t seed = 0, startMs = 0, endMs = 0, heartbeatMs = 0;
};

/// Filters for listRuns; empty fields match everything.
struct RunFilter {
  std::string status;
  std::string experiment;
  std::string sweepId;
  std::map<std::string, std::string> params;  ///< key = value on flattened config
  int limit = 0;
};

/// The SQLite run store (WAL, busy timeout, a transaction per write, prepared statements,
/// schema versioned by PRAGMA user_version with migrations). One object per thread.
class RunStore {
 public:
  /// Opens or creates the store; ":memory:" gives a private in-memory store (tests).
  explicit RunStore(const std::string& path);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  static constexpr int kSchemaVersion = 1;
  /// Interval at which running jobs refresh heartbeat_ms; 3x this marks a RUNNING run stale.
  static constexpr std::int64_t kHeartbeatMs = 10000;

  /// Records a sweep (argv and job count) before its jobs run.
  void createSweep(const std::string& id, const std::string& argvJson, int numJobs, const std::string& outputDir);
  /// Inserts the run as RUNNING with its manifest and params, in one transaction.
  void beginRun(const RunManifest& manifest);
  /// Refreshes heartbeat_ms.
  void heartbeat(const std::string& runId);
  /// Stores metrics (replacing the same key/step).
  void putMetrics(const std::string& runId, const std::vector<MetricRecord>& metrics);
  /// Stores one stage record (replacing the same stage name).
  void putStage(const std::string& runId, const StageRecord& stage);
  /// Stores per-layer sparsity records.
  void putLayers(const std::string& runId, const std::vector<LayerRecord>& layers);
  /// Stores free-form tags (e.g. dataset fingerprint).
  void putTags(const std::string& runId, const std::map<std::string, std::string>& tags);
  /// Marks the run FINISHED/FAILED/KILLED with end time and error text.
  void finishRun(const std::string& runId, RunStatus status, const std::string& error = "");

  /// True when a FINISHED run with this config hash exists (--resume).
  bool hasFinished(const std::string& configHash);
  /// Runs matching the filter, newest first.
  std::vector<RunRow> listRuns(const RunFilter& filter = {});
  /// One run by id (or unique id prefix); nullopt if absent.
  std::optional<RunRow> findRun(const std::string& idOrPrefix);
  /// Metrics of a run: key -> value (NaN for NULL), latest step.
  std::map<std::string, double> metrics(const std::string& runId);
  /// Params of a run (flattened config).
  std::map<std::string, std::string> params(const std::string& runId);
  /// Stage records of a run, in start order.
  std::vector<StageRecord> stages(const std::string& runId);
  /// Layer records of a run, by name.
  std::vector<LayerRecord> layers(const std::string& runId);
  /// Result of PRAGMA integrity_check ("ok" when healthy).
  std::string integrityCheck();
  /// The underlying connection, for queries the store does not wrap (tables, tests).
  SQLite::Database& db();
  /// The file this store writes.
  const std::string& path() const { return path_; }

 private:
  void migrate();
  std::string path_;
  std::unique_ptr<SQLite::Database> db_;
};

/// Milliseconds since the Unix epoch.
std::int64_t nowMs();

}  // namespace prunelab::store
