#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "evaluators/metrics/EvaluatorVersions.h"
#include "framework/core/Error.h"
#include "framework/run/Evaluator.h"

namespace prunelab::evaluators {

/// CLIP zero-shot classification (spec-conventions-metrics.md §3d, ZeroShot.h) for a model with a
/// ContrastiveHead on a split of single-item images ("images", "labels" [B]): per class, the
/// prompt templates filled with the class name are embedded, normalised, averaged and
/// re-normalised; logits = 100 · image embedding · classifier.
///
/// Class names and the tokenizer come from the data source, a data::TextSource (FashionScenes: its
/// 10 class names and closed word vocabulary), so every template word must be in that vocabulary;
/// an unknown word, or a prompt longer than the source's text length, is an error naming it. In a template, "{}" is the class name and "{a}" the class name with its
/// article ("a t-shirt", "an ankle boot"). The default templates are the caption forms the scenes
/// are described with (caption templates of SceneGenerator), for a scene holding that one item,
/// plus CLIP's plain "a photo of a {}":
///   "a photo of {a}.", "a picture of {a}.", "there is one {} in the picture.",
///   "one item: {a}.", "the only item is {a}."
///
/// Metrics (fractions in [0,1], as open_clip / CLIP_benchmark report them) under
/// zs/<dataset>/<split>/: acc1, acc5 (absent with fewer than 5 classes), mean_per_class_recall,
/// count.
class ZeroShotEvaluator : public run::Evaluator {
 public:
  struct Options {
    std::string split = "zeroshot";
    std::vector<std::string> templates = {"a photo of {a}.", "a picture of {a}.", "there is one {} in the picture.",
                                          "one item: {a}.", "the only item is {a}."};
    std::int64_t batch_size = 512;
    std::int64_t limit = -1;

    template <class V>
    void visit(V& v) {
      v(split, "split", "split of single-item images with 'images' and 'labels' [B]");
      v(templates, "templates",
        "prompt templates; '{}' = class name, '{a}' = class name with a/an; words must be in the tokenizer's "
        "vocabulary");
      v(batch_size, "batch_size", "images per model call");
      v(limit, "limit", "evaluate only the first N images (-1 = all)");
    }
    void validate() const;
  };

  explicit ZeroShotEvaluator(Options options) : options_(std::move(options)) {}
  std::string version() const override { return kZeroShotEvaluatorVersion; }
  std::vector<store::MetricRecord> evaluate(run::EvalContext& ctx) override;

  /// The prompt texts of one class: every template filled with `className`.
  static std::vector<std::string> prompts(const std::vector<std::string>& templates, const std::string& className);

  /// Scores `split` given the token ids of each class's prompts (promptTokens[c] = [templates, T],
  /// [PAD] = 0): the part of evaluate() after tokenization. Metric keys start with `prefix`.
  std::vector<store::MetricRecord> score(model::ContrastiveHead& head, const data::Dataset& split,
                                         const std::vector<torch::Tensor>& promptTokens,
                                         const std::string& prefix) const;

 private:
  Options options_;
};

}  // namespace prunelab::evaluators
