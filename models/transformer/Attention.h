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
/// with no allowed key gets a zero output instead of NaN.
torch::Tensor scaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& allowed);

/// Bool [T,T], true on and below the diagonal: position t sees positions <= t.
torch::Tensor causalMask(std::int64_t length, const torch::Device& device);

/// Combines the optional masks of one attention call into one bool `allowed` tensor broadcastable to
/// [B,1,T,S] (undefined when nothing is masked): `causal` (needs T == S), `keyMask` [B,S] (nonzero =
/// a real key, zero = padding) and `pairMask` [T,S] or [B,T,S] (nonzero = may attend).
torch::Tensor attentionAllowed(std::int64_t queries, std::int64_t keys, bool causal, const torch::Tensor& keyMask,
                               const torch::Tensor& pairMask, const torch::Device& device);

/// Multi-head self-attention with one fused q/k/v projection: `qkv` (dim -> 3*dim, rows ordered q,
/// k, v, each head-major) and the output projection `proj`. Fused because it is one matmul instead
/// of three, and because the ViT/Q-Former checkpoints this zoo mirrors name it `attn.qkv`; per-row
/// pruning (Wanda, SparseGPT) treats its rows exactly as three separate q/k/v matrices would, while
/// a per-matrix ranking ranks q, k and v together.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(std::int64_t dim, std::int64_t heads);
  /// x [B,T,dim] -> [B,T,dim]; `allowed` as for scaledDotProductAttention.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed);

  model::PrunableLinear qkv{nullptr}, proj{nullptr};

 private:
  std::int64_t heads_;
};
TORCH_MODULE(SelfAttention);

/// Multi-head cross-attention from queries x [B,T,dim] to a context [B,S,contextDim]: `q` (dim ->
/// dim), fused `kv` (contextDim -> 2*dim, rows ordered k, v) and `proj` (dim -> dim). Used by the
/// Q-Former's learned queries attending to image features.
class CrossAttentionImpl : public torch::nn::Module {
 public:
  CrossAttentionImpl(std::int64_t dim, std::int64_t contextDim, std::int64_t heads);
  /// x [B,T,dim], context [B,S,contextDim] -> [B,T,dim].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& allowed);

  model::PrunableLinear q{nullptr}, kv{nullptr}, proj{nullptr};

 private:
  std::int64_t heads_;
};
TORCH_MODULE(CrossAttention);

}  // namespace prunelab::models
