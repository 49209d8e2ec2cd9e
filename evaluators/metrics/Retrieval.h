#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace prunelab::evaluators {

// Image-text retrieval recall as BLIP's train_retrieval.itm_eval / LAVIS compute_sim_matrix report it:
//  - i2t rank of an image = the best (smallest) 0-based position of any of its GT captions when the
//    image's row of scores is sorted in descending order; t2i rank of a text = the position of its image;
//  - R@K = 100 * #{rank < K} / N for K = 1, 5, 10; txt_r_mean = mean(txt R@1,5,10) (i2t),
//    img_r_mean likewise (t2i), r_mean = (txt_r_mean + img_r_mean) / 2 (LAVIS agg_metrics = txt_r_mean).
//
// Ties: BLIP sorts with np.argsort(score)[::-1], whose order among equal scores is not specified
// (numpy's introsort keeps index order only for short rows, and the reversal then puts the higher
// index first). Here ties are broken deterministically by RetrievalTieBreak; the default,
// kLowerIndexFirst, is np.argsort(-score, kind="stable"). Ranks are computed by counting (no sort):
// rank(t) = #{k : s_k > s_t} + #{k tied with t and ordered before it}.
// An image without any GT caption gets rank kMissingRank (a miss at every K, like BLIP's 1e20).
// NaN scores throw.

/// i2t rank of an image that has no GT caption: larger than any K, so it never counts as a hit.
constexpr std::int64_t kMissingRank = std::numeric_limits<std::int64_t>::max();

/// How equal scores are ordered when ranking.
enum class RetrievalTieBreak {
  kLowerIndexFirst,   // stable descending sort (np.argsort(-s, kind="stable"))
  kHigherIndexFirst,  // reversed stable ascending sort (what np.argsort(s)[::-1] gives on short rows)
};

/// Recalls in percent (0..100) and the raw ranks.
struct RetrievalRecall {
  double txtR1 = 0, txtR5 = 0, txtR10 = 0, txtRMean = 0;  // image -> text (i2t)
  double imgR1 = 0, imgR5 = 0, imgR10 = 0, imgRMean = 0;  // text -> image (t2i)
  double rMean = 0;
  std::vector<std::int64_t> i2tRanks;  // per image, 0-based (kMissingRank: no GT caption)
  std::vector<std::int64_t> t2iRanks;  // per text, 0-based
};

/// 0-based position of `target` in `row` (length n) sorted by descending score under `tie`.
std::int64_t descendingRank(const float* row, std::size_t n, std::size_t target,
                            RetrievalTieBreak tie = RetrievalTieBreak::kLowerIndexFirst);

/// Recalls from separate score matrices (they differ after ITM re-ranking):
/// scoresI2t is numImages x numTexts, scoresT2i is numTexts x numImages, both row-major;
/// txt2img[t] is the image of text t.
RetrievalRecall retrievalRecall(const std::vector<float>& scoresI2t, const std::vector<float>& scoresT2i,
                                std::size_t numImages, std::size_t numTexts, const std::vector<std::int64_t>& txt2img,
                                RetrievalTieBreak tie = RetrievalTieBreak::kLowerIndexFirst);

/// ITC-only recalls from one similarity matrix (numImages x numTexts); t2i uses its transpose.
RetrievalRecall retrievalRecall(const std::vector<float>& similarity, std::size_t numImages, std::size_t numTexts,
                                const std::vector<std::int64_t>& txt2img,
                                RetrievalTieBreak tie = RetrievalTieBreak::kLowerIndexFirst);

/// Indices of the k best columns of each row (descending, ties by `tie`): BLIP's sims.topk(k_test).
/// k is clamped to the number of columns.
std::vector<std::vector<std::int64_t>> topKIndices(const std::vector<float>& scores, std::size_t rows, std::size_t cols,
                                                   std::size_t k,
                                                   RetrievalTieBreak tie = RetrievalTieBreak::kLowerIndexFirst);

/// BLIP's ITM re-ranked score matrix: every entry -100, except row q at column topK[q][j], which
/// gets itmLogits[q][j] + itc[q][topK[q][j]] (the raw ITM "match" logit plus the ITC similarity).
/// itc is rows x cols row-major; topK and itmLogits have one entry per row, of equal lengths.
std::vector<float> itmRerankScores(const std::vector<float>& itc, std::size_t rows, std::size_t cols,
                                   const std::vector<std::vector<std::int64_t>>& topK,
                                   const std::vector<std::vector<float>>& itmLogits);

}  // namespace prunelab::evaluators
