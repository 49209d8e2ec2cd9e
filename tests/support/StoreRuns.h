#pragma once

#include <map>
#include <string>
#include <vector>

#include "framework/store/RunStore.h"

namespace prunelab::testing {

/// Puts a hand-made FINISHED run into `store` for the table and plot tests: run id and config
/// hash from `number` (every run its own config), experiment "t", the config group pruner =
/// `method`, params pruner.sparsity and seed (plus `extraParams`), then `metrics` and `layers`.
void addFinishedRun(store::RunStore& store, int number, const std::string& method, double sparsity, int seed,
                    const std::map<std::string, double>& metrics,
                    const std::map<std::string, std::string>& extraParams = {},
                    const std::vector<store::LayerRecord>& layers = {});

}  // namespace prunelab::testing
