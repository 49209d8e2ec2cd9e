#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>

#include "framework/core/Error.h"
#include "framework/store/RunStore.h"
#include "tests/support/Fixtures.h"

namespace prunelab::store {
namespace {

RunManifest manifest(const std::string& id, const std::string& hash) {
  RunManifest m;
  m.id = id;
  m.experiment = "exp";
  m.configJson = "{}";
  m.configHash = hash;
  m.overridesJson = "[]";
  m.choicesJson = "{}";
  m.envJson = "{}";
  m.hwJson = "{}";
  m.params = {{"pruner.sparsity", "0.5"}, {"seed", "1"}};
  return m;
}

TEST(RunStore, SchemaHasVersionAndTables) {
  RunStore s(":memory:");
  EXPECT_EQ(s.db().execAndGet("PRAGMA user_version").getInt(), RunStore::kSchemaVersion);
  for (const char* table : {"runs", "params", "metrics", "tags", "stages", "layers", "sweeps"}) {
    SQLite::Statement q(s.db(), "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?");
    q.bind(1, table);
    ASSERT_TRUE(q.executeStep());
    EXPECT_EQ(q.getColumn(0).getInt(), 1) << table;
  }
  EXPECT_EQ(s.integrityCheck(), "ok");
}

TEST(RunStore, RunLifecycleMetricsStagesLayers) {
  RunStore s(":memory:");
  s.beginRun(manifest("a1", "h1"));
  EXPECT_FALSE(s.hasFinished("h1"));
  s.putMetrics("a1", {{"cls/x/test/acc", 81.5, 0, "v1"}, {"cls/x/test/nan", std::nan(""), 0, "v1"}});
  s.putStage("a1", {"prune", "FINISHED", 1.5, 10, 300, 4096, -1, 1, 2});
  s.putLayers("a1", {{"vision.blocks.0.fc", "vision", 100, 0.5, 0.51, "abc"}});
  s.finishRun("a1", RunStatus::Finished);
  EXPECT_TRUE(s.hasFinished("h1"));
  auto m = s.metrics("a1");
  EXPECT_DOUBLE_EQ(m["cls/x/test/acc"], 81.5);
  EXPECT_TRUE(std::isnan(m["cls/x/test/nan"]));  // stored as NULL, read back as NaN
  auto st = s.stages("a1");
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].peakTensorBytes, 300);
  EXPECT_EQ(st[0].peakCudaBytes, -1);
  auto layers = s.layers("a1");
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_DOUBLE_EQ(layers[0].achievedSparsity, 0.51);
  EXPECT_EQ(s.params("a1").at("pruner.sparsity"), "0.5");
  auto runs = s.listRuns({"FINISHED", "", "", {{"pruner.sparsity", "0.5"}}, 0});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, "a1");
  EXPECT_TRUE(s.listRuns({"", "", "", {{"pruner.sparsity", "0.7"}}, 0}).empty());
}

TEST(RunStore, FailedRunKeepsErrorAndOtherRuns) {
  RunStore s(":memory:");
  s.beginRun(manifest("ok", "h1"));
  s.finishRun("ok", RunStatus::Finished);
  s.beginRun(manifest("bad", "h2"));
  s.finishRun("bad", RunStatus::Failed, "boom: fix it");
  auto bad = s.findRun("ba");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, "FAILED");
  EXPECT_EQ(bad->error, "boom: fix it");
  EXPECT_FALSE(s.hasFinished("h2"));
  EXPECT_TRUE(s.hasFinished("h1"));
  EXPECT_THROW(s.finishRun("missing", RunStatus::Failed), Error);
  // A duplicate run id is rejected without touching what is stored.
  EXPECT_ANY_THROW(s.beginRun(manifest("ok", "h3")));
  EXPECT_EQ(s.listRuns().size(), 2u);
}

TEST(RunStore, MigratesAnEmptyFileAndRefusesANewerSchema) {
  testing::TempDir dir;
  const auto path = (dir / "old.sqlite").string();
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version=0");
  }
  {
    RunStore s(path);
    EXPECT_EQ(s.db().execAndGet("PRAGMA user_version").getInt(), RunStore::kSchemaVersion);
  }
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version=99");
  }
  try {
    RunStore s(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this prunelab"), std::string::npos) << e.what();
  }
}

TEST(RunStore, ConcurrentWritersLoseNoRows) {
  testing::TempDir dir;
  const auto path = (dir / "shared.sqlite").string();
  constexpr int kPerWriter = 60;
  auto writer = [&](int w) {
    RunStore s(path);
    for (int i = 0; i < kPerWriter; ++i) {
      const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
      s.beginRun(manifest(id, id));
      s.putMetrics(id, {{"m", static_cast<double>(i), 0, ""}});
      s.finishRun(id, RunStatus::Finished);
    }
  };
  std::thread a(writer, 0), b(writer, 1), c(writer, 2);
  a.join();
  b.join();
  c.join();
  RunStore s(path);
  EXPECT_EQ(s.listRuns({"FINISHED", "", "", {}, 0}).size(), 3u * kPerWriter);
  EXPECT_EQ(s.db().execAndGet("SELECT count(*) FROM metrics").getInt(), 3 * kPerWriter);
  EXPECT_EQ(s.integrityCheck(), "ok");
}

}  // namespace
}  // namespace prunelab::store
