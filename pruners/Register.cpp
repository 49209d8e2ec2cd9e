#include "pruners/Register.h"

#include "pruners/ecoflap/EcoflapPruner.h"
#include "pruners/global/GlobalPruner.h"
#include "pruners/gradual/GradualMagnitudePruner.h"
#include "pruners/layerwise/LayerwisePruner.h"
#include "pruners/magnitude/MagnitudePruner.h"
#include "pruners/modal_adaptive/ModalAdaptivePruner.h"
#include "pruners/none/NoPruner.h"
#include "pruners/owl/OwlPruner.h"
#include "pruners/structured_magnitude/StructuredMagnitudePruner.h"

namespace prunelab::pruners {

void registerAll(run::Registries& r) {
  r.pruners.add<NoPruner>("none", "dense baseline: prune nothing");
  r.pruners.add<MagnitudePruner>("magnitude", "magnitude |W|, layer-wise (uniform) or global ranking");
  r.pruners.add<EcoflapPruner>("ecoflap",
                               "ECoFLaP: zeroth/first-order block scores -> allocated sparsities -> blockwise fine step");
  r.pruners.add<OwlPruner>("owl", "OWL: outlier ratios of the dense Wanda metrics -> block sparsities -> fine step");
  r.pruners.add<LayerwisePruner>("layerwise",
                                 "uniform per-matrix fine step (Wanda, SparseGPT, ...) via the blockwise calibration driver");
  r.pruners.add<GradualMagnitudePruner>(
      "gradual", "gradual magnitude pruning (Zhu & Gupta): cubic sparsity schedule during fine-tuning, unstructured or N:M");
  r.pruners.add<ModalAdaptivePruner>(
      "modal_adaptive",
      "EfficientVLM: task fine-tuning with KD + one Lagrangian over L0 gates on every head and neuron; physical removal");
  r.pruners.add<StructuredMagnitudePruner>(
      "structured_magnitude",
      "uniform structured pruning: the same share of heads and neurons of every module by weight norm (or one module)");
  r.pruners.add<GlobalPruner>("global",
                              "iterative global ranking of |W|·mean|∇L| (ECoFLaP's iterative OBD), W²·mean ∇L² or |W|");
}

}  // namespace prunelab::pruners
