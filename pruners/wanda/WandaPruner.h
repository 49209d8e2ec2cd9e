#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"
#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/Pruner.h"

namespace prunelab::pruners {

/// Wanda (spec-pruners.md §2): score |W|·‖X_j‖ from the blockwise driver's dense pass, selected
/// per output row (exactly int(in·s) per row, stable tie order), per matrix (the threshold mode
/// ECoFLaP uses for ViTs), N:M, or the adaptive `variant`. Uniform sparsity over the targets.
class WandaPruner : public prune::Pruner {
 public:
  struct Options {
    double sparsity = 0.5;
    std::string selection = "per_row";
    std::int64_t nm_n = 2;
    std::int64_t nm_m = 4;
    prune::BlockwiseSettings blockwise;

    template <class V>
    void visit(V& v) {
      v(sparsity, "sparsity", "fraction of each target's weights to remove, in [0, 1)");
      v(selection, "selection", "per_row, per_matrix, nm or variant");
      v(nm_n, "nm_n", "N of N:M (pruned per group), with selection=nm");
      v(nm_m, "nm_m", "M of N:M (group width along the input), with selection=nm");
      blockwise.visitFields(v);
    }
    void validate() const {
      PL_CHECK(sparsity >= 0.0 && sparsity < 1.0, "sparsity must be in [0, 1), got {}", sparsity);
      const std::vector<std::string> kinds = {"per_row", "per_matrix", "nm", "variant"};
      PL_CHECK(std::find(kinds.begin(), kinds.end(), selection) != kinds.end(), "selection '{}' is not known{}; use {}",
               selection, didYouMean(selection, kinds), quotedList(kinds));
      if (selection == "nm")
        PL_CHECK(nm_n >= 1 && nm_n < nm_m, "N:M needs 1 <= nm_n < nm_m, got {}:{}", nm_n, nm_m);
      blockwise.validate();
    }
  };

  explicit WandaPruner(Options options) : options_(std::move(options)) {}
  prune::PruneResult prune(prune::PruneContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::pruners
