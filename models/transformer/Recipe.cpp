#include "models/transformer/Recipe.h"

#include <cmath>
#include <vector>

#include "framework/core/Error.h"

namespace prunelab::models {

std::uint64_t mixSeed(std::uint64_t seed, std::uint64_t salt) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double warmupCosineLr(double peak, std::int64_t step, std::int64_t warmupSteps, std::int64_t totalSteps) {
  if (step < warmupSteps) return peak * static_cast<double>(step + 1) / static_cast<double>(warmupSteps);
  const double span = static_cast<double>(std::max<std::int64_t>(1, totalSteps - warmupSteps));
  return 0.5 * peak * (1.0 + std::cos(M_PI * static_cast<double>(step - warmupSteps) / span));
}

std::unique_ptr<torch::optim::AdamW> makeAdamW(
    torch::nn::Module& module, double lr, double weightDecay, std::pair<double, double> betas,
    const std::function<bool(const std::string&, const torch::Tensor&)>& decays) {
  std::vector<torch::Tensor> decay, noDecay;
  for (auto& p : module.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    (decays(p.key(), p.value()) ? decay : noDecay).push_back(p.value());
  }
  PL_CHECK(!decay.empty() || !noDecay.empty(), "makeAdamW: no parameter requires gradients");
  const auto b = std::make_tuple(betas.first, betas.second);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty())
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(lr).betas(b).weight_decay(weightDecay)));
  if (!noDecay.empty())
    groups.emplace_back(noDecay,
                        std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(lr).betas(b).weight_decay(0.0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(lr));
}

void setLearningRate(torch::optim::AdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

torch::Tensor patchify(const torch::Tensor& images, std::int64_t p) {
  PL_CHECK(images.dim() == 4 && images.size(1) == 1 && images.size(2) == images.size(3) && p > 0 &&
               images.size(2) % p == 0,
           "expected square one-channel images [batch, 1, S, S] with S a multiple of the patch size {}, got {}", p,
           c10::str(images.sizes()));
  const std::int64_t b = images.size(0), side = images.size(2) / p;
  return (images * 2.0 - 1.0).reshape({b, side, p, side, p}).permute({0, 1, 3, 2, 4}).reshape({b, side * side, p * p});
}

}  // namespace prunelab::models
