#pragma once

#include <cstdint>
#include <vector>

namespace prunelab::evaluators {

// WikiText-2 perplexity as Wanda/SparseGPT compute it (lib/eval.py eval_ppl_wikitext):
//  1. join the test rows with "\n\n" and tokenize once (LLaMA adds one BOS at the start);
//  2. cut n = floor(numTokens / L) chunks of L = seqlen tokens; the tail is dropped;
//  3. per chunk, NLL_i = (mean cross-entropy over the L-1 shifted positions) * L;
//  4. ppl = exp(sum_i NLL_i / (n * L)).
// Multiplying by L and dividing by n * L cancels, so ppl = exp(mean of the chunk mean CEs); the L is
// kept so the arithmetic is the reference's. Computed in double (the reference sums float32 values,
// so it can differ in the 7th significant digit).

/// How a token stream is cut into evaluation chunks.
struct ChunkPlan {
  std::int64_t numChunks = 0;      // n = floor(numTokens / seqLen)
  std::int64_t seqLen = 0;         // L
  std::int64_t droppedTokens = 0;  // the tail: numTokens - n * L
  /// First token of chunk i (chunks are [i*L, (i+1)*L)).
  std::int64_t begin(std::int64_t i) const { return i * seqLen; }
};

/// Plans the chunks of a numTokens-long stream. Throws when seqLen < 2 or fewer than seqLen tokens exist.
ChunkPlan planChunks(std::int64_t numTokens, std::int64_t seqLen);

/// exp(sum(meanCe_i * L) / (n * L)) over the per-chunk mean cross-entropies (natural log, nats).
/// Throws on an empty list, seqLen < 2, a NaN or a negative value; an infinite loss gives +inf
/// (a diverged model has infinite perplexity, which is a result, not an error).
double perplexityFromChunkLosses(const std::vector<double>& meanCrossEntropy, std::int64_t seqLen);

}  // namespace prunelab::evaluators
