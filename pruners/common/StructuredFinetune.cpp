#include "pruners/common/StructuredFinetune.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "framework/core/Progress.h"
#include "framework/core/Suggest.h"
#include "framework/model/Optim.h"

namespace prunelab::pruners {

namespace {

const std::vector<std::string> kFormulas = {"retrieval", "vqa", "none"};

// Training batches: passes over the split without replacement, each pass in its own seeded order;
// the last partial batch of a pass is dropped so every step sees batch_size examples.
class PassSampler {
 public:
  PassSampler(const data::Dataset& dataset, std::int64_t batchSize, std::uint64_t seed)
      : dataset_(dataset), batchSize_(std::min(batchSize, dataset.size())), seed_(seed) {
    PL_CHECK(dataset.size() > 1, "structured fine-tuning: the training split has {} examples; it needs at least 2",
             dataset.size());
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

// The reference's linear schedule: warmup to the peak, then linear decay to 0 at the last step.
double linearLr(double peak, std::int64_t step, std::int64_t warmup, std::int64_t total) {
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double span = static_cast<double>(std::max<std::int64_t>(1, total - warmup));
  return peak * std::max(0.0, static_cast<double>(total - step) / span);
}

bool decays(const std::string&, const torch::Tensor& t) { return t.dim() == 2; }

}  // namespace

TaskKdFormula taskKdFormula(const std::string& name) {
  TaskKdFormula f;
  if (name == "retrieval") {
    // L = 0.5·(L_kd + L_task); L_kd = KL_itm + 0.33·(text + image + cross).
    f.kd = 0.5;
    f.task = 0.5;
    f.logit = 1.0;
    f.stacks = {{"text", {0.33, 0.33}}, {"vision", {0.33 * 0.2, 0.33}}, {"cross", {0.33 * 0.5, 0.33 * 0.5}}};
  } else if (name == "vqa") {
    // L = 0.4·L_kd + 0.6·L_task; L_kd = KL_answers + text + image + cross.
    f.kd = 0.4;
    f.task = 0.6;
    f.logit = 1.0;
    f.stacks = {{"text", {1.0, 1.0}}, {"vision", {0.2, 1.0}}, {"cross", {0.5, 0.5}}};
  } else {
    PL_CHECK(name == "none", "task KD formula '{}' is unknown{}; use {}", name, didYouMean(name, kFormulas),
             quotedList(kFormulas));
  }
  return f;
}

void FinetuneOptions::validate() const {
  PL_CHECK(steps >= 0, "finetune.steps must be >= 0, got {}", steps);
  PL_CHECK(batch_size > 1, "finetune.batch_size must be at least 2 (ITC and ITM need negatives), got {}", batch_size);
  PL_CHECK(std::isfinite(lr) && lr > 0, "finetune.lr must be positive, got {}", lr);
  PL_CHECK(warmup >= 0 && warmup < 1, "finetune.warmup is a share of the steps in [0, 1), got {}", warmup);
  PL_CHECK(weight_decay >= 0 && grad_clip >= 0, "finetune.weight_decay and finetune.grad_clip must be >= 0");
  PL_CHECK(log_every > 0, "finetune.log_every must be positive, got {}", log_every);
  PL_CHECK(seed >= -1, "finetune.seed must be >= 0, or -1 for the run's seed, got {}", seed);
  if (kd != "auto") taskKdFormula(kd);
}

namespace {

std::string notStructured(const std::string& who) {
  return fmt::format(
      "{}: the model cannot gate and remove attention heads and MLP neurons (it is no prune::StructuredModel): use "
      "model=mini_xvlm",
      who);
}

std::string notDistilled(const std::string& who) {
  return fmt::format(
      "{}: the model has no task fine-tuning step with a teacher (it is no model::DistilledModel): use "
      "model=mini_xvlm with model.task=vqa or retrieval",
      who);
}

void checkFinetuneTask(const std::string& task, const std::string& who) {
  PL_CHECK(task == "vqa" || task == "retrieval",
           "{}: the model is fine-tuned for '{}'; structured pruning fine-tunes on a task: set model.task=vqa or "
           "model.task=retrieval",
           who, task);
}

}  // namespace

prune::StructuredModel& requireStructured(model::Model& model, const std::string& who) {
  auto* s = dynamic_cast<prune::StructuredModel*>(&model);
  PL_CHECK(s != nullptr, "{}", notStructured(who));
  return *s;
}

model::DistilledModel& requireDistilled(model::Model& model, const std::string& who) {
  auto* d = dynamic_cast<model::DistilledModel*>(&model);
  PL_CHECK(d != nullptr, "{}", notDistilled(who));
  return *d;
}

void checkStructuredModel(const model::Model& model, const std::string& who, bool finetunes) {
  PL_CHECK(dynamic_cast<const prune::StructuredModel*>(&model) != nullptr, "{}", notStructured(who));
  if (!finetunes) return;
  const auto* d = dynamic_cast<const model::DistilledModel*>(&model);
  PL_CHECK(d != nullptr, "{}", notDistilled(who));
  checkFinetuneTask(d->distillTask(), who);
}

std::vector<store::MetricRecord> finetuneWithKd(prune::PruneContext& ctx, const FinetuneOptions& o,
                                                const FinetuneHooks& hooks, const std::string& prefix,
                                                const std::string& version) {
  std::vector<store::MetricRecord> metrics;
  if (o.steps == 0) return metrics;
  auto& distilled = requireDistilled(ctx.model, prefix);
  const std::string task = distilled.distillTask();
  checkFinetuneTask(task, prefix);
  const auto formula = taskKdFormula(o.kd == "auto" ? task : o.kd);
  const auto dataset = ctx.data.split(o.split.empty() ? distilled.distillSplit() : o.split);
  const std::uint64_t seed = o.seedFor(ctx.seed);
  PassSampler batches(*dataset, o.batch_size, seed);
  if (formula.needsTeacher()) {
    auto stage = ctx.profiler.stage("teacher");
    distilled.prepareTeacher();
  }
  auto& module = ctx.model.module();
  std::vector<torch::Tensor> params;
  for (auto& p : module.parameters())
    if (p.requires_grad()) params.push_back(p);
  PL_CHECK(!params.empty(), "{}: the model has no trainable parameters", prefix);
  auto optimizer = model::makeAdamW(module, o.lr, o.weight_decay, {0.9, 0.999}, decays);
  auto generator = at::detail::createCPUGenerator(seed * 0xD1B54A32D192ED03ull + 7);
  const auto warmup = static_cast<std::int64_t>(std::floor(o.warmup * static_cast<double>(o.steps)));
  {
    auto stage = ctx.profiler.stage("finetune");
    torch::AutoGradMode gradMode(true);
    module.train();
    Progress progress(prefix, o.steps, "step");
    double window = 0, taskWindow = 0, kdWindow = 0, last = 0;
    std::int64_t windowSteps = 0;
    for (std::int64_t step = 0; step < o.steps; ++step) {
      model::setLearningRate(*optimizer, linearLr(o.lr, step, warmup, o.steps));
      optimizer->zero_grad();
      torch::Tensor extra = hooks.beforeForward ? hooks.beforeForward(step) : torch::Tensor();
      const auto ds = distilled.distillStep(batches.batch(step), generator, formula.needsTeacher());
      torch::Tensor kd = torch::zeros({});
      if (formula.needsTeacher())
        kd = formula.logit * model::logitKd(ds.studentLogits, ds.teacherLogits) +
             model::stacksKd(ds.student, ds.teacher, formula.stacks);
      auto loss = formula.task * ds.taskLoss + formula.kd * kd;
      if (extra.defined()) loss = loss + extra;
      last = loss.item<double>();
      PL_CHECK(std::isfinite(last), "{}: the loss diverged at step {} (loss {}): lower the learning rates", prefix,
               step, last);
      loss.backward();
      if (hooks.afterBackward) hooks.afterBackward(step);
      if (o.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, o.grad_clip);
      optimizer->step();
      if (hooks.afterStep) hooks.afterStep(step);
      window += last;
      taskWindow += ds.taskLoss.item<double>();
      kdWindow += kd.item<double>();
      if (++windowSteps == o.log_every || step + 1 == o.steps) {
        const double n = static_cast<double>(windowSteps);
        metrics.push_back({prefix + "/loss", window / n, step + 1, version});
        metrics.push_back({prefix + "/task_loss", taskWindow / n, step + 1, version});
        if (formula.needsTeacher()) metrics.push_back({prefix + "/kd_loss", kdWindow / n, step + 1, version});
        window = taskWindow = kdWindow = 0;
        windowSteps = 0;
      }
      progress.advance(1, fmt::format("loss {:.4f}{}", last, hooks.note ? " " + hooks.note(step) : ""));
    }
    progress.finish();
    module.eval();
    metrics.push_back({prefix + "/final_loss", last, o.steps, version});
  }
  optimizer.reset();
  if (formula.needsTeacher()) distilled.releaseTeacher();
  return metrics;
}

std::vector<store::LayerRecord> structuredLayerRecords(model::Model& model,
                                                       const std::vector<prune::GatedBlockRef>& blocks,
                                                       const prune::StructureValues& keep, double target) {
  prune::checkStructureValues(blocks, keep, "structured layer records", true);
  // Removed share per canonical module prefix "<stack>.blocks.<i>.<attn|cross|mlp>.".
  std::map<std::string, double> removed;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const auto& ref = blocks[b];
    const std::string block = ref.stack + ".blocks." + std::to_string(ref.block) + ".";
    const auto h = ref.layout.heads;
    if (keep.heads[b].defined() && h > 0) {
      const auto k = keep.heads[b].reshape({-1}).to(torch::kDouble);
      removed[block + "attn."] = 1.0 - k.narrow(0, 0, h).sum().item<double>() / static_cast<double>(h);
      if (ref.layout.attentionModules() == 2)
        removed[block + "cross."] = 1.0 - k.narrow(0, h, h).sum().item<double>() / static_cast<double>(h);
    }
    if (keep.neurons[b].defined() && ref.layout.mlpDim > 0)
      removed[block + "mlp."] = 1.0 - keep.neurons[b].to(torch::kDouble).sum().item<double>() /
                                          static_cast<double>(ref.layout.mlpDim);
  }
  std::vector<store::LayerRecord> out;
  for (const auto& l : model.linears()) {
    store::LayerRecord r;
    r.name = l.name;
    r.modality = l.modality;
    r.numel = l.layer->weight.numel();
    r.targetSparsity = target;
    const auto dot = l.name.rfind('.');
    auto it = dot == std::string::npos ? removed.end() : removed.find(l.name.substr(0, dot + 1));
    r.achievedSparsity = it == removed.end() ? 0.0 : it->second;
    out.push_back(r);
  }
  return out;
}

std::vector<store::MetricRecord> structureMetrics(const std::vector<prune::GatedBlockRef>& layout,
                                                  const prune::StructureValues& keep, const std::string& prefix,
                                                  const std::string& version) {
  std::vector<prune::GatedBlock> blocks;
  for (const auto& b : layout) blocks.push_back(b.layout);
  const auto size = prune::prunableSize(blocks);
  const auto kept = prune::expectedKeptParams(blocks, keep.heads, keep.neurons);
  std::vector<store::MetricRecord> out;
  out.push_back({prefix + "/achieved_sparsity",
                 1.0 - kept.total.item<double>() / static_cast<double>(size.total), 0, version});
  std::map<std::string, double> heads, neurons;
  for (std::size_t b = 0; b < layout.size(); ++b) {
    const auto& m = layout[b].layout.modality;
    if (keep.heads[b].defined()) heads[m] += keep.heads[b].sum().item<double>();
    if (keep.neurons[b].defined()) neurons[m] += keep.neurons[b].sum().item<double>();
  }
  for (const auto& [modality, total] : size.perModality) {
    out.push_back({prefix + "/" + modality + "/sparsity",
                   1.0 - kept.perModality.at(modality).item<double>() / static_cast<double>(total), 0, version});
    if (heads.count(modality)) out.push_back({prefix + "/" + modality + "/heads_kept", heads[modality], 0, version});
    if (neurons.count(modality))
      out.push_back({prefix + "/" + modality + "/neurons_kept", neurons[modality], 0, version});
  }
  return out;
}

}  // namespace prunelab::pruners
