#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "framework/prune/HardConcrete.h"

namespace prunelab::prune {

/// One block whose attention heads and MLP neurons a structured pruner may gate and remove: where
/// it is and its shape as the L0 gates count it.
struct GatedBlockRef {
  std::string stack;   ///< e.g. "vision"
  int block = 0;       ///< index within the stack
  GatedBlock layout;   ///< modality, widths, head and neuron counts
};

/// One value per structure of every gated block, in gatedBlocks() order: heads[b] holds
/// layout.headGates() values (self-attention heads, then cross-attention heads), neurons[b]
/// layout.mlpDim values. An undefined tensor means "none" (no gate, keep everything).
struct StructureValues {
  std::vector<torch::Tensor> heads;
  std::vector<torch::Tensor> neurons;
};

/// A model whose heads and MLP neurons can be gated and physically removed (EfficientVLM's
/// structured pruning, spec-ecoflap-efficientvlm.md §2.2 and §2.5). Implemented by models that
/// support it; structured pruners reach it by dynamic_cast, so no pruner depends on a model plugin.
class StructuredModel {
 public:
  virtual ~StructuredModel() = default;
  /// Every gatable block, in execution order (e.g. vision, then text, then cross blocks).
  virtual std::vector<GatedBlockRef> gatedBlocks() = 0;
  /// Multiplies each head's output (before the output projection) and each MLP neuron's
  /// activation by its gate; differentiable, so L0 gates train through it. Undefined entries
  /// (or an empty StructureValues) remove the gates.
  virtual void setStructureGates(const StructureValues& gates) = 0;
  /// The L2 norm of the weights behind each head (its q, k, v rows and output-projection columns)
  /// and each neuron (its fc1 row and fc2 column): the magnitude baseline's importance.
  virtual StructureValues structureMagnitudes() = 0;
  /// Physically removes every head and neuron whose keep value is 0 (values must be binary),
  /// making the matrices smaller; gates set before are dropped. The model remembers what it kept,
  /// so that a saved checkpoint reloads (Model::checkpointMetadata).
  virtual void removeStructures(const StructureValues& keep) = 0;
};

/// Throws unless `values` has one tensor per block of `blocks` with the sizes their layouts ask
/// (undefined allowed when `allowUndefined`); `what` names the values in the error.
void checkStructureValues(const std::vector<GatedBlockRef>& blocks, const StructureValues& values, const char* what,
                          bool allowUndefined);

}  // namespace prunelab::prune
