#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "framework/store/RunStore.h"

namespace prunelab::results {

/// Renders a table spec from the store (the minimal generator of the foundation; issue 7 grows it).
///
///   title: Magnitude pruning of an MLP on Fashion-MNIST
///   runs: {name: quickstart}                 # filters: name, status (default FINISHED), params
///   rows: pruner.sparsity                    # a params key or a list of them; one row per value tuple
///   order: {pruner: [none, wanda]}           # optional: these values first, in this order
///   columns:
///     - {label: layer-wise, metric: cls/fashion_mnist/test/acc, where: {pruner.allocation: uniform}}
///     - {label: peak MiB, metric: memory/prune/peak_bytes, divide: 1048576, digits: 1}
///   digits: 2
///
/// Derived columns: `{label: avg, mean_of: [VQA, CIDEr]}` is the per-row mean of earlier columns
/// (missing when one of them is). Unless `bold: false`, the best cell of each ranked column is
/// bold (among rows not listed in `unranked: {pruner: none}` or `{pruner: [none, module_probe]}`; not when all cells tie) (md `**x**`, LaTeX `\textbf`): higher is better unless the column says `better: lower`
/// or `none`; with `bold_within: pruner.sparsity` (a rows key) the best is chosen among the rows
/// sharing that key's value, so each sparsity level has its own winner; without it, time/memory/loss/perplexity metrics rank lower-is-better and sparsity,
/// sizes and counts are not ranked. Formats: md, csv (plain numbers), latex (booktabs tabular,
/// cells escaped).
///
/// Besides the flattened config keys, a rows or where key may name a config group (`pruner`,
/// `model`, ...): its value is the option chosen for the run (e.g. `wanda`), from choices_json.
/// Rows sort numerically where both values are numbers, else as text, after any `order` list.
/// Only the newest FINISHED run per config hash counts; runs differing in other keys (e.g. seed)
/// are aggregated as mean ± std with the count shown. Missing cells print as "—", never 0.
/// Same store, same spec -> byte-identical output. Unknown spec keys are errors.
std::string renderTable(store::RunStore& store, const YAML::Node& spec, const std::string& format = "md");

/// Loads a spec file and renders it.
std::string renderTableFile(store::RunStore& store, const std::string& specPath, const std::string& format = "md");

}  // namespace prunelab::results
