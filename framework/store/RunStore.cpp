#include "framework/store/RunStore.h"

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>

#include <SQLiteCpp/SQLiteCpp.h>

#include "framework/core/Error.h"

namespace prunelab::store {

namespace {

// Migration i brings the schema from user_version i to i+1. Append, never edit, so that old
// stores upgrade in place.
const std::vector<std::function<void(SQLite::Database&)>>& migrations() {
  static const std::vector<std::function<void(SQLite::Database&)>> kMigrations = {
      [](SQLite::Database& db) {
        db.exec(R"SQL(
CREATE TABLE sweeps(id TEXT PRIMARY KEY, argv_json TEXT NOT NULL, n_jobs INTEGER NOT NULL,
  output_dir TEXT, created_ms INTEGER NOT NULL) STRICT;
CREATE TABLE runs(id TEXT PRIMARY KEY, experiment TEXT NOT NULL,
  sweep_id TEXT REFERENCES sweeps, job_num INTEGER,
  status TEXT NOT NULL CHECK(status IN('RUNNING','FINISHED','FAILED','KILLED')),
  config_json TEXT NOT NULL, config_hash TEXT NOT NULL, overrides_json TEXT NOT NULL, choices_json TEXT NOT NULL,
  seed INTEGER NOT NULL, git_commit TEXT, git_dirty INTEGER, git_diff_sha256 TEXT, binary_sha256 TEXT,
  env_json TEXT NOT NULL, hw_json TEXT NOT NULL, host TEXT, pid INTEGER, output_dir TEXT,
  start_ms INTEGER, heartbeat_ms INTEGER, end_ms INTEGER, error TEXT) STRICT;
CREATE INDEX runs_hash ON runs(config_hash, status);
CREATE TABLE params(run_id TEXT NOT NULL REFERENCES runs, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY(run_id, key)) STRICT;
CREATE INDEX params_key ON params(key, value);
CREATE TABLE metrics(run_id TEXT NOT NULL REFERENCES runs, key TEXT NOT NULL, value REAL,
  step INTEGER NOT NULL DEFAULT 0, version TEXT, ts_ms INTEGER NOT NULL, PRIMARY KEY(run_id, key, step)) STRICT;
CREATE TABLE tags(run_id TEXT NOT NULL REFERENCES runs, key TEXT NOT NULL, value TEXT,
  PRIMARY KEY(run_id, key)) STRICT;
CREATE TABLE stages(run_id TEXT NOT NULL REFERENCES runs, stage TEXT NOT NULL, status TEXT NOT NULL,
  seconds REAL NOT NULL, tensor_bytes_start INTEGER, peak_tensor_bytes INTEGER, peak_rss_bytes INTEGER,
  peak_cuda_bytes INTEGER, start_ms INTEGER, end_ms INTEGER, PRIMARY KEY(run_id, stage)) STRICT;
CREATE TABLE layers(run_id TEXT NOT NULL REFERENCES runs, name TEXT NOT NULL, modality TEXT,
  numel INTEGER NOT NULL, target_sparsity REAL, achieved_sparsity REAL, mask_sha256 TEXT,
  PRIMARY KEY(run_id, name)) STRICT;
)SQL");
      },
  };
  return kMigrations;
}

double fromNullable(const SQLite::Column& c) {
  return c.isNull() ? std::numeric_limits<double>::quiet_NaN() : c.getDouble();
}

}  // namespace

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string toString(RunStatus s) {
  switch (s) {
    case RunStatus::Running: return "RUNNING";
    case RunStatus::Finished: return "FINISHED";
    case RunStatus::Failed: return "FAILED";
    case RunStatus::Killed: return "KILLED";
  }
  return "?";
}

RunStatus runStatusFromString(const std::string& s) {
  if (s == "RUNNING") return RunStatus::Running;
  if (s == "FINISHED") return RunStatus::Finished;
  if (s == "FAILED") return RunStatus::Failed;
  if (s == "KILLED") return RunStatus::Killed;
  PL_THROW("unknown run status '{}': use RUNNING, FINISHED, FAILED or KILLED", s);
}

RunStore::RunStore(const std::string& path) : path_(path) {
  if (path != ":memory:") {
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
  }
  try {
    db_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db_->setBusyTimeout(30000);
    if (path != ":memory:") db_->exec("PRAGMA journal_mode=WAL");
    db_->exec("PRAGMA foreign_keys=ON");
    db_->exec("PRAGMA synchronous=NORMAL");
    migrate();
  } catch (const SQLite::Exception& e) {
    PL_THROW("cannot open run store '{}': {}. Check the path (--store PATH) and that it is a prunelab SQLite file",
             path, e.what());
  }
}

RunStore::~RunStore() = default;

SQLite::Database& RunStore::db() { return *db_; }

void RunStore::migrate() {
  // BEGIN IMMEDIATE takes the write lock first, so two processes opening a new store at once do
  // not both try to create the schema.
  SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  int version = db_->execAndGet("PRAGMA user_version").getInt();
  PL_CHECK(version <= kSchemaVersion,
           "run store '{}' has schema version {}, newer than this prunelab ({}): use a newer prunelab or another "
           "--store",
           path_, version, kSchemaVersion);
  const auto& steps = migrations();
  for (int v = version; v < kSchemaVersion; ++v) steps[static_cast<std::size_t>(v)](*db_);
  if (version != kSchemaVersion) db_->exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
  tx.commit();
}

void RunStore::createSweep(const std::string& id, const std::string& argvJson, int numJobs,
                           const std::string& outputDir) {
  SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement st(*db_, "INSERT INTO sweeps(id, argv_json, n_jobs, output_dir, created_ms) VALUES(?,?,?,?,?)");
  st.bind(1, id);
  st.bind(2, argvJson);
  st.bind(3, numJobs);
  st.bind(4, outputDir);
  st.bind(5, static_cast<std::int64_t>(nowMs()));
  st.exec();
  tx.commit();
}

void RunStore::beginRun(const RunManifest& m) {
  SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement st(*db_, R"SQL(INSERT INTO runs(id, experiment, sweep_id, job_num, status, config_json,
    config_hash, overrides_json, choices_json, seed, git_commit, git_dirty, git_diff_sha256, binary_sha256,
    env_json, hw_json, host, pid, output_dir, start_ms, heartbeat_ms)
    VALUES(?,?,?,?,'RUNNING',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?))SQL");
  const std::int64_t now = nowMs();
  int i = 1;
  st.bind(i++, m.id);
  st.bind(i++, m.experiment);
  if (m.sweepId.empty()) st.bind(i++); else st.bind(i++, m.sweepId);
  if (m.jobNum < 0) st.bind(i++); else st.bind(i++, m.jobNum);
  st.bind(i++, m.configJson);
  st.bind(i++, m.configHash);
  st.bind(i++, m.overridesJson);
  st.bind(i++, m.choicesJson);
  st.bind(i++, static_cast<std::int64_t>(m.seed));
  st.bind(i++, m.gitCommit);
  if (m.gitDirty < 0) st.bind(i++); else st.bind(i++, m.gitDirty);
  st.bind(i++, m.gitDiffSha256);
  st.bind(i++, m.binarySha256);
  st.bind(i++, m.envJson);
  st.bind(i++, m.hwJson);
  st.bind(i++, m.host);
  st.bind(i++, static_cast<std::int64_t>(m.pid));
  st.bind(i++, m.outputDir);
  st.bind(i++, now);
  st.bind(i++, now);
  st.exec();
  SQLite::Statement p(*db_, "INSERT INTO params(run_id, key, value) VALUES(?,?,?)");
  for (const auto& [k, v] : m.params) {
    p.bind(1, m.id);
    p.bind(2, k);
    p.bind(3, v);
    p.exec();
    p.reset();
  }
  SQLite::Statement t(*db_, "INSERT OR REPLACE INTO tags(run_id, key, value) VALUES(?,?,?)");
  for (const auto& [k, v] : m.tags) {
    t.bind(1, m.id);
    t.bind(2, k);
    t.bind(3, v);
    t.exec();
    t.reset();
  }
  tx.commit();
}

