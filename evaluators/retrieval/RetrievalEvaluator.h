#pragma once

#include <cstdint>
#include <string>

#include "evaluators/metrics/EvaluatorVersions.h"
#include "framework/core/Error.h"
#include "framework/run/Evaluator.h"

namespace prunelab::evaluators {

/// Image-text retrieval by ITC similarity (spec-conventions-metrics.md §3c, Retrieval.h) for a model
/// with a ContrastiveHead: every image of `split` (field "images") against every caption of every
/// image (field "all_captions" [B,C,T]; all-[PAD] rows are absent captions), s = normalised image
/// embedding · normalised text embedding (no temperature). i2t rank = the best position of any of
/// the image's captions; t2i rank = the position of the caption's image; ties: lower index first.
///
/// With itm_k > 0 (BLIP-2: 128) and a model that is also a MatchingHead, the ITC ranking is then
/// re-ranked as BLIP/LAVIS do: for each image its top itm_k texts by s get score = ITM "match" logit
/// + s, every other text -100; t2i the same way with each text's top itm_k images. A pair that is
/// among both an image's and a text's candidates is scored once (the logit does not depend on the
/// direction). Ties: lower index first, as for ITC.
///
/// Metrics (percent, 0-100) under ret/<dataset>/<split>/: i2t_r1, i2t_r5, i2t_r10, t2i_r1, t2i_r5,
/// t2i_r10, txt_r_mean (mean of i2t R@1/5/10, LAVIS agg_metrics), img_r_mean (t2i), r_mean, and
/// the counts images and texts. These are always the ITC-only recalls; with ITM re-ranking the
/// re-ranked recalls follow as itm_i2t_r1 ... itm_r_mean.
class RetrievalEvaluator : public run::Evaluator {
 public:
  struct Options {
    std::string split = "test";
    std::int64_t batch_size = 256;
    std::int64_t limit = -1;
    std::int64_t itm_k = 0;

    template <class V>
    void visit(V& v) {
      v(split, "split", "scene split whose images and 'all_captions' are ranked against each other");
      v(batch_size, "batch_size", "images per model call (their captions go in the same call); pairs per ITM call");
      v(limit, "limit", "use only the first N images and their captions (-1 = all)");
      v(itm_k, "itm_k",
        "re-rank each image's and each text's top k ITC candidates by ITM logit + ITC similarity (0 = off; BLIP-2: "
        "128); needs a model with a MatchingHead");
    }
    void validate() const {
      PL_CHECK(batch_size > 0, "batch_size must be positive, got {}", batch_size);
      PL_CHECK(limit == -1 || limit > 0, "limit must be -1 (all) or positive, got {}", limit);
      PL_CHECK(itm_k >= 0, "itm_k must be 0 (no ITM re-ranking) or positive, got {}", itm_k);
    }
  };

  explicit RetrievalEvaluator(Options options) : options_(std::move(options)) {}
  std::string version() const override { return kRetrievalEvaluatorVersion; }
  std::vector<store::MetricRecord> evaluate(run::EvalContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::evaluators
