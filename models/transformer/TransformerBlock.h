#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "framework/model/PrunableLinear.h"
#include "models/transformer/Attention.h"

namespace prunelab::models {

/// The shape of one transformer block, as plain values with chainable setters:
/// BlockOptions(128, 4).mlpDim(512).contextDim(256).
struct BlockOptions {
  BlockOptions(std::int64_t dim, std::int64_t heads) : dim_(dim), heads_(heads), mlpDim_(4 * dim) {}
  /// Hidden width of the MLP (default 4 * dim).
  BlockOptions& mlpDim(std::int64_t v) { return mlpDim_ = v, *this; }
  /// Width of the cross-attention context; 0 (default) means no cross-attention sub-layer.
  BlockOptions& contextDim(std::int64_t v) { return contextDim_ = v, *this; }
  /// LayerNorm epsilon.
  BlockOptions& eps(double v) { return eps_ = v, *this; }

  std::int64_t dim() const { return dim_; }
  std::int64_t heads() const { return heads_; }
  std::int64_t mlpDim() const { return mlpDim_; }
  std::int64_t contextDim() const { return contextDim_; }
  double eps() const { return eps_; }

 private:
  std::int64_t dim_, heads_, mlpDim_, contextDim_ = 0;
  double eps_ = 1e-5;
};

/// The GELU MLP of a block: fc1 (dim -> mlpDim), GELU, fc2 (mlpDim -> dim). The neuron count is
/// read off fc1's output width, so structured removal (StructuredPrune.h) only swaps in smaller
/// Linears; with zero neurons left the output is fc2's bias alone.
class GeluMlpImpl : public torch::nn::Module {
 public:
  GeluMlpImpl(std::int64_t dim, std::int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);

  /// Gates neuron n's GELU output by mask[n] before fc2 (differentiably: the L0 gates train
  /// through it). `mask` is a float tensor [neurons()]; undefined removes the gate (no extra op).
  /// Kept by reference, never part of a checkpoint.
  void setNeuronMask(torch::Tensor mask);
  /// The current neuron gate, undefined when none is set.
  const torch::Tensor& neuronMask() const { return neuronMask_; }
  /// Number of hidden neurons (after any structured removal).
  std::int64_t neurons() const { return fc1->weight.size(0); }

  model::PrunableLinear fc1{nullptr}, fc2{nullptr};

 private:
  torch::Tensor neuronMask_;
};
TORCH_MODULE(GeluMlp);

/// A pre-LN transformer block:
///   x += attn(ln1(x))                 self-attention (causal / padding / pair masks)
///   x += cross(ln_cross(x), context)  only when contextDim > 0 (on the first crossRows rows
///                                     when crossRows >= 0: the Q-Former's queries, not its text)
///   x += mlp(ln2(x))
/// A sub-layer with all its heads (neurons) removed adds only its output bias; its LayerNorm and
/// matmuls are skipped.
/// Submodule names are the canonical suffixes of its prunable Linears: attn.qkv, attn.proj,
/// cross.q, cross.kv, cross.proj, mlp.fc1, mlp.fc2.
class TransformerBlockImpl : public torch::nn::Module {
 public:
  explicit TransformerBlockImpl(const BlockOptions& options);
  /// x [B,T,dim]; `selfAllowed` / `crossAllowed` as for scaledDotProductAttention; `context`
  /// [B,S,contextDim] is required exactly when the block has cross-attention; crossRows >= 0
  /// limits cross-attention to rows [0, crossRows) (the other rows skip that sub-layer; 0 =
  /// none, and then no context is needed).
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& selfAllowed, const torch::Tensor& context = {},
                        const torch::Tensor& crossAllowed = {}, std::int64_t crossRows = -1);
  /// The block's prunable Linears in execution order, under their names relative to the block.
  std::vector<std::pair<std::string, model::PrunableLinear>> linears() const;
  /// Whether the block has the cross-attention sub-layer.
  bool hasCross() const { return !cross.is_empty(); }

  torch::nn::LayerNorm ln1{nullptr}, lnCross{nullptr}, ln2{nullptr};
  SelfAttention attn{nullptr};
  CrossAttention cross{nullptr};
  GeluMlp mlp{nullptr};
};
TORCH_MODULE(TransformerBlock);

}  // namespace prunelab::models
