#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <torch/torch.h>

namespace prunelab::model {

/// Optimisation pieces shared by the zoo's training recipes and the training-time pruners
/// (gradual magnitude pruning fine-tunes with the same AdamW and schedule).

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

}  // namespace prunelab::model
