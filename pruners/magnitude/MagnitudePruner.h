#pragma once

#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"
#include "framework/prune/Pruner.h"

namespace prunelab::pruners {

/// Magnitude pruning, score |W|, no calibration data (spec-pruners.md §1):
/// - allocation `uniform`: every target matrix pruned by its own threshold at `sparsity`
///   (Wanda/SparseGPT repos' prune_magnitude: ties at the threshold pruned too);
/// - allocation `global`: one ranking over all targets, k = round(s·total) smallest removed
///   (PyTorch global_unstructured + L1Unstructured), found without concatenating the scores.
class MagnitudePruner : public prune::Pruner {
 public:
  struct Options {
    double sparsity = 0.5;
    std::string allocation = "uniform";
    std::vector<std::string> targets = {"*.blocks.*"};
    std::vector<std::string> exclude = {};

    template <class V>
    void visit(V& v) {
      v(sparsity, "sparsity", "fraction of the target weights to remove, in [0, 1)");
      v(allocation, "allocation", "uniform (same sparsity per matrix) or global (one ranking over all targets)");
      v(targets, "targets", "globs over canonical linear names to prune");
      v(exclude, "exclude", "globs of linears to keep even if a target pattern matches");
    }
    void validate() const {
      PL_CHECK(sparsity >= 0.0 && sparsity < 1.0, "sparsity must be in [0, 1), got {}", sparsity);
      const std::vector<std::string> kinds = {"uniform", "global"};
      PL_CHECK(allocation == "uniform" || allocation == "global", "allocation '{}' is not supported by magnitude{}; "
               "use {}", allocation, didYouMean(allocation, kinds), quotedList(kinds));
      PL_CHECK(!targets.empty(), "targets must list at least one glob, e.g. ['*.blocks.*']");
    }
  };

  explicit MagnitudePruner(Options options) : options_(std::move(options)) {}
  prune::PruneResult prune(prune::PruneContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::pruners
