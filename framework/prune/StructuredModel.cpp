#include "framework/prune/StructuredModel.h"

#include "framework/core/Error.h"

namespace prunelab::prune {

void checkStructureValues(const std::vector<GatedBlockRef>& blocks, const StructureValues& values, const char* what,
                          bool allowUndefined) {
  PL_CHECK(values.heads.size() == blocks.size() && values.neurons.size() == blocks.size(),
           "{}: {} gated blocks but {} head and {} neuron entries; give one of each per block (gatedBlocks() order)",
           what, blocks.size(), values.heads.size(), values.neurons.size());
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const auto& ref = blocks[b];
    auto check = [&](const torch::Tensor& t, std::int64_t expected, const char* part) {
      if (!t.defined()) {
        PL_CHECK(allowUndefined, "{}: {} block {} has no {} values", what, ref.stack, ref.block, part);
        return;
      }
      PL_CHECK(t.numel() == expected, "{}: {} block {} needs {} {} values, got {}", what, ref.stack, ref.block,
               expected, part, t.numel());
    };
    check(values.heads[b], ref.layout.headGates(), "head");
    check(values.neurons[b], ref.layout.mlpDim, "neuron");
  }
}

}  // namespace prunelab::prune
