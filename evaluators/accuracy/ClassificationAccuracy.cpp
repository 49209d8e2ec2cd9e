#include "evaluators/accuracy/ClassificationAccuracy.h"

#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"

namespace prunelab::evaluators {

std::vector<store::MetricRecord> ClassificationAccuracy::evaluate(run::EvalContext& ctx) {
  auto* head = dynamic_cast<model::ClassifierHead*>(&ctx.model);
  PL_CHECK(head != nullptr, "evaluator 'accuracy' needs a model with class logits (a ClassifierHead); this model has "
           "none: choose another evaluator or model");
  auto split = ctx.data.split(options_.split);
  data::BatchSampler sampler(*split, options_.batch_size, false, 0, options_.limit);
  const int classes = head->numClasses();
  std::vector<std::int64_t> perClassTotal(static_cast<std::size_t>(classes)),
      perClassHit(static_cast<std::size_t>(classes));
  std::int64_t total = 0, top1 = 0, top5 = 0;
  torch::NoGradGuard noGrad;
  ctx.model.module().eval();
  Progress progress("evaluate accuracy/" + options_.split, sampler.numBatches(), "batch");
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
    auto batch = sampler.batch(b);
    auto logits = head->classLogits(batch);
    const auto& labels = batch.at("labels");
    PL_CHECK(torch::isfinite(logits).all().item<bool>(), "the model produced NaN/Inf logits on {} batch {}",
             options_.split, b);
    auto pred = logits.argmax(1);
    auto hit = pred.eq(labels);
    top1 += hit.sum().item<std::int64_t>();
    if (classes >= 5) {
      auto top = std::get<1>(logits.topk(5, 1));
      top5 += top.eq(labels.unsqueeze(1)).any(1).sum().item<std::int64_t>();
    }
    auto labelsAcc = labels.accessor<std::int64_t, 1>();
    auto hitAcc = hit.accessor<bool, 1>();
    for (std::int64_t i = 0; i < labels.size(0); ++i) {
      PL_CHECK(labelsAcc[i] >= 0 && labelsAcc[i] < classes, "label {} outside the model's {} classes", labelsAcc[i],
               classes);
      ++perClassTotal[static_cast<std::size_t>(labelsAcc[i])];
      perClassHit[static_cast<std::size_t>(labelsAcc[i])] += hitAcc[i] ? 1 : 0;
    }
    total += labels.size(0);
    progress.advance();
  }
  progress.finish();
  PL_CHECK(total > 0, "split '{}' is empty: nothing to evaluate", options_.split);
  double recallSum = 0;
  int present = 0;
  for (int c = 0; c < classes; ++c) {
    if (perClassTotal[static_cast<std::size_t>(c)] == 0) continue;
    recallSum += static_cast<double>(perClassHit[static_cast<std::size_t>(c)]) /
                 static_cast<double>(perClassTotal[static_cast<std::size_t>(c)]);
    ++present;
  }
  const std::string prefix = "cls/" + ctx.data.name() + "/" + options_.split + "/";
  std::vector<store::MetricRecord> out;
  out.push_back({prefix + "acc", 100.0 * static_cast<double>(top1) / static_cast<double>(total), 0, ""});
  if (classes >= 5) out.push_back({prefix + "acc5", 100.0 * static_cast<double>(top5) / static_cast<double>(total), 0, ""});
  out.push_back({prefix + "mean_per_class_recall", 100.0 * recallSum / present, 0, ""});
  out.push_back({prefix + "count", static_cast<double>(total), 0, ""});
  return out;
}

}  // namespace prunelab::evaluators
