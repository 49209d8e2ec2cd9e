#include "pruners/Register.h"

#include "pruners/layerwise/LayerwisePruner.h"
#include "pruners/magnitude/MagnitudePruner.h"
#include "pruners/none/NoPruner.h"

namespace prunelab::pruners {

void registerAll(run::Registries& r) {
  r.pruners.add<NoPruner>("none", "dense baseline: prune nothing");
  r.pruners.add<MagnitudePruner>("magnitude", "magnitude |W|, layer-wise (uniform) or global ranking");
  r.pruners.add<LayerwisePruner>("layerwise",
                                 "uniform per-matrix fine step (Wanda, SparseGPT, ...) via the blockwise calibration driver");
}

}  // namespace prunelab::pruners