void RunStore::heartbeat(const std::string& runId) {
  SQLite::Statement st(*db_, "UPDATE runs SET heartbeat_ms=? WHERE id=?");
  st.bind(1, static_cast<std::int64_t>(nowMs()));
  st.bind(2, runId);
  st.exec();
}

void RunStore::putMetrics(const std::string& runId, const std::vector<MetricRecord>& metrics) {
  SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement st(*db_,
                       "INSERT OR REPLACE INTO metrics(run_id, key, value, step, version, ts_ms) VALUES(?,?,?,?,?,?)");
  const std::int64_t now = nowMs();
  for (const auto& m : metrics) {
    st.bind(1, runId);
    st.bind(2, m.key);
    if (std::isnan(m.value)) {
      st.bind(3);
    } else {
      // SQLite REAL holds inf, but JSON exports and some readers do not: clamp as MLflow does.
      st.bind(3, std::isinf(m.value) ? std::copysign(1.797e308, m.value) : m.value);
    }
    st.bind(4, static_cast<std::int64_t>(m.step));
    st.bind(5, m.version);
    st.bind(6, now);
    st.exec();
    st.reset();
  }
  tx.commit();
}

void RunStore::putStage(const std::string& runId, const StageRecord& s) {
  SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement st(*db_, R"SQL(INSERT OR REPLACE INTO stages(run_id, stage, status, seconds, tensor_bytes_start,
    peak_tensor_bytes, peak_rss_bytes, peak_cuda_bytes, start_ms, end_ms) VALUES(?,?,?,?,?,?,?,?,?,?))SQL");
  st.bind(1, runId);
  st.bind(2, s.stage);
  st.bind(3, s.status);
  st.bind(4, s.seconds);
  st.bind(5, static_cast<std::int64_t>(s.tensorBytesStart));
  st.bind(6, static_cast<std::int64_t>(s.peakTensorBytes));
  if (s.peakRssBytes < 0) st.bind(7); else st.bind(7, static_cast<std::int64_t>(s.peakRssBytes));
  if (s.peakCudaBytes < 0) st.bind(8); else st.bind(8, static_cast<std::int64_t>(s.peakCudaBytes));
  st.bind(9, static_cast<std::int64_t>(s.startMs));
  st.bind(10, static_cast<std::int64_t>(s.endMs));
  st.exec();
  tx.commit();
}

