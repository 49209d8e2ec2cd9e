#include "pruners/gradual/GradualMagnitudePruner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "framework/core/Error.h"
#include "framework/core/Progress.h"
#include "framework/core/Suggest.h"
#include "framework/model/Optim.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/Targets.h"

namespace prunelab::pruners {

namespace {

const char* kVersion = "gradual-1";
const std::vector<std::string> kPatterns = {"unstructured", "nm"};

// Weight decay on 2-D weights only (Linear and embedding matrices), as the zoo recipes.
bool decays(const std::string&, const torch::Tensor& t) { return t.dim() == 2; }

// Training batches: passes over `split` without replacement, each pass in its own seeded order;
// the last partial batch of a pass is dropped so every step sees batch_size examples.
class PassSampler {
 public:
  PassSampler(const data::Dataset& dataset, std::int64_t batchSize, std::uint64_t seed)
      : dataset_(dataset), batchSize_(std::min(batchSize, dataset.size())), seed_(seed) {
    PL_CHECK(dataset.size() > 0, "gradual: the training split is empty");
  }
  model::Batch batch(std::int64_t step) {
    const std::int64_t perPass = dataset_.size() / batchSize_;
    const std::int64_t pass = step / perPass;
    if (!sampler_ || pass != pass_) {
      sampler_ = std::make_unique<data::BatchSampler>(dataset_, batchSize_, true,
                                                      seed_ * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(pass));
      pass_ = pass;
    }
    return sampler_->batch(step % perPass);
  }

 private:
  const data::Dataset& dataset_;
  std::int64_t batchSize_;
  std::uint64_t seed_;
  std::int64_t pass_ = -1;
  std::unique_ptr<data::BatchSampler> sampler_;
};

}  // namespace

void GradualMagnitudePruner::Options::validate() const {
  PL_CHECK(pattern == "unstructured" || pattern == "nm", "gradual: pattern '{}' is not supported{}; use {}", pattern,
           didYouMean(pattern, kPatterns), quotedList(kPatterns));
  if (pattern == "nm") {
    PL_CHECK(nm.m > 0 && nm.n > 0 && nm.n < nm.m, "gradual: nm must have 0 < n < m, got {}:{}", nm.n, nm.m);
  } else {
    PL_CHECK(std::isfinite(sparsity) && sparsity >= 0.0 && sparsity < 1.0,
             "gradual: sparsity (the final s_f) must be in [0, 1), got {}", sparsity);
  }
  PL_CHECK(std::isfinite(initial_sparsity) && initial_sparsity >= 0.0 && initial_sparsity <= finalSparsity(),
           "gradual: initial_sparsity must be in [0, final sparsity {}], got {}", finalSparsity(), initial_sparsity);
  PL_CHECK(steps > 0, "gradual: steps must be positive, got {}", steps);
  PL_CHECK(frequency > 0, "gradual: frequency must be positive, got {} (tfmot default: 100)", frequency);
  PL_CHECK(begin_step >= 0 && begin_step <= end_step, "gradual: need 0 <= begin_step <= end_step, got {} and {}",
           begin_step, end_step);
  PL_CHECK(end_step < steps,
           "gradual: end_step {} must be below steps {}, so the final sparsity is reached while training; raise steps "
           "or lower end_step",
           end_step, steps);
  PL_CHECK((end_step - begin_step) % frequency == 0,
           "gradual: end_step − begin_step = {} is not a multiple of frequency {}, so no prune step falls on end_step "
           "and the final sparsity would never be applied; e.g. end_step={}",
           end_step - begin_step, frequency, begin_step + (end_step - begin_step) / frequency * frequency);
  PL_CHECK(batch_size > 0, "gradual: batch_size must be positive, got {}", batch_size);
  PL_CHECK(std::isfinite(lr) && lr > 0, "gradual: lr must be positive, got {}", lr);
  PL_CHECK(warmup_steps >= 0 && warmup_steps < steps, "gradual: warmup_steps must be in [0, steps), got {}",
           warmup_steps);
  PL_CHECK(weight_decay >= 0, "gradual: weight_decay must be >= 0, got {}", weight_decay);
  PL_CHECK(grad_clip >= 0, "gradual: grad_clip must be >= 0 (0: no clipping), got {}", grad_clip);
  PL_CHECK(log_every > 0, "gradual: log_every must be positive, got {}", log_every);
  PL_CHECK(!targets.empty(), "gradual: targets must list at least one glob, e.g. ['*.blocks.*']");
}

double GradualMagnitudePruner::Options::finalSparsity() const {
  return pattern == "nm" ? static_cast<double>(nm.n) / static_cast<double>(nm.m) : sparsity;
}

bool GradualMagnitudePruner::isPruneStep(const Options& o, std::int64_t step) {
  return step >= o.begin_step && step <= o.end_step && (step - o.begin_step) % o.frequency == 0;
}

double GradualMagnitudePruner::scheduledSparsity(const Options& o, std::int64_t step) {
  const double span = static_cast<double>(o.end_step - o.begin_step);
  const double p = span == 0 ? 1.0 : std::clamp(static_cast<double>(step - o.begin_step) / span, 0.0, 1.0);
  const double sf = o.finalSparsity();
  return sf + (o.initial_sparsity - sf) * std::pow(1.0 - p, 3.0);
}

torch::Tensor GradualMagnitudePruner::magnitudeKeepMask(const torch::Tensor& weight, double sparsity) {
  const auto score = weight.detach().abs().to(torch::kFloat).reshape({-1});
  const std::int64_t n = score.numel();
  const auto keep = std::max<std::int64_t>(
      std::llround(static_cast<double>(n) * (1.0 - sparsity)), 1);
  if (keep >= n) return torch::ones(weight.sizes(), torch::kBool);
  // The k-th largest is the (n − k + 1)-th smallest.
  const auto threshold = std::get<0>(torch::kthvalue(score, n - keep + 1));
  return score.ge(threshold).reshape(weight.sizes());
}

prune::PruneResult GradualMagnitudePruner::prune(prune::PruneContext& ctx) {
  const auto& o = options_;
  auto targets = prune::selectTargets(ctx.model.linears(), o.targets, o.exclude);
  for (const auto& t : targets) {
    prune::checkFiniteWeights(t);
    if (o.pattern == "nm") {
      prune::FineStepOptions fine;
      fine.selection = "nm";
      fine.nm = o.nm;
      fine.checkShape(t.layer->weight.size(0), t.layer->weight.size(1));
    }
  }
  const auto dataset = ctx.data.split(o.split);
  PassSampler batches(*dataset, o.batch_size, static_cast<std::uint64_t>(ctx.seed));

  prune::PruneResult result;
  std::vector<torch::Tensor> masks(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i)
    masks[i] = torch::ones(targets[i].layer->weight.sizes(), torch::TensorOptions().dtype(torch::kBool).device(
                                                                  targets[i].layer->weight.device()));
  const auto applyMasks = [&] {
    torch::NoGradGuard noGrad;
    for (std::size_t i = 0; i < targets.size(); ++i) targets[i].layer->weight.mul_(masks[i]);
  };
  const auto updateMasks = [&](std::int64_t step) {
    const double s = scheduledSparsity(o, step);
    std::int64_t zeros = 0, total = 0;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const auto& w = targets[i].layer->weight;
      torch::Tensor keep;
      if (o.pattern == "nm") {
        prune::FineStepOptions fine;
        fine.score = "magnitude";
        fine.selection = "nm";
        fine.nm = {static_cast<std::int64_t>(std::floor(s * static_cast<double>(o.nm.m) + 1e-9)), o.nm.m};
        if (fine.nm.n == 0) continue;
        keep = prune::pruneMatrix(w.detach(), {}, fine).keepMask;
      } else {
        keep = magnitudeKeepMask(w, s);
      }
      masks[i] = masks[i].logical_and(keep.to(masks[i].device()));
      zeros += masks[i].numel() - masks[i].sum().item<std::int64_t>();
      total += masks[i].numel();
    }
    applyMasks();
    result.metrics.push_back({"prune/gradual/scheduled_sparsity", s, step, kVersion});
    if (total > 0)
      result.metrics.push_back(
          {"prune/gradual/achieved_sparsity", static_cast<double>(zeros) / static_cast<double>(total), step, kVersion});
    return s;
  };

