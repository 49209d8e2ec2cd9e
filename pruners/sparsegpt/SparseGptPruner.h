#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/Pruner.h"
#include "framework/prune/SparseGpt.h"

namespace prunelab::pruners {

/// SparseGPT (spec-pruners.md §3): H = 2/N·XXᵀ from the blockwise driver's dense pass, then the
/// column-wise OBS reconstruction with adaptive per-block masks (unstructured or N:M).
class SparseGptPruner : public prune::Pruner {
 public:
  struct Options {
    prune::SparseGptOptions obs;
    prune::BlockwiseSettings blockwise;

    template <class V>
    void visit(V& v) {
      v(obs.sparsity, "sparsity", "fraction of each target's weights to remove, in [0, 1)");
      v(obs.blocksize, "blocksize", "columns per adaptive-mask block and lazy update (reference: 128)");
      v(obs.percdamp, "percdamp", "Hessian damping as a fraction of mean(diag H) (reference: 0.01)");
      v(obs.prunen, "prunen", "N of N:M (pruned per group of M); 0 = unstructured");
      v(obs.prunem, "prunem", "M of N:M");
      v(obs.maxDampRetries, "max_damp_retries", "Cholesky retries with 10x damping each");
      blockwise.visitFields(v);
    }
    void validate() const {
      obs.validate();
      blockwise.validate();
    }
  };

  explicit SparseGptPruner(Options options) : options_(std::move(options)) {}
  prune::PruneResult prune(prune::PruneContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::pruners