void RunStore::putLayers(const std::string& runId, const std::vector<LayerRecord>& layers) {
  SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement st(*db_, R"SQL(INSERT OR REPLACE INTO layers(run_id, name, modality, numel, target_sparsity,
    achieved_sparsity, mask_sha256) VALUES(?,?,?,?,?,?,?))SQL");
  for (const auto& l : layers) {
    st.bind(1, runId);
    st.bind(2, l.name);
    st.bind(3, l.modality);
    st.bind(4, static_cast<std::int64_t>(l.numel));
    st.bind(5, l.targetSparsity);
    st.bind(6, l.achievedSparsity);
    st.bind(7, l.maskSha256);
    st.exec();
    st.reset();
  }
  tx.commit();
}

void RunStore::putTags(const std::string& runId, const std::map<std::string, std::string>& tags) {
  SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement st(*db_, "INSERT OR REPLACE INTO tags(run_id, key, value) VALUES(?,?,?)");
  for (const auto& [k, v] : tags) {
    st.bind(1, runId);
    st.bind(2, k);
    st.bind(3, v);
    st.exec();
    st.reset();
  }
  tx.commit();
}

void RunStore::finishRun(const std::string& runId, RunStatus status, const std::string& error) {
  SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement st(*db_, "UPDATE runs SET status=?, end_ms=?, heartbeat_ms=?, error=? WHERE id=?");
  const std::int64_t now = nowMs();
  st.bind(1, toString(status));
  st.bind(2, now);
  st.bind(3, now);
  if (error.empty()) st.bind(4); else st.bind(4, error);
  st.bind(5, runId);
  PL_CHECK(st.exec() == 1, "cannot finish run '{}': it is not in store '{}'", runId, path_);
  tx.commit();
}

bool RunStore::hasFinished(const std::string& configHash) {
  SQLite::Statement st(*db_, "SELECT 1 FROM runs WHERE config_hash=? AND status='FINISHED' LIMIT 1");
  st.bind(1, configHash);
  return st.executeStep();
}

namespace {
RunRow readRunRow(SQLite::Statement& st) {
  RunRow r;
  r.id = st.getColumn(0).getString();
  r.experiment = st.getColumn(1).getString();
  r.sweepId = st.getColumn(2).getString();
  r.jobNum = st.getColumn(3).isNull() ? -1 : st.getColumn(3).getInt();
  r.status = st.getColumn(4).getString();
  r.configHash = st.getColumn(5).getString();
  r.overridesJson = st.getColumn(6).getString();
  r.seed = st.getColumn(7).getInt64();
  r.startMs = st.getColumn(8).getInt64();
  r.endMs = st.getColumn(9).getInt64();
  r.heartbeatMs = st.getColumn(10).getInt64();
  r.error = st.getColumn(11).getString();
  r.outputDir = st.getColumn(12).getString();
  r.gitCommit = st.getColumn(13).getString();
  return r;
}
constexpr const char* kRunColumns =
    "r.id, r.experiment, r.sweep_id, r.job_num, r.status, r.config_hash, r.overrides_json, r.seed, r.start_ms, "
    "r.end_ms, r.heartbeat_ms, r.error, r.output_dir, r.git_commit";
}  // namespace

