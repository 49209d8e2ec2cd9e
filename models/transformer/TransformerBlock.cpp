#include "models/transformer/TransformerBlock.h"

#include "framework/core/Error.h"

namespace prunelab::models {

GeluMlpImpl::GeluMlpImpl(std::int64_t dim, std::int64_t hidden) {
  PL_CHECK(hidden > 0, "MLP width must be positive, got {}", hidden);
  fc1 = register_module("fc1", model::PrunableLinear(dim, hidden));
  fc2 = register_module("fc2", model::PrunableLinear(hidden, dim));
}

void GeluMlpImpl::setNeuronMask(torch::Tensor mask) {
  checkStructureMask(mask, neurons(), "MLP neuron mask");
  neuronMask_ = std::move(mask);
}

torch::Tensor GeluMlpImpl::forward(const torch::Tensor& x) {
  if (neurons() == 0) return outputBiasOnly(fc2, x);
  auto hidden = torch::gelu(fc1->forward(x));
  if (neuronMask_.defined()) hidden = hidden * neuronMask_;
  return fc2->forward(hidden);
}

TransformerBlockImpl::TransformerBlockImpl(const BlockOptions& o) {
  PL_CHECK(o.dim() > 0, "block width must be positive, got {}", o.dim());
  ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim()}).eps(o.eps())));
  attn = register_module("attn", SelfAttention(o.dim(), o.heads()));
  if (o.contextDim() > 0) {
    lnCross = register_module("ln_cross", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim()}).eps(o.eps())));
    cross = register_module("cross", CrossAttention(o.dim(), o.contextDim(), o.heads()));
  }
  ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim()}).eps(o.eps())));
  mlp = register_module("mlp", GeluMlp(o.dim(), o.mlpDim()));
}

torch::Tensor TransformerBlockImpl::forward(torch::Tensor x, const torch::Tensor& selfAllowed,
                                            const torch::Tensor& context, const torch::Tensor& crossAllowed,
                                            std::int64_t crossRows) {
  x = x + (attn->heads() > 0 ? attn->forward(ln1->forward(x), selfAllowed) : outputBiasOnly(attn->proj, x));
  if (hasCross() && crossRows != 0) {
    PL_CHECK(context.defined(),
             "this block has cross-attention but no context was given: put the context "
             "features in the state's 'context' field");
    if (crossRows < 0 || crossRows >= x.size(1)) {
      x = x + (cross->heads() > 0 ? cross->forward(lnCross->forward(x), context, crossAllowed)
                                  : outputBiasOnly(cross->proj, x));
    } else {
      PL_CHECK(!crossAllowed.defined() || crossAllowed.size(-2) == 1,
               "cross-attention on the first {} rows only takes a per-key context mask, not a per-row one", crossRows);
      auto head = x.narrow(1, 0, crossRows);
      head = head + (cross->heads() > 0 ? cross->forward(lnCross->forward(head), context, crossAllowed)
                                        : outputBiasOnly(cross->proj, head));
      x = torch::cat({head, x.narrow(1, crossRows, x.size(1) - crossRows)}, 1);
    }
  }
  return x + (mlp->neurons() > 0 ? mlp->forward(ln2->forward(x)) : outputBiasOnly(mlp->fc2, x));
}

std::vector<std::pair<std::string, model::PrunableLinear>> TransformerBlockImpl::linears() const {
  std::vector<std::pair<std::string, model::PrunableLinear>> out = {{"attn.qkv", attn->qkv}, {"attn.proj", attn->proj}};
  if (hasCross()) {
    out.emplace_back("cross.q", cross->q);
    out.emplace_back("cross.kv", cross->kv);
    out.emplace_back("cross.proj", cross->proj);
  }
  out.emplace_back("mlp.fc1", mlp->fc1);
  out.emplace_back("mlp.fc2", mlp->fc2);
  return out;
}

}  // namespace prunelab::models
