#include "tests/support/StoreRuns.h"

#include <fmt/format.h>

namespace prunelab::testing {

void addFinishedRun(store::RunStore& store, int number, const std::string& method, double sparsity, int seed,
                    const std::map<std::string, double>& metrics, const std::map<std::string, std::string>& extraParams,
                    const std::vector<store::LayerRecord>& layers) {
  store::RunManifest m;
  m.id = fmt::format("{:032d}", number);
  m.experiment = "t";
  m.configHash = m.id;
  m.configJson = "{}";
  m.overridesJson = "[]";
  m.choicesJson = fmt::format("{{\"pruner\": \"{}\"}}", method);
  m.seed = seed;
  m.envJson = "{}";
  m.hwJson = "{}";
  m.params = {{"pruner.sparsity", fmt::format("{}", sparsity)}, {"seed", std::to_string(seed)}};
  m.params.insert(extraParams.begin(), extraParams.end());
  store.beginRun(m);
  std::vector<store::MetricRecord> records;
  for (const auto& [k, v] : metrics) records.push_back({k, v, 0, "test"});
  store.putMetrics(m.id, records);
  if (!layers.empty()) store.putLayers(m.id, layers);
  store.finishRun(m.id, store::RunStatus::Finished);
}

}  // namespace prunelab::testing
