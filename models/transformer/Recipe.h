#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "framework/model/Optim.h"

namespace prunelab::models {

/// Pieces every zoo training recipe shares (mini_blip2's stages; mini_lm and mini_clip use the same
/// formulas).

/// An independent, well-mixed seed for part `salt` of a model from one run seed (splitmix64).
std::uint64_t mixSeed(std::uint64_t seed, std::uint64_t salt);

// The optimiser helpers live in the framework (the training-time pruners use them too).
using model::makeAdamW;
using model::setLearningRate;
using model::warmupCosineLr;

/// Images [B,1,S,S] in [0,1] as ViT patch tokens [B,(S/p)^2,p*p]: mapped to [-1,1] and cut into
/// non-overlapping p x p patches, row-major.
torch::Tensor patchify(const torch::Tensor& images, std::int64_t patchSize);

}  // namespace prunelab::models
