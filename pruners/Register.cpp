#include "pruners/Register.h"

#include "pruners/magnitude/MagnitudePruner.h"
#include "pruners/none/NoPruner.h"
#include "pruners/sparsegpt/SparseGptPruner.h"
#include "pruners/wanda/WandaPruner.h"

namespace prunelab::pruners {

void registerAll(run::Registries& r) {
  r.pruners.add<NoPruner>("none", "dense baseline: prune nothing");
  r.pruners.add<MagnitudePruner>("magnitude", "magnitude |W|, layer-wise (uniform) or global ranking");
  r.pruners.add<WandaPruner>("wanda", "Wanda |W|·‖X‖ via the blockwise calibration driver");
  r.pruners.add<SparseGptPruner>("sparsegpt", "SparseGPT OBS reconstruction via the blockwise calibration driver");
}

}  // namespace prunelab::pruners
