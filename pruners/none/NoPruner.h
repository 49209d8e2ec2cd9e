#pragma once

#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/prune/Pruner.h"

namespace prunelab::pruners {

/// The dense baseline: prunes nothing and records the target layers' current sparsity, so the
/// dense row of a table comes from the same pipeline as every pruned row.
class NoPruner : public prune::Pruner {
 public:
  struct Options {
    double sparsity = 0.0;
    std::vector<std::string> targets = {"*.blocks.*"};

    template <class V>
    void visit(V& v) {
      v(sparsity, "sparsity", "recorded as the target sparsity (always 0 for the dense model)");
      v(targets, "targets", "globs of the linears whose sparsity is recorded");
    }
    void validate() const {
      PL_CHECK(sparsity == 0.0, "pruner=none keeps the model dense; sparsity must be 0 (got {}). Pick a pruner, "
               "e.g. pruner=magnitude", sparsity);
    }
  };

  explicit NoPruner(Options options) : options_(std::move(options)) {}
  prune::PruneResult prune(prune::PruneContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::pruners
