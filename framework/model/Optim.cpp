#include "framework/model/Optim.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/core/Error.h"

namespace prunelab::model {

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

}  // namespace prunelab::model
