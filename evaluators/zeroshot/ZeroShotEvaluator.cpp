#include "evaluators/zeroshot/ZeroShotEvaluator.h"

#include <algorithm>

#include "evaluators/common/TextTask.h"
#include "evaluators/metrics/ZeroShot.h"
#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"

namespace prunelab::evaluators {

namespace {

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

std::string withArticle(const std::string& name) {
  const bool vowel = !name.empty() && std::string("aeiouAEIOU").find(name[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + name;
}

}  // namespace

void ZeroShotEvaluator::Options::validate() const {
  PL_CHECK(!templates.empty(), "zeroshot: templates must list at least one prompt, e.g. ['a photo of {a}.']");
  for (const auto& t : templates)
    PL_CHECK(t.find("{}") != std::string::npos || t.find("{a}") != std::string::npos,
             "zeroshot: template '{}' has no '{{}}' or '{{a}}' for the class name", t);
  PL_CHECK(batch_size > 0, "batch_size must be positive, got {}", batch_size);
  PL_CHECK(limit == -1 || limit > 0, "limit must be -1 (all) or positive, got {}", limit);
}

std::vector<std::string> ZeroShotEvaluator::prompts(const std::vector<std::string>& templates,
                                                    const std::string& className) {
  std::vector<std::string> out;
  for (const auto& t : templates)
    out.push_back(fillPlaceholder(replaceAll(t, "{a}", withArticle(className)), className));
  return out;
}

std::vector<store::MetricRecord> ZeroShotEvaluator::evaluate(run::EvalContext& ctx) {
  auto* head = dynamic_cast<model::ContrastiveHead*>(&ctx.model);
  PL_CHECK(head != nullptr,
           "evaluator 'zeroshot' needs a model with image and text embeddings (a ContrastiveHead, e.g. "
           "model=mini_clip); model '{}' has none: choose another evaluator or model",
           c10::demangle(typeid(ctx.model).name()));
  // The prompts are words: they need the data source's class names and tokenizer.
  const data::TextSource& text = requireTextSource(ctx.data, "zeroshot", "class names and a tokenizer");
  const std::int64_t maxLen = text.maxTextLength();
  std::vector<torch::Tensor> promptTokens;
  for (const auto& name : text.classNames()) {
    const auto texts = prompts(options_.templates, name);
    auto tokens = torch::zeros({static_cast<std::int64_t>(texts.size()), maxLen}, torch::kInt64);
    auto acc = tokens.accessor<std::int64_t, 2>();
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const auto unknown = unknownWords(text, texts[i]);
      PL_CHECK(unknown.empty(),
               "zeroshot: the word '{}' of prompt '{}' is not in the tokenizer's vocabulary: change eval.*.templates",
               unknown.empty() ? "" : unknown.front(), texts[i]);
      const auto ids = text.encodeText(texts[i], -1, true, true);
      PL_CHECK(static_cast<std::int64_t>(ids.size()) <= maxLen,
               "zeroshot: prompt '{}' is longer than max_text_len ({})", texts[i], maxLen);
      for (std::size_t j = 0; j < ids.size(); ++j)
        acc[static_cast<std::int64_t>(i)][static_cast<std::int64_t>(j)] = ids[j];
    }
    promptTokens.push_back(tokens);
  }
  auto split = ctx.data.split(options_.split);
  return score(*head, *split, promptTokens, "zs/" + ctx.data.name() + "/" + options_.split + "/");
}

std::vector<store::MetricRecord> ZeroShotEvaluator::score(model::ContrastiveHead& head, const data::Dataset& split,
                                                          const std::vector<torch::Tensor>& promptTokens,
                                                          const std::string& prefix) const {
  PL_CHECK(!promptTokens.empty(), "zeroshot: no classes");
  torch::NoGradGuard noGrad;
  // The classifier W [dim, classes], by the open_clip recipe (buildZeroShotClassifier).
  std::vector<std::vector<float>> templateEmbeddings;
  std::size_t dim = 0;
  for (const auto& tokens : promptTokens) {
    auto e = head.textEmbeddings(tokens).to(torch::kFloat).contiguous();
    dim = static_cast<std::size_t>(e.size(1));
    templateEmbeddings.emplace_back(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
  }
  const auto classifier = buildZeroShotClassifier(templateEmbeddings, dim);
  const std::size_t classes = promptTokens.size();

  data::BatchSampler sampler(split, options_.batch_size, false, 0, options_.limit);
  std::vector<float> logits;
  std::vector<std::int64_t> targets;
  Progress progress("evaluate zeroshot", sampler.numBatches(), "batch");
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
    auto batch = sampler.batch(b);
    auto img = head.imageEmbeddings(batch).to(torch::kFloat).contiguous();
    PL_CHECK(img.dim() == 2 && static_cast<std::size_t>(img.size(1)) == dim,
             "zeroshot: image embeddings {} do not match the text embeddings' width {}", c10::str(img.sizes()), dim);
    const auto n = static_cast<std::size_t>(img.size(0));
    auto l = zeroShotLogits(std::vector<float>(img.data_ptr<float>(), img.data_ptr<float>() + img.numel()), n,
                            classifier, dim, classes);
    logits.insert(logits.end(), l.begin(), l.end());
    auto labels = batch.at("labels").to(torch::kInt64).contiguous();
    PL_CHECK(labels.dim() == 1, "zeroshot: 'labels' must be [batch] (one class per image), got {}",
             c10::str(labels.sizes()));
    targets.insert(targets.end(), labels.data_ptr<std::int64_t>(), labels.data_ptr<std::int64_t>() + labels.numel());
    progress.advance();
  }
  progress.finish();
  PL_CHECK(!targets.empty(), "the zero-shot split is empty: nothing to evaluate");
  const auto acc = zeroShotAccuracy(logits, targets.size(), classes, targets);
  std::vector<store::MetricRecord> out;
  out.push_back({prefix + "acc1", acc.top1, 0, ""});
  if (acc.top5) out.push_back({prefix + "acc5", *acc.top5, 0, ""});
  out.push_back({prefix + "mean_per_class_recall", acc.meanPerClassRecall, 0, ""});
  out.push_back({prefix + "count", static_cast<double>(acc.numImages), 0, ""});
  return out;
}

}  // namespace prunelab::evaluators
