#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "models/transformer/Attention.h"
#include "models/transformer/TransformerBlock.h"
#include "models/transformer/TransformerStack.h"

namespace prunelab::models {

/// Physical removal of attention heads and MLP neurons (EfficientVLM's prune_model_with_z): the
/// affected Linears are replaced by smaller ones holding the kept rows/columns, so the parameter
/// count and the matmuls shrink. For binary gates the pruned module computes exactly what the
/// dense module computes with those gates set (setHeadMask / setNeuronMask).
///
/// What is removed, for kept indices K (ascending, into the module as it is before the call):
///  - self-attention heads: the q, k and v rows of the other heads out of the fused `qkv` (rows
///    ordered q, k, v, each head-major: row p*H*Dh + h*Dh + d) with their bias entries, and the
///    matching columns h*Dh + d of `proj` (its bias stays);
///  - cross-attention heads: the same rows of `q` and of the fused `kv` (k, v), columns of `proj`;
///  - MLP neurons: fc1 rows and bias entries, fc2 columns (fc2's bias stays).
/// The head width never changes; heads()/neurons() follow the new shapes. A sub-layer left with
/// nothing adds only its output bias (the dense model with all those gates at 0 does the same).
///
/// The replaced Linears are new PrunableLinear modules registered under the same names (so
/// parameter names are unchanged): take fresh handles afterwards (TransformerStack::linears()),
/// reinstall any input observer (a PrunableLinear cannot hand its observer over) and rebuild any
/// optimizer. Zeroed weights of an earlier unstructured pruning are carried over as they are
/// (PrunableLinear keeps no separate mask). A gate set on the module is sliced to the kept entries.
///
/// Checkpoints: parameters are saved under their usual names with the smaller shapes, and
/// loading (model::loadOrTrain) needs a module of the same shapes. Record the returned BlockKeep
/// list (toJson, e.g. in the config passed to loadOrTrain); a loader builds the dense stack,
/// applies pruneStack(stack, keepsFromJson(...)) and then loads.

/// Which heads and neurons of one block survive, as ascending indices into the block as it is
/// before the removal. `crossHeads` must stay empty for a block without cross-attention.
struct BlockKeep {
  std::vector<std::int64_t> heads;       ///< self-attention heads
  std::vector<std::int64_t> crossHeads;  ///< cross-attention heads
  std::vector<std::int64_t> neurons;     ///< MLP hidden neurons
};

/// Binary structure masks of one block (1 = keep, 0 = remove); an undefined tensor keeps all.
struct BlockMasks {
  torch::Tensor heads;       ///< [heads] self-attention
  torch::Tensor crossHeads;  ///< [heads] cross-attention (blocks with cross-attention only)
  torch::Tensor neurons;     ///< [mlp neurons]
};

/// Keeps heads `keepHeads` of `attn` (ascending, in [0, heads())); see the rules above.
void removeHeads(SelfAttention& attn, const std::vector<std::int64_t>& keepHeads);
/// Keeps heads `keepHeads` of the cross-attention `attn`.
void removeHeads(CrossAttention& attn, const std::vector<std::int64_t>& keepHeads);
/// Keeps neurons `keepNeurons` of `mlp` (ascending, in [0, neurons())).
void removeNeurons(GeluMlp& mlp, const std::vector<std::int64_t>& keepNeurons);

/// L2 norm of the weights behind each head of `attn`: its q, k and v rows of `qkv` and its columns
/// of `proj` (biases left out) — [heads()], the magnitude score of uniform structured pruning.
torch::Tensor headNorms(const SelfAttention& attn);
/// The same for a cross-attention: rows of `q` and of the fused `kv`, columns of `proj`.
torch::Tensor headNorms(const CrossAttention& attn);
/// L2 norm of each MLP neuron's fc1 row and fc2 column — [neurons()].
torch::Tensor neuronNorms(const GeluMlp& mlp);

/// The indices where a binary mask is 1; an error unless every entry is exactly 0 or 1 and the
/// length is `size`. `what` names the mask in the error.
std::vector<std::int64_t> keptIndices(const torch::Tensor& binaryMask, std::int64_t size, const char* what);
/// The BlockKeep of `masks` for `block` (undefined masks keep everything).
BlockKeep keepOf(const TransformerBlock& block, const BlockMasks& masks);

/// Applies `keep` to one block.
void pruneBlock(TransformerBlock& block, const BlockKeep& keep);
/// Applies keeps[i] to block i (one entry per block).
void pruneStack(TransformerStack& stack, const std::vector<BlockKeep>& keeps);
/// Applies binary masks[i] to block i (one entry per block) and returns what was kept, the
/// record a loader needs to rebuild the shapes.
std::vector<BlockKeep> pruneStackByMasks(TransformerStack& stack, const std::vector<BlockMasks>& masks);

/// [{"heads": [...], "cross_heads": [...], "neurons": [...]}, ...], one object per block.
nlohmann::ordered_json toJson(const std::vector<BlockKeep>& keeps);
/// The inverse of toJson; an error naming the block and field on malformed input.
std::vector<BlockKeep> keepsFromJson(const nlohmann::ordered_json& json);

}  // namespace prunelab::models
