#pragma once

#include <string>

#include <torch/torch.h>

#include "framework/model/PrunableLinear.h"
#include "framework/store/RunStore.h"

namespace prunelab::prune {

/// Zeroes the weights of `layer` where `keepMask` is false (in place, no grad) and returns the
/// layer's record (target vs achieved sparsity, mask hash).
store::LayerRecord applyMask(const model::LinearRef& layer, const torch::Tensor& keepMask, double targetSparsity);

/// The record of a layer left as it is (achieved sparsity = its current fraction of zeros).
store::LayerRecord describeLayer(const model::LinearRef& layer, double targetSparsity);

/// Throws a clear error when the layer's weights hold NaN or Inf.
void checkFiniteWeights(const model::LinearRef& layer);

}  // namespace prunelab::prune
