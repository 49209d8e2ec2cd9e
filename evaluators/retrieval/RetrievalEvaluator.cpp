#include "evaluators/retrieval/RetrievalEvaluator.h"

#include <map>
#include <utility>

#include "evaluators/metrics/Retrieval.h"
#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"

namespace prunelab::evaluators {

namespace {

void addRecalls(std::vector<store::MetricRecord>& out, const std::string& prefix, const RetrievalRecall& r) {
  out.push_back({prefix + "i2t_r1", r.txtR1, 0, ""});
  out.push_back({prefix + "i2t_r5", r.txtR5, 0, ""});
  out.push_back({prefix + "i2t_r10", r.txtR10, 0, ""});
  out.push_back({prefix + "t2i_r1", r.imgR1, 0, ""});
  out.push_back({prefix + "t2i_r5", r.imgR5, 0, ""});
  out.push_back({prefix + "t2i_r10", r.imgR10, 0, ""});
  out.push_back({prefix + "txt_r_mean", r.txtRMean, 0, ""});
  out.push_back({prefix + "img_r_mean", r.imgRMean, 0, ""});
  out.push_back({prefix + "r_mean", r.rMean, 0, ""});
}

// BLIP's ITM stage: the top-k candidates of every image (i2t) and every text (t2i) by ITC similarity,
// re-scored as ITM logit + similarity, everything else -100; recalls of the re-scored matrices.
RetrievalRecall itmRecall(model::MatchingHead& head, const data::Dataset& split,
                          const std::vector<std::int64_t>& imageExamples, const torch::Tensor& textTokens,
                          const std::vector<float>& similarity, std::size_t numImages, std::size_t numTexts,
                          const std::vector<std::int64_t>& txt2img, std::int64_t k, std::int64_t pairsPerCall,
                          const std::string& label) {
  std::vector<float> transposed(similarity.size());
  for (std::size_t i = 0; i < numImages; ++i)
    for (std::size_t t = 0; t < numTexts; ++t) transposed[t * numImages + i] = similarity[i * numTexts + t];
  const auto i2tTop = topKIndices(similarity, numImages, numTexts, static_cast<std::size_t>(k));
  const auto t2iTop = topKIndices(transposed, numTexts, numImages, static_cast<std::size_t>(k));

  // Each distinct (image, text) pair once, in first-seen order.
  std::map<std::pair<std::int64_t, std::int64_t>, std::size_t> pairIndex;
  std::vector<std::int64_t> pairImage, pairText;
  auto pairOf = [&](std::int64_t image, std::int64_t text) {
    const auto [it, added] = pairIndex.emplace(std::make_pair(image, text), pairImage.size());
    if (added) {
      pairImage.push_back(image);
      pairText.push_back(text);
    }
    return it->second;
  };
  std::vector<std::vector<std::size_t>> i2tPairs(numImages), t2iPairs(numTexts);
  for (std::size_t i = 0; i < numImages; ++i)
    for (std::int64_t t : i2tTop[i]) i2tPairs[i].push_back(pairOf(static_cast<std::int64_t>(i), t));
  for (std::size_t t = 0; t < numTexts; ++t)
    for (std::int64_t i : t2iTop[t]) t2iPairs[t].push_back(pairOf(i, static_cast<std::int64_t>(t)));

  const auto numPairs = static_cast<std::int64_t>(pairImage.size());
  std::vector<float> logits(pairImage.size());
  const std::int64_t calls = (numPairs + pairsPerCall - 1) / pairsPerCall;
  Progress progress("evaluate retrieval/" + label + " itm", calls, "batch");
  for (std::int64_t c = 0; c < calls; ++c) {
    const std::int64_t begin = c * pairsPerCall, end = std::min(numPairs, begin + pairsPerCall);
    std::vector<std::int64_t> examples, texts;
    for (std::int64_t p = begin; p < end; ++p) {
      examples.push_back(imageExamples[static_cast<std::size_t>(pairImage[static_cast<std::size_t>(p)])]);
      texts.push_back(pairText[static_cast<std::size_t>(p)]);
    }
    const auto tokens = textTokens.index_select(0, torch::tensor(texts, torch::kInt64));
    auto l = head.matchLogits(split.get(examples), tokens).to(torch::kFloat).contiguous().reshape({-1});
    PL_CHECK(l.numel() == end - begin, "retrieval: matchLogits gave {} logits for {} pairs", l.numel(), end - begin);
    PL_CHECK(torch::isfinite(l).all().item<bool>(), "retrieval: the model produced NaN/Inf ITM logits on '{}'", label);
    std::copy(l.data_ptr<float>(), l.data_ptr<float>() + l.numel(), logits.begin() + begin);
    progress.advance();
  }
  progress.finish();

  auto gather = [&](const std::vector<std::vector<std::size_t>>& pairs) {
    std::vector<std::vector<float>> out(pairs.size());
    for (std::size_t r = 0; r < pairs.size(); ++r)
      for (std::size_t p : pairs[r]) out[r].push_back(logits[p]);
    return out;
  };
  const auto scoresI2t = itmRerankScores(similarity, numImages, numTexts, i2tTop, gather(i2tPairs));
  const auto scoresT2i = itmRerankScores(transposed, numTexts, numImages, t2iTop, gather(t2iPairs));
  return retrievalRecall(scoresI2t, scoresT2i, numImages, numTexts, txt2img);
}

}  // namespace

std::vector<store::MetricRecord> RetrievalEvaluator::evaluate(run::EvalContext& ctx) {
  auto* head = dynamic_cast<model::ContrastiveHead*>(&ctx.model);
  PL_CHECK(head != nullptr,
           "evaluator 'retrieval' needs a model with image and text embeddings (a ContrastiveHead, e.g. "
           "model=mini_clip); model '{}' has none: choose another evaluator or model",
           c10::demangle(typeid(ctx.model).name()));
  auto* matcher = dynamic_cast<model::MatchingHead*>(&ctx.model);
  PL_CHECK(options_.itm_k == 0 || matcher != nullptr,
           "retrieval: itm_k={} re-ranks with an image-text matching head (a model::MatchingHead, e.g. "
           "model=mini_blip2), which model '{}' has not: set eval.*.itm_k=0 for ITC-only retrieval, or choose such a "
           "model",
           options_.itm_k, c10::demangle(typeid(ctx.model).name()));
  auto split = ctx.data.split(options_.split);
  data::BatchSampler sampler(*split, options_.batch_size, false, 0, options_.limit);
  torch::NoGradGuard noGrad;
  ctx.model.module().eval();
  std::vector<torch::Tensor> images, texts, textTokens;
  std::vector<std::int64_t> txt2img, imageExamples;
  std::int64_t numImages = 0;
  Progress progress("evaluate retrieval/" + options_.split, sampler.numBatches(), "batch");
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
    const auto indices = sampler.indices(b);
    auto batch = split->get(indices);
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
    PL_CHECK((img.dim() == 2 || img.dim() == 3) && img.size(0) == n, "retrieval: imageEmbeddings gave {} for {} images",
             c10::str(img.sizes()), n);
    images.push_back(img.to(torch::kFloat));
    if (keep.numel() > 0) {
      auto kept = rows.index_select(0, keep);
      texts.push_back(head->textEmbeddings(kept).to(torch::kFloat));
      if (options_.itm_k > 0) textTokens.push_back(kept);
    }
    imageExamples.insert(imageExamples.end(), indices.begin(), indices.end());
    numImages += n;
    progress.advance();
  }
  progress.finish();
  PL_CHECK(numImages > 0, "split '{}' is empty: nothing to evaluate", options_.split);
  PL_CHECK(!texts.empty(), "split '{}' has no captions: nothing to retrieve", options_.split);
  // The model's ITC similarity: dot products, or BLIP-2's max over query embeddings.
  auto sim = head->similarity(torch::cat(images), torch::cat(texts)).to(torch::kFloat).contiguous();
  PL_CHECK(torch::isfinite(sim).all().item<bool>(), "retrieval: the model produced NaN/Inf embeddings on '{}'",
           options_.split);
  const auto numTexts = static_cast<std::size_t>(sim.size(1));
  std::vector<float> similarity(sim.data_ptr<float>(), sim.data_ptr<float>() + sim.numel());
  const auto r = retrievalRecall(similarity, static_cast<std::size_t>(numImages), numTexts, txt2img);

  const std::string prefix = "ret/" + ctx.data.name() + "/" + options_.split + "/";
  std::vector<store::MetricRecord> out;
  addRecalls(out, prefix, r);
  out.push_back({prefix + "images", static_cast<double>(numImages), 0, ""});
  out.push_back({prefix + "texts", static_cast<double>(numTexts), 0, ""});
  if (options_.itm_k > 0) {
    const auto itm = itmRecall(*matcher, *split, imageExamples, torch::cat(textTokens), similarity,
                               static_cast<std::size_t>(numImages), numTexts, txt2img, options_.itm_k,
                               options_.batch_size, options_.split);
    addRecalls(out, prefix + "itm_", itm);
  }
  return out;
}

}  // namespace prunelab::evaluators
