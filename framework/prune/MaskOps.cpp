#include "framework/prune/MaskOps.h"

#include "framework/core/Error.h"
#include "framework/prune/Selection.h"

namespace prunelab::prune {

store::LayerRecord applyMask(const model::LinearRef& layer, const torch::Tensor& keepMask, double targetSparsity) {
  auto& w = layer.layer->weight;
  PL_CHECK(keepMask.sizes() == w.sizes(), "mask shape {} does not match weight '{}' of shape {}", c10::str(keepMask.sizes()),
           layer.name, c10::str(w.sizes()));
  {
    torch::NoGradGuard noGrad;
    w.mul_(keepMask.to(w.dtype()));
  }
  return {layer.name, layer.modality, w.numel(), targetSparsity, maskSparsity(keepMask), maskHash(keepMask)};
}

store::LayerRecord describeLayer(const model::LinearRef& layer, double targetSparsity) {
  const auto keep = layer.layer->weight.detach() != 0;
  return {layer.name, layer.modality, keep.numel(), targetSparsity, maskSparsity(keep), maskHash(keep)};
}

void checkFiniteWeights(const model::LinearRef& layer) {
  PL_CHECK(torch::isfinite(layer.layer->weight.detach()).all().item<bool>(),
           "weights of '{}' contain NaN or Inf: the checkpoint is damaged or training diverged; retrain or reload "
           "the model",
           layer.name);
}

}  // namespace prunelab::prune
