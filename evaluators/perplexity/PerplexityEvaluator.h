#pragma once

#include <cstdint>
#include <string>

#include "evaluators/metrics/EvaluatorVersions.h"
#include "framework/core/Error.h"
#include "framework/run/Evaluator.h"

namespace prunelab::evaluators {

/// Perplexity of a model with a LanguageModelHead on a text split (field "tokens" [B,T], [PAD] =
/// 0), by the WikiText-2 protocol of Wanda/SparseGPT (spec-conventions-metrics.md §3e, Perplexity.h):
/// the non-padding tokens of the split, row after row (each row keeps its [BOS] ... [EOS], the
/// counterpart of joining documents with "\n\n"), form one stream, cut into chunks of seq_len
/// tokens with the tail dropped; ppl = exp(mean over chunks of the mean cross-entropy of the L-1
/// predicted tokens).
///
/// Baseline on exactly the same predicted tokens: a unigram model estimated on the non-padding
/// tokens of `unigram_split` with add-one (Laplace) smoothing over the model's whole vocabulary V,
/// p(w) = (count(w) + 1) / (N + V), so every id the model can emit has a probability.
///
/// Metrics under lm/<dataset>/<split without "lm_">/: ppl, unigram_ppl, chunks, tokens (predicted).
class PerplexityEvaluator : public run::Evaluator {
 public:
  struct Options {
    std::string split = "lm_test";
    std::string unigram_split = "lm_train";
    std::int64_t seq_len = 0;
    std::int64_t batch_size = 32;
    std::int64_t limit = -1;

    template <class V>
    void visit(V& v) {
      v(split, "split", "text split to evaluate (field 'tokens')");
      v(unigram_split, "unigram_split", "split the add-one unigram baseline is estimated on");
      v(seq_len, "seq_len", "chunk length L (0 = the model's max length, as Wanda uses max_position_embeddings)");
      v(batch_size, "batch_size", "chunks per model call");
      v(limit, "limit", "evaluate only the first N chunks (-1 = all)");
    }
    void validate() const {
      PL_CHECK(seq_len == 0 || seq_len >= 2, "seq_len must be 0 (model max length) or >= 2, got {}", seq_len);
      PL_CHECK(batch_size > 0, "batch_size must be positive, got {}", batch_size);
      PL_CHECK(limit == -1 || limit > 0, "limit must be -1 (all) or positive, got {}", limit);
    }
  };

  explicit PerplexityEvaluator(Options options) : options_(std::move(options)) {}
  std::string version() const override { return kPerplexityEvaluatorVersion; }
  std::vector<store::MetricRecord> evaluate(run::EvalContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::evaluators