std::vector<RunRow> RunStore::listRuns(const RunFilter& f) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs r WHERE 1=1";
  std::vector<std::string> binds;
  if (!f.status.empty()) {
    sql += " AND r.status=?";
    binds.push_back(f.status);
  }
  if (!f.experiment.empty()) {
    sql += " AND r.experiment=?";
    binds.push_back(f.experiment);
  }
  if (!f.sweepId.empty()) {
    sql += " AND r.sweep_id LIKE ?";
    binds.push_back(f.sweepId + "%");
  }
  for (const auto& [k, v] : f.params) {
    sql += " AND EXISTS(SELECT 1 FROM params p WHERE p.run_id=r.id AND p.key=? AND p.value=?)";
    binds.push_back(k);
    binds.push_back(v);
  }
  sql += " ORDER BY r.start_ms DESC, r.rowid DESC";
  if (f.limit > 0) sql += " LIMIT " + std::to_string(f.limit);
  SQLite::Statement st(*db_, sql);
  for (std::size_t i = 0; i < binds.size(); ++i) st.bind(static_cast<int>(i + 1), binds[i]);
  std::vector<RunRow> out;
  while (st.executeStep()) out.push_back(readRunRow(st));
  return out;
}

std::optional<RunRow> RunStore::findRun(const std::string& idOrPrefix) {
  SQLite::Statement st(*db_, std::string("SELECT ") + kRunColumns + " FROM runs r WHERE r.id LIKE ? LIMIT 2");
  st.bind(1, idOrPrefix + "%");
  std::optional<RunRow> found;
  while (st.executeStep()) {
    PL_CHECK(!found, "run id prefix '{}' is ambiguous: give more characters", idOrPrefix);
    found = readRunRow(st);
  }
  return found;
}

std::map<std::string, double> RunStore::metrics(const std::string& runId) {
  SQLite::Statement st(*db_, "SELECT key, value FROM metrics WHERE run_id=? ORDER BY step");
  st.bind(1, runId);
  std::map<std::string, double> out;
  while (st.executeStep()) out[st.getColumn(0).getString()] = fromNullable(st.getColumn(1));
  return out;
}

std::map<std::string, std::string> RunStore::params(const std::string& runId) {
  SQLite::Statement st(*db_, "SELECT key, value FROM params WHERE run_id=?");
  st.bind(1, runId);
  std::map<std::string, std::string> out;
  while (st.executeStep()) out[st.getColumn(0).getString()] = st.getColumn(1).getString();
  return out;
}

std::vector<StageRecord> RunStore::stages(const std::string& runId) {
  SQLite::Statement st(*db_, R"SQL(SELECT stage, status, seconds, tensor_bytes_start, peak_tensor_bytes,
    peak_rss_bytes, peak_cuda_bytes, start_ms, end_ms FROM stages WHERE run_id=? ORDER BY start_ms, rowid)SQL");
  st.bind(1, runId);
  std::vector<StageRecord> out;
  while (st.executeStep()) {
    StageRecord s;
    s.stage = st.getColumn(0).getString();
    s.status = st.getColumn(1).getString();
    s.seconds = st.getColumn(2).getDouble();
    s.tensorBytesStart = st.getColumn(3).getInt64();
    s.peakTensorBytes = st.getColumn(4).getInt64();
    s.peakRssBytes = st.getColumn(5).isNull() ? -1 : st.getColumn(5).getInt64();
    s.peakCudaBytes = st.getColumn(6).isNull() ? -1 : st.getColumn(6).getInt64();
    s.startMs = st.getColumn(7).getInt64();
    s.endMs = st.getColumn(8).getInt64();
    out.push_back(s);
  }
  return out;
}

std::vector<LayerRecord> RunStore::layers(const std::string& runId) {
  SQLite::Statement st(*db_, R"SQL(SELECT name, modality, numel, target_sparsity, achieved_sparsity, mask_sha256
    FROM layers WHERE run_id=? ORDER BY name)SQL");
  st.bind(1, runId);
  std::vector<LayerRecord> out;
  while (st.executeStep()) {
    LayerRecord l;
    l.name = st.getColumn(0).getString();
    l.modality = st.getColumn(1).getString();
    l.numel = st.getColumn(2).getInt64();
    l.targetSparsity = st.getColumn(3).getDouble();
    l.achievedSparsity = st.getColumn(4).getDouble();
    l.maskSha256 = st.getColumn(5).getString();
    out.push_back(l);
  }
  return out;
}

std::string RunStore::integrityCheck() { return db_->execAndGet("PRAGMA integrity_check").getString(); }

}  // namespace prunelab::store
