#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "framework/model/PrunableLinear.h"

namespace prunelab::models {

/// Softmax attention over heads, written out with matmuls (LibTorch 1.13 has no
/// scaled_dot_product_attention). q [B,H,T,Dh], k and v [B,H,S,Dh]; `allowed` is a bool tensor
/// broadcastable to [B,H,T,S] (true = query t may attend to key s) or undefined for "all". A query
/// with no allowed key gets a zero output instead of NaN. With `probs` set, the post-softmax
/// probabilities [B,H,T,S] are stored there too (for attention distillation; no extra work).
torch::Tensor scaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& allowed, torch::Tensor* probs = nullptr);

/// Bool [T,T], true on and below the diagonal: position t sees positions <= t.
torch::Tensor causalMask(std::int64_t length, const torch::Device& device);

/// Combines the optional masks of one attention call into one bool `allowed` tensor broadcastable to
/// [B,1,T,S] (undefined when nothing is masked): `causal` (needs T == S), `keyMask` [B,S] (nonzero =
/// a real key, zero = padding) and `pairMask` [T,S] or [B,T,S] (nonzero = may attend).
torch::Tensor attentionAllowed(std::int64_t queries, std::int64_t keys, bool causal, const torch::Tensor& keyMask,
                               const torch::Tensor& pairMask, const torch::Device& device);

/// What a sub-layer whose heads or neurons were all removed adds to the residual stream x: its
/// output projection's bias, broadcast to x's shape (zeros when it has no bias).
torch::Tensor outputBiasOnly(const model::PrunableLinear& out, const torch::Tensor& x);

/// Checks that `mask` is undefined or a floating-point vector of `size` entries; `what` names the
/// gate in the error ("head mask").
void checkStructureMask(const torch::Tensor& mask, std::int64_t size, const char* what);

/// Multi-head self-attention with one fused q/k/v projection: `qkv` (dim -> 3*dim, rows ordered q,
/// k, v, each head-major) and the output projection `proj`. Fused because it is one matmul instead
/// of three, and because the ViT/Q-Former checkpoints this zoo mirrors name it `attn.qkv`; per-row
/// pruning (Wanda, SparseGPT) treats its rows exactly as three separate q/k/v matrices would, while
/// a per-matrix ranking ranks q, k and v together.
///
/// The head count is read off `proj`'s input width (heads * headDim), so structured removal
/// (StructuredPrune.h) only has to swap in smaller Linears; the head width never changes. With
/// zero heads left the output is `proj`'s bias alone (what the same model computes with every
/// head gated to 0).
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(std::int64_t dim, std::int64_t heads);
  /// x [B,T,dim] -> [B,T,dim]; `allowed` as for scaledDotProductAttention.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed);

  /// Gates head h's output by mask[h] before `proj` (differentiably: the L0 gates train through
  /// it). `mask` is a float tensor [heads()]; an undefined tensor removes the gate (no extra op).
  /// The module keeps the tensor (and its autograd graph) until it is replaced; it is not a
  /// parameter or buffer, so it is never part of a checkpoint.
  void setHeadMask(torch::Tensor mask);
  /// The current head gate, undefined when none is set.
  const torch::Tensor& headMask() const { return headMask_; }
  /// Number of heads (after any structured removal).
  std::int64_t heads() const { return proj->weight.size(1) / headDim_; }
  /// Width of one head; fixed at construction.
  std::int64_t headDim() const { return headDim_; }
  /// While `sink` is set (not null), each forward stores its post-softmax probabilities
  /// [B,H,T,S] there (knowledge distillation of attention maps); null stops it. Costs one pointer
  /// test per forward when unset.
  void recordProbs(torch::Tensor* sink) { probsSink_ = sink; }

  model::PrunableLinear qkv{nullptr}, proj{nullptr};

 private:
  std::int64_t headDim_;
  torch::Tensor headMask_;
  torch::Tensor* probsSink_ = nullptr;
};
TORCH_MODULE(SelfAttention);

/// Multi-head cross-attention from queries x [B,T,dim] to a context [B,S,contextDim]: `q` (dim ->
/// dim), fused `kv` (contextDim -> 2*dim, rows ordered k, v) and `proj` (dim -> dim). Used by the
/// Q-Former's learned queries attending to image features. Head gate, head count and zero heads
/// as for SelfAttentionImpl.
class CrossAttentionImpl : public torch::nn::Module {
 public:
  CrossAttentionImpl(std::int64_t dim, std::int64_t contextDim, std::int64_t heads);
  /// x [B,T,dim], context [B,S,contextDim] -> [B,T,dim].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& allowed);

  /// Gates head h's output by mask[h] before `proj`; undefined = no gate (see SelfAttentionImpl).
  void setHeadMask(torch::Tensor mask);
  /// The current head gate, undefined when none is set.
  const torch::Tensor& headMask() const { return headMask_; }
  /// Number of heads (after any structured removal).
  std::int64_t heads() const { return proj->weight.size(1) / headDim_; }
  /// Width of one head; fixed at construction.
  std::int64_t headDim() const { return headDim_; }
  /// Stores each forward's attention probabilities in `sink` while set (see SelfAttentionImpl).
  void recordProbs(torch::Tensor* sink) { probsSink_ = sink; }

  model::PrunableLinear q{nullptr}, kv{nullptr}, proj{nullptr};

 private:
  std::int64_t headDim_;
  torch::Tensor headMask_;
  torch::Tensor* probsSink_ = nullptr;
};
TORCH_MODULE(CrossAttention);

}  // namespace prunelab::models
