#include "evaluators/retrieval/RetrievalEvaluator.h"

#include "evaluators/metrics/Retrieval.h"
#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"

namespace prunelab::evaluators {

std::vector<store::MetricRecord> RetrievalEvaluator::evaluate(run::EvalContext& ctx) {
  auto* head = dynamic_cast<model::ContrastiveHead*>(&ctx.model);
  PL_CHECK(head != nullptr,
           "evaluator 'retrieval' needs a model with image and text embeddings (a ContrastiveHead, e.g. "
           "model=mini_clip); model '{}' has none: choose another evaluator or model",
           c10::demangle(typeid(ctx.model).name()));
  auto split = ctx.data.split(options_.split);
  data::BatchSampler sampler(*split, options_.batch_size, false, 0, options_.limit);
  torch::NoGradGuard noGrad;
  ctx.model.module().eval();
  std::vector<torch::Tensor> images, texts;
  std::vector<std::int64_t> txt2img;
  std::int64_t numImages = 0;
  Progress progress("evaluate retrieval/" + options_.split, sampler.numBatches(), "batch");
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
    auto batch = sampler.batch(b);
    const auto& all = batch.at("all_captions");
    PL_CHECK(all.dim() == 3, "retrieval: 'all_captions' must be [batch, captions, length], got {}",
             c10::str(all.sizes()));
    const std::int64_t n = all.size(0), c = all.size(1);
    auto rows = all.reshape({n * c, all.size(2)});
    auto present = rows.ne(0).any(1);
    auto keep = present.nonzero().squeeze(1);
    auto presentAcc = present.accessor<bool, 1>();
    for (std::int64_t r = 0; r < n * c; ++r)
      if (presentAcc[r]) txt2img.push_back(numImages + r / c);
    auto img = head->imageEmbeddings(batch);
    PL_CHECK(img.dim() == 2 && img.size(0) == n, "retrieval: imageEmbeddings gave {} for {} images",
             c10::str(img.sizes()), n);
    images.push_back(img.to(torch::kFloat));
    if (keep.numel() > 0) texts.push_back(head->textEmbeddings(rows.index_select(0, keep)).to(torch::kFloat));
    numImages += n;
    progress.advance();
  }
  progress.finish();
  PL_CHECK(numImages > 0, "split '{}' is empty: nothing to evaluate", options_.split);
  PL_CHECK(!texts.empty(), "split '{}' has no captions: nothing to retrieve", options_.split);
  auto sim = torch::matmul(torch::cat(images), torch::cat(texts).t()).contiguous();
  PL_CHECK(torch::isfinite(sim).all().item<bool>(), "retrieval: the model produced NaN/Inf embeddings on '{}'",
           options_.split);
  const auto numTexts = static_cast<std::size_t>(sim.size(1));
  std::vector<float> similarity(sim.data_ptr<float>(), sim.data_ptr<float>() + sim.numel());
  const auto r = retrievalRecall(similarity, static_cast<std::size_t>(numImages), numTexts, txt2img);

  const std::string prefix = "ret/" + ctx.data.name() + "/" + options_.split + "/";
  return {{prefix + "i2t_r1", r.txtR1, 0, ""},
          {prefix + "i2t_r5", r.txtR5, 0, ""},
          {prefix + "i2t_r10", r.txtR10, 0, ""},
          {prefix + "t2i_r1", r.imgR1, 0, ""},
          {prefix + "t2i_r5", r.imgR5, 0, ""},
          {prefix + "t2i_r10", r.imgR10, 0, ""},
          {prefix + "txt_r_mean", r.txtRMean, 0, ""},
          {prefix + "img_r_mean", r.imgRMean, 0, ""},
          {prefix + "r_mean", r.rMean, 0, ""},
          {prefix + "images", static_cast<double>(numImages), 0, ""},
          {prefix + "texts", static_cast<double>(numTexts), 0, ""}};
}

}  // namespace prunelab::evaluators
