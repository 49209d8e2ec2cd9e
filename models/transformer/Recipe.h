#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <torch/torch.h>

namespace prunelab::models {

/// Pieces every zoo training recipe shares (mini_blip2's stages; mini_lm and mini_clip use the same
/// formulas).

/// An independent, well-mixed seed for part `salt` of a model from one run seed (splitmix64).
std::uint64_t mixSeed(std::uint64_t seed, std::uint64_t salt);

/// Learning rate at `step` of `totalSteps`: linear warmup over `warmupSteps` steps to `peak`, then
/// cosine decay to 0 at totalSteps.
double warmupCosineLr(double peak, std::int64_t step, std::int64_t warmupSteps, std::int64_t totalSteps);

/// AdamW over the parameters of `module` that require gradients, in two groups: weight decay on the
/// ones `decays(name, tensor)` accepts (Linear weights), none on the rest.
std::unique_ptr<torch::optim::AdamW> makeAdamW(torch::nn::Module& module, double lr, double weightDecay,
                                               std::pair<double, double> betas,
                                               const std::function<bool(const std::string&, const torch::Tensor&)>& decays);

/// Sets the learning rate of every parameter group.
void setLearningRate(torch::optim::AdamW& optimizer, double lr);

/// Images [B,1,S,S] in [0,1] as ViT patch tokens [B,(S/p)^2,p*p]: mapped to [-1,1] and cut into
/// non-overlapping p x p patches, row-major.
torch::Tensor patchify(const torch::Tensor& images, std::int64_t patchSize);

}  // namespace prunelab::models
