#include "pruners/modal_adaptive/ModalAdaptivePruner.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::pruners {

namespace {

const char* kVersion = "modal_adaptive-1";
const char* kPrefix = "prune/modal_adaptive";
const std::vector<std::string> kStructures = {"heads+neurons", "heads", "neurons"};
const std::vector<std::string> kConstraints = {"lagrangian", "penalty"};
const std::vector<std::string> kFinalGates = {"budget", "expected"};

std::int64_t stepsOf(double share, std::int64_t steps) {
  return static_cast<std::int64_t>(std::llround(share * static_cast<double>(steps)));
}

}  // namespace

void ModalAdaptivePruner::Options::validate() const {
  PL_CHECK(std::find(kStructures.begin(), kStructures.end(), structures) != kStructures.end(),
           "modal_adaptive: structures '{}' is unknown{}; use {}", structures, didYouMean(structures, kStructures),
           quotedList(kStructures));
  PL_CHECK(std::find(kConstraints.begin(), kConstraints.end(), constraint) != kConstraints.end(),
           "modal_adaptive: constraint '{}' is unknown{}; use {}", constraint, didYouMean(constraint, kConstraints),
           quotedList(kConstraints));
  PL_CHECK(std::find(kFinalGates.begin(), kFinalGates.end(), final_gates) != kFinalGates.end(),
           "modal_adaptive: final_gates '{}' is unknown{}; use {}", final_gates, didYouMean(final_gates, kFinalGates),
           quotedList(kFinalGates));
  PL_CHECK(final_gates == "expected" || constraint == "lagrangian",
           "modal_adaptive: final_gates=budget needs a target (constraint=lagrangian); with constraint=penalty use "
           "final_gates=expected");
  PL_CHECK(std::isfinite(sparsity) && sparsity > 0 && sparsity < 1,
           "modal_adaptive: sparsity (the target) must lie in (0, 1), got {} (a fraction of the gated parameters)",
           sparsity);
  PL_CHECK(l0_penalty >= 0, "modal_adaptive: l0_penalty must be >= 0, got {}", l0_penalty);
  PL_CHECK(std::isfinite(reg_lr) && reg_lr > 0, "modal_adaptive: reg_lr must be positive, got {}", reg_lr);
  PL_CHECK(lambda_lr == -1 || (std::isfinite(lambda_lr) && lambda_lr > 0),
           "modal_adaptive: lambda_lr must be positive, or -1 for reg_lr, got {}", lambda_lr);
  PL_CHECK(ramp >= 0 && ramp <= 1, "modal_adaptive: ramp is a share of the steps in [0, 1], got {}", ramp);
  PL_CHECK(freeze > 0 && freeze <= 1 && freeze >= ramp,
           "modal_adaptive: freeze must lie in (0, 1] and not before the ramp ends ({}), got {}", ramp, freeze);
  PL_CHECK(log_every > 0, "modal_adaptive: log_every must be positive, got {}", log_every);
  PL_CHECK(finetune.steps > 0, "modal_adaptive: the gates train during fine-tuning: finetune.steps must be positive");
  hard_concrete.validate();
  finetune.validate();
}

prune::StructureValues ModalAdaptivePruner::budgetGates(const std::vector<prune::GatedBlock>& layout,
                                                        const prune::StructureValues& logAlpha, double sparsity) {
  struct Gate {
    double logAlpha;
    std::int64_t cost;
    std::size_t block;
    bool head;
    std::int64_t index;
  };
  std::vector<Gate> gates;
  prune::StructureValues keep;
  for (std::size_t b = 0; b < layout.size(); ++b) {
    const auto& l = layout[b];
    torch::Tensor heads, neurons;
    if (logAlpha.heads[b].defined()) {
      const auto a = logAlpha.heads[b].detach().to(torch::kDouble).reshape({-1}).contiguous();
      heads = torch::ones({a.numel()});
      for (std::int64_t i = 0; i < a.numel(); ++i)
        gates.push_back({a[i].item<double>(), i < l.heads ? l.paramsPerHead() : l.paramsPerCrossHead(), b, true, i});
    }
    if (logAlpha.neurons[b].defined()) {
      const auto a = logAlpha.neurons[b].detach().to(torch::kDouble).reshape({-1}).contiguous();
      neurons = torch::ones({a.numel()});
      for (std::int64_t i = 0; i < a.numel(); ++i) gates.push_back({a[i].item<double>(), l.paramsPerNeuron(), b, false, i});
    }
    keep.heads.push_back(heads);
    keep.neurons.push_back(neurons);
  }
  std::stable_sort(gates.begin(), gates.end(), [](const Gate& x, const Gate& y) { return x.logAlpha < y.logAlpha; });
  const double budget = sparsity * static_cast<double>(prune::prunableSize(layout).total);
  double removed = 0;
  for (const auto& g : gates) {
    if (removed + static_cast<double>(g.cost) > budget + 0.5 * static_cast<double>(g.cost)) break;
    removed += static_cast<double>(g.cost);
    (g.head ? keep.heads : keep.neurons)[g.block][g.index] = 0.0;
  }
  return keep;
}