  auto& module = ctx.model.module();
  std::vector<torch::Tensor> params;
  for (auto& p : module.parameters())
    if (p.requires_grad()) params.push_back(p);
  PL_CHECK(!params.empty(), "gradual: the model has no trainable parameters");
  auto optimizer = model::makeAdamW(module, o.lr, o.weight_decay, {0.9, 0.98}, decays);
  {
    auto stage = ctx.profiler.stage("finetune");
    torch::AutoGradMode gradMode(true);
    module.train();
    Progress progress(fmt::format("gradual magnitude to {:.2f}", o.finalSparsity()), o.steps, "step");
    double window = 0, scheduled = 0, lastLoss = 0;
    std::int64_t windowSteps = 0;
    for (std::int64_t step = 0; step < o.steps; ++step) {
      if (isPruneStep(o, step)) scheduled = updateMasks(step);
      const double rate = model::warmupCosineLr(o.lr, step, o.warmup_steps, o.steps);
      model::setLearningRate(*optimizer, rate);
      optimizer->zero_grad();
      auto loss = ctx.model.loss(batches.batch(step));
      lastLoss = loss.item<double>();
      PL_CHECK(std::isfinite(lastLoss), "gradual: the loss diverged at step {} (loss {}): lower pruner.lr", step,
               lastLoss);
      loss.backward();
      if (o.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, o.grad_clip);
      optimizer->step();
      applyMasks();
      window += lastLoss;
      if (++windowSteps == o.log_every || step + 1 == o.steps) {
        result.metrics.push_back({"prune/gradual/loss", window / static_cast<double>(windowSteps), step + 1, kVersion});
        window = 0;
        windowSteps = 0;
      }
      progress.advance(1, fmt::format("loss {:.4f} sparsity {:.3f}", lastLoss, scheduled));
    }
    progress.finish();
    module.eval();
    result.metrics.push_back({"prune/gradual/final_loss", lastLoss, o.steps, kVersion});
  }
  // The optimiser's moments go before evaluation.
  optimizer.reset();
  for (std::size_t i = 0; i < targets.size(); ++i)
    result.layers.push_back(prune::applyMask(targets[i], masks[i], o.finalSparsity()));
  return result;
}

}  // namespace prunelab::pruners
