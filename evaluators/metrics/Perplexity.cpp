#include "evaluators/metrics/Perplexity.h"

#include <cmath>

#include "framework/core/Error.h"

namespace prunelab::evaluators {

ChunkPlan planChunks(std::int64_t numTokens, std::int64_t seqLen) {
  PL_CHECK(seqLen >= 2, "perplexity chunks need seqLen >= 2 (one predicted token at least), got {}", seqLen);
  PL_CHECK(numTokens >= seqLen,
           "only {} tokens for chunks of {}: no full chunk to evaluate; use a shorter seqLen or the full test split",
           numTokens, seqLen);
  ChunkPlan plan;
  plan.seqLen = seqLen;
  plan.numChunks = numTokens / seqLen;
  plan.droppedTokens = numTokens - plan.numChunks * seqLen;
  return plan;
}

double perplexityFromChunkLosses(const std::vector<double>& meanCrossEntropy, std::int64_t seqLen) {
  PL_CHECK(!meanCrossEntropy.empty(), "perplexity of zero chunks is undefined; evaluate at least one chunk");
  PL_CHECK(seqLen >= 2, "perplexity needs seqLen >= 2, got {}", seqLen);
  const auto length = static_cast<double>(seqLen);
  double nllSum = 0.0;
  for (std::size_t i = 0; i < meanCrossEntropy.size(); ++i) {
    const double ce = meanCrossEntropy[i];
    PL_CHECK(!std::isnan(ce), "chunk {} has a NaN mean cross-entropy; the model produced NaN logits", i);
    PL_CHECK(ce >= 0.0, "chunk {} has a negative mean cross-entropy ({}); pass losses in nats, not log-likelihoods", i,
             ce);
    nllSum += ce * length;
  }
  return std::exp(nllSum / (static_cast<double>(meanCrossEntropy.size()) * length));
}

}  // namespace prunelab::evaluators