prune::PruneResult ModalAdaptivePruner::prune(prune::PruneContext& ctx) {
  const auto& o = options_;
  o.validate();
  auto& structured = requireStructured(ctx.model, "modal_adaptive");
  requireDistilled(ctx.model, "modal_adaptive");

  // The gated layout: the blocks of the chosen modalities, each counting only what is gated.
  const auto all = structured.gatedBlocks();
  std::vector<prune::GatedBlockRef> layout;
  std::vector<std::size_t> position;  // index into `all` of each layout block
  std::vector<std::string> seen;
  for (std::size_t b = 0; b < all.size(); ++b) {
    const auto& m = all[b].layout.modality;
    if (std::find(seen.begin(), seen.end(), m) == seen.end()) seen.push_back(m);
    if (!o.modalities.empty() && std::find(o.modalities.begin(), o.modalities.end(), m) == o.modalities.end())
      continue;
    auto ref = all[b];
    if (o.structures == "heads") ref.layout.mlpDim = 0;
    if (o.structures == "neurons") ref.layout.heads = 0;
    if (ref.layout.heads == 0 && ref.layout.mlpDim == 0) continue;
    layout.push_back(ref);
    position.push_back(b);
  }
  for (const auto& m : o.modalities)
    PL_CHECK(std::find(seen.begin(), seen.end(), m) != seen.end(),
             "modal_adaptive: the model has no '{}' blocks{}; its modalities are {}", m, didYouMean(m, seen),
             quotedList(seen));
  PL_CHECK(!layout.empty(), "modal_adaptive: nothing to gate: check structures and modalities");
  std::vector<prune::GatedBlock> blocks;
  for (const auto& r : layout) blocks.push_back(r.layout);
  const auto size = prune::prunableSize(blocks);

  // One gate group per attention module row (self, cross) and one per MLP, as the reference's
  // per-layer rows (deterministic z rounds per row).
  auto init = at::detail::createCPUGenerator(o.finetune.seedFor(ctx.seed) * 0x9E3779B97F4A7C15ull + 41);
  std::vector<prune::HardConcreteGates> headGates(layout.size(), nullptr), neuronGates(layout.size(), nullptr);
  std::vector<torch::Tensor> gateParams;
  for (std::size_t b = 0; b < layout.size(); ++b) {
    const auto& l = layout[b].layout;
    if (l.heads > 0) {
      headGates[b] =
          prune::HardConcreteGates(std::vector<std::int64_t>{l.attentionModules(), l.heads}, prune::kHeadLogAlphaInit,
                                   o.hard_concrete, init);
      gateParams.push_back(headGates[b]->logAlpha());
    }
    if (l.mlpDim > 0) {
      neuronGates[b] = prune::HardConcreteGates(std::vector<std::int64_t>{1, l.mlpDim},
                                                prune::logAlphaForDropRate(0.5), o.hard_concrete, init);
      gateParams.push_back(neuronGates[b]->logAlpha());
    }
  }
  prune::Lagrangian lagrangian;
  torch::optim::AdamW gateOptimizer(gateParams, torch::optim::AdamWOptions(o.reg_lr).weight_decay(0.0));
  torch::optim::AdamW lambdaOptimizer(
      lagrangian->parameters(),
      torch::optim::AdamWOptions(o.lambda_lr > 0 ? o.lambda_lr : o.reg_lr)
          .betas(std::make_tuple(0.9, 0.98))
          .eps(1e-8)
          .weight_decay(0.0));
  const std::int64_t steps = o.finetune.steps;
  prune::TargetRampOptions ramp;
  ramp.target = o.sparsity;
  ramp.warmup_steps = stepsOf(o.ramp, steps);
  const std::int64_t freezeStep = stepsOf(o.freeze, steps);
  auto sampler = at::detail::createCPUGenerator(o.finetune.seedFor(ctx.seed) * 0x9E3779B97F4A7C15ull + 43);

  // Values per `all` block (undefined where not gated) from one tensor per gated part.
  auto spread = [&](const std::function<torch::Tensor(prune::HardConcreteGates&)>& of) {
    prune::StructureValues out;
    out.heads.assign(all.size(), torch::Tensor());
    out.neurons.assign(all.size(), torch::Tensor());
    for (std::size_t b = 0; b < layout.size(); ++b) {
      if (!headGates[b].is_empty()) out.heads[position[b]] = of(headGates[b]).reshape({-1});
      if (!neuronGates[b].is_empty()) out.neurons[position[b]] = of(neuronGates[b]).reshape({-1});
    }
    return out;
  };
  auto onLayout = [&](const prune::StructureValues& values) {
    prune::StructureValues out;
    for (std::size_t b = 0; b < layout.size(); ++b) {
      out.heads.push_back(values.heads[position[b]]);
      out.neurons.push_back(values.neurons[position[b]]);
    }
    return out;
  };
  auto expectedSparsity = [&] {
    const auto p = onLayout(spread([](prune::HardConcreteGates& g) { return g->probNonZero(); }));
    return prune::expectedSparsity(prune::expectedKeptParams(blocks, p.heads, p.neurons).total, size.total);
  };
  auto deterministic = [&] {
    if (o.final_gates == "expected")
      return spread([](prune::HardConcreteGates& g) { return g->deterministic(); });
    const auto logAlpha = onLayout(spread([](prune::HardConcreteGates& g) { return g->logAlpha().detach(); }));
    const auto chosen = budgetGates(blocks, logAlpha, o.sparsity);
    prune::StructureValues out;
    out.heads.assign(all.size(), torch::Tensor());
    out.neurons.assign(all.size(), torch::Tensor());
    for (std::size_t b = 0; b < layout.size(); ++b) {
      out.heads[position[b]] = chosen.heads[b];
      out.neurons[position[b]] = chosen.neurons[b];
    }
    return out;
  };

  prune::PruneResult result;
  prune::StructureValues frozen;
  double lastExpected = 0, lastTarget = 0;
  FinetuneHooks hooks;
  hooks.beforeForward = [&](std::int64_t step) -> torch::Tensor {
    gateOptimizer.zero_grad();
    lambdaOptimizer.zero_grad();
    if (step >= freezeStep) {
      if (frozen.heads.empty()) {
        frozen = deterministic();
        structured.setStructureGates(frozen);
      }
      return {};
    }
    structured.setStructureGates(spread([&](prune::HardConcreteGates& g) { return g->sample(sampler); }));
    const auto s = expectedSparsity();
    lastExpected = s.item<double>();
    if (o.constraint == "penalty") {
      // Voita et al.: λ·Σ P(z≠0), here averaged over the gates so that λ does not scale with size.
      const auto p = spread([](prune::HardConcreteGates& g) { return g->probNonZero(); });
      torch::Tensor sum = torch::zeros({});
      std::int64_t count = 0;
      for (const auto* part : {&p.heads, &p.neurons})
        for (const auto& t : *part)
          if (t.defined()) sum = sum + t.sum(), count += t.numel();
      return o.l0_penalty * sum / static_cast<double>(count);
    }
    lastTarget = ramp.targetAt(step);
    return lagrangian->forward(s, lastTarget);
  };
  hooks.afterBackward = [&](std::int64_t step) {
    if (step < freezeStep && o.constraint == "lagrangian") lagrangian->reverseGradients();
  };
  hooks.afterStep = [&](std::int64_t step) {
    if (step >= freezeStep) return;
    gateOptimizer.step();
    if (o.constraint == "lagrangian") lambdaOptimizer.step();
    for (auto* group : {&headGates, &neuronGates})
      for (auto& g : *group)
        if (!g.is_empty()) g->constrain();
    if ((step + 1) % o.log_every == 0 || step + 1 == freezeStep) {
      result.metrics.push_back({std::string(kPrefix) + "/expected_sparsity", lastExpected, step + 1, kVersion});
      if (o.constraint == "lagrangian") {
        result.metrics.push_back({std::string(kPrefix) + "/target", lastTarget, step + 1, kVersion});
        result.metrics.push_back(
            {std::string(kPrefix) + "/lambda_1", lagrangian->lambda1().item<double>(), step + 1, kVersion});
        result.metrics.push_back(
            {std::string(kPrefix) + "/lambda_2", lagrangian->lambda2().item<double>(), step + 1, kVersion});
      }
    }
  };
  hooks.note = [&](std::int64_t step) {
    return step >= freezeStep ? std::string("gates frozen")
                              : fmt::format("ŝ {:.3f} t {:.3f}", lastExpected, lastTarget);
  };
  for (auto& m : finetuneWithKd(ctx, o.finetune, hooks, std::string(kPrefix) + "/finetune", kVersion))
    result.metrics.push_back(std::move(m));

  // The deterministic binary gates, then physical removal (or the gates kept as masks).
  const auto keep = frozen.heads.empty() ? deterministic() : frozen;
  structured.setStructureGates({});
  {
    torch::NoGradGuard noGrad;
    result.metrics.push_back({std::string(kPrefix) + "/final_expected_sparsity", expectedSparsity().item<double>(),
                              steps, kVersion});
  }
  for (auto& m : structureMetrics(layout, onLayout(keep), kPrefix, kVersion)) result.metrics.push_back(std::move(m));
  result.layers = structuredLayerRecords(ctx.model, all, keep, o.sparsity);
  if (o.physical_removal) {
    structured.removeStructures(keep);
  } else {
    structured.setStructureGates(keep);
  }
  return result;
}

}  // namespace prunelab::pruners
