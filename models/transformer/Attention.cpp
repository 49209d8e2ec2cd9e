#include "models/transformer/Attention.h"

#include <cmath>
#include <limits>

#include "framework/core/Error.h"

namespace prunelab::models {

namespace {

// [B,T,H*Dh] -> [B,H,T,Dh].
torch::Tensor splitHeads(const torch::Tensor& x, std::int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

// [B,H,T,Dh] -> [B,T,H*Dh].
torch::Tensor mergeHeads(const torch::Tensor& x) {
  return x.transpose(1, 2).contiguous().view({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

void checkHeads(std::int64_t dim, std::int64_t heads) {
  PL_CHECK(heads > 0 && dim > 0 && dim % heads == 0,
           "attention width {} is not divisible by {} heads: pick a width that is a multiple of heads", dim, heads);
}

}  // namespace

torch::Tensor scaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& allowed, torch::Tensor* probsOut) {
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  torch::Tensor probs;
  if (!allowed.defined()) {
    probs = torch::softmax(scores, -1);
  } else {
    scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
    // A fully masked row is NaN after softmax; it becomes a zero row (no information, no NaN).
    probs = torch::softmax(scores, -1).masked_fill(allowed.logical_not(), 0.0);
  }
  if (probsOut != nullptr) *probsOut = probs;
  return torch::matmul(probs, v);
}

torch::Tensor causalMask(std::int64_t length, const torch::Device& device) {
  return torch::ones({length, length}, torch::TensorOptions().dtype(torch::kBool).device(device)).tril();
}

torch::Tensor attentionAllowed(std::int64_t queries, std::int64_t keys, bool causal, const torch::Tensor& keyMask,
                               const torch::Tensor& pairMask, const torch::Device& device) {
  torch::Tensor allowed;
  auto combine = [&allowed](const torch::Tensor& m) { allowed = allowed.defined() ? allowed.logical_and(m) : m; };
  if (causal) {
    PL_CHECK(queries == keys, "a causal mask needs as many queries as keys, got {} and {}", queries, keys);
    combine(causalMask(queries, device).view({1, 1, queries, keys}));
  }
  if (keyMask.defined()) {
    PL_CHECK(keyMask.dim() == 2 && keyMask.size(1) == keys, "key mask must be [batch, {}], got {}", keys,
             c10::str(keyMask.sizes()));
    combine(keyMask.ne(0).view({keyMask.size(0), 1, 1, keys}));
  }
  if (pairMask.defined()) {
    PL_CHECK((pairMask.dim() == 2 || pairMask.dim() == 3) && pairMask.size(-2) == queries && pairMask.size(-1) == keys,
             "attention mask must be [{}, {}] or [batch, {}, {}], got {}", queries, keys, queries, keys,
             c10::str(pairMask.sizes()));
    auto m = pairMask.ne(0);
    combine(pairMask.dim() == 2 ? m.view({1, 1, queries, keys}) : m.unsqueeze(1));
  }
  return allowed;
}

torch::Tensor outputBiasOnly(const model::PrunableLinear& out, const torch::Tensor& x) {
  return out->bias.defined() ? out->bias.expand_as(x) : torch::zeros_like(x);
}

void checkStructureMask(const torch::Tensor& mask, std::int64_t size, const char* what) {
  if (!mask.defined()) return;
  PL_CHECK(mask.dim() == 1 && mask.size(0) == size,
           "{} must be a vector of {} gates (one per structure), got shape {}: pass one gate per head/neuron, or an "
           "undefined tensor to remove the gate",
           what, size, c10::str(mask.sizes()));
  PL_CHECK(mask.is_floating_point(), "{} must be a floating-point tensor, got {}: convert it with .to(torch::kFloat)",
           what, c10::str(mask.scalar_type()));
}

SelfAttentionImpl::SelfAttentionImpl(std::int64_t dim, std::int64_t heads) : headDim_(0) {
  checkHeads(dim, heads);
  headDim_ = dim / heads;
  qkv = register_module("qkv", model::PrunableLinear(dim, 3 * dim));
  proj = register_module("proj", model::PrunableLinear(dim, dim));
}

void SelfAttentionImpl::setHeadMask(torch::Tensor mask) {
  checkStructureMask(mask, heads(), "self-attention head mask");
  headMask_ = std::move(mask);
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& allowed) {
  const auto h = heads();
  if (h == 0) return outputBiasOnly(proj, x);
  auto parts = qkv->forward(x).chunk(3, -1);
  auto out = scaledDotProductAttention(splitHeads(parts[0], h), splitHeads(parts[1], h), splitHeads(parts[2], h),
                                       allowed, probsSink_);
  if (headMask_.defined()) out = out * headMask_.view({1, h, 1, 1});
  return proj->forward(mergeHeads(out));
}

CrossAttentionImpl::CrossAttentionImpl(std::int64_t dim, std::int64_t contextDim, std::int64_t heads) : headDim_(0) {
  checkHeads(dim, heads);
  PL_CHECK(contextDim > 0, "cross-attention context width must be positive, got {}", contextDim);
  headDim_ = dim / heads;
  q = register_module("q", model::PrunableLinear(dim, dim));
  kv = register_module("kv", model::PrunableLinear(contextDim, 2 * dim));
  proj = register_module("proj", model::PrunableLinear(dim, dim));
}

void CrossAttentionImpl::setHeadMask(torch::Tensor mask) {
  checkStructureMask(mask, heads(), "cross-attention head mask");
  headMask_ = std::move(mask);
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                          const torch::Tensor& allowed) {
  const auto h = heads();
  if (h == 0) return outputBiasOnly(proj, x);
  auto parts = kv->forward(context).chunk(2, -1);
  auto out = scaledDotProductAttention(splitHeads(q->forward(x), h), splitHeads(parts[0], h), splitHeads(parts[1], h),
                                       allowed, probsSink_);
  if (headMask_.defined()) out = out * headMask_.view({1, h, 1, 1});
  return proj->forward(mergeHeads(out));
}

}  // namespace prunelab::models
