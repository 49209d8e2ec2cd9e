#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "framework/store/RunStore.h"

namespace prunelab::results {

/// Renders a table spec from the store (the minimal generator of the foundation; issue 7 grows it).
///
///   title: Magnitude pruning of an MLP on Fashion-MNIST
///   runs: {name: quickstart}                 # filters: name, status (default FINISHED), params
///   rows: pruner.sparsity                    # a params key; one row per value (numeric order)
///   columns:
///     - {label: layer-wise, metric: cls/fashion_mnist/test/acc, where: {pruner.allocation: uniform}}
///   digits: 2
///
/// Only the newest FINISHED run per config hash counts; runs differing in other keys (e.g. seed)
/// are aggregated as mean ± std with the count shown. Missing cells print as "—", never 0.
/// Same store, same spec -> byte-identical output. Unknown spec keys are errors.
std::string renderTable(store::RunStore& store, const YAML::Node& spec, const std::string& format = "md");

/// Loads a spec file and renders it.
std::string renderTableFile(store::RunStore& store, const std::string& specPath, const std::string& format = "md");

}  // namespace prunelab::results
