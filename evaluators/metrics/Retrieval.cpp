#include "evaluators/metrics/Retrieval.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "framework/core/Error.h"

namespace prunelab::evaluators {

namespace {

// True when column a comes before column b in the ranking of `row`.
bool before(const float* row, std::size_t a, std::size_t b, RetrievalTieBreak tie) {
  if (row[a] != row[b]) {
    return row[a] > row[b];
  }
  return tie == RetrievalTieBreak::kLowerIndexFirst ? a < b : a > b;
}

void checkRowFinite(const float* row, std::size_t n, const char* what, std::size_t rowIndex) {
  for (std::size_t k = 0; k < n; ++k) {
    PL_CHECK(!std::isnan(row[k]),
             "{} score matrix has NaN at row {}, column {}; recall is undefined with NaN scores "
             "(check the model outputs, e.g. for a division by a zero norm)",
             what, rowIndex, k);
  }
}

double recallAt(const std::vector<std::int64_t>& ranks, std::int64_t k) {
  const auto hits = std::count_if(ranks.begin(), ranks.end(), [k](std::int64_t r) { return r < k; });
  return 100.0 * static_cast<double>(hits) / static_cast<double>(ranks.size());
}

void checkShapes(std::size_t numImages, std::size_t numTexts, const std::vector<std::int64_t>& txt2img) {
  PL_CHECK(numImages > 0 && numTexts > 0, "retrieval needs at least one image and one text, got {} x {}", numImages,
           numTexts);
  PL_CHECK(txt2img.size() == numTexts, "txt2img has {} entries but there are {} texts; give every text its image",
           txt2img.size(), numTexts);
  for (std::size_t t = 0; t < numTexts; ++t) {
    PL_CHECK(txt2img[t] >= 0 && static_cast<std::size_t>(txt2img[t]) < numImages,
             "txt2img[{}] = {} is not an image index in [0, {})", t, txt2img[t], numImages);
  }
}

}  // namespace

std::int64_t descendingRank(const float* row, std::size_t n, std::size_t target, RetrievalTieBreak tie) {
  PL_CHECK(target < n, "rank target {} is outside a row of {} scores", target, n);
  std::int64_t rank = 0;
  for (std::size_t k = 0; k < n; ++k) {
    rank += (k != target && before(row, k, target, tie)) ? 1 : 0;
  }
  return rank;
}

RetrievalRecall retrievalRecall(const std::vector<float>& scoresI2t, const std::vector<float>& scoresT2i,
                                std::size_t numImages, std::size_t numTexts, const std::vector<std::int64_t>& txt2img,
                                RetrievalTieBreak tie) {
  checkShapes(numImages, numTexts, txt2img);
  PL_CHECK(scoresI2t.size() == numImages * numTexts,
           "i2t scores have {} entries, expected numImages x numTexts = {} x {}", scoresI2t.size(), numImages,
           numTexts);
  PL_CHECK(scoresT2i.size() == numImages * numTexts,
           "t2i scores have {} entries, expected numTexts x numImages = {} x {}", scoresT2i.size(), numTexts,
           numImages);
  std::vector<std::vector<std::size_t>> img2txt(numImages);
  for (std::size_t t = 0; t < numTexts; ++t) {
    img2txt[static_cast<std::size_t>(txt2img[t])].push_back(t);
  }
  RetrievalRecall out;
  out.i2tRanks.resize(numImages);
  for (std::size_t i = 0; i < numImages; ++i) {
    const float* row = scoresI2t.data() + i * numTexts;
    checkRowFinite(row, numTexts, "i2t", i);
    if (img2txt[i].empty()) {
      out.i2tRanks[i] = kMissingRank;
      continue;
    }
    // The GT caption ranked first has the smallest rank of all GT captions.
    std::size_t best = img2txt[i].front();
    for (std::size_t t : img2txt[i]) {
      best = before(row, t, best, tie) ? t : best;
    }
    out.i2tRanks[i] = descendingRank(row, numTexts, best, tie);
  }
  out.t2iRanks.resize(numTexts);
  for (std::size_t t = 0; t < numTexts; ++t) {
    const float* row = scoresT2i.data() + t * numImages;
    checkRowFinite(row, numImages, "t2i", t);
    out.t2iRanks[t] = descendingRank(row, numImages, static_cast<std::size_t>(txt2img[t]), tie);
  }
  out.txtR1 = recallAt(out.i2tRanks, 1);
  out.txtR5 = recallAt(out.i2tRanks, 5);
  out.txtR10 = recallAt(out.i2tRanks, 10);
  out.imgR1 = recallAt(out.t2iRanks, 1);
  out.imgR5 = recallAt(out.t2iRanks, 5);
  out.imgR10 = recallAt(out.t2iRanks, 10);
  out.txtRMean = (out.txtR1 + out.txtR5 + out.txtR10) / 3;
  out.imgRMean = (out.imgR1 + out.imgR5 + out.imgR10) / 3;
  out.rMean = (out.txtRMean + out.imgRMean) / 2;
  return out;
}

RetrievalRecall retrievalRecall(const std::vector<float>& similarity, std::size_t numImages, std::size_t numTexts,
                                const std::vector<std::int64_t>& txt2img, RetrievalTieBreak tie) {
  PL_CHECK(similarity.size() == numImages * numTexts,
           "similarity has {} entries, expected numImages x numTexts = {} x {}", similarity.size(), numImages,
           numTexts);
  std::vector<float> transposed(similarity.size());
  for (std::size_t i = 0; i < numImages; ++i) {
    for (std::size_t t = 0; t < numTexts; ++t) {
      transposed[t * numImages + i] = similarity[i * numTexts + t];
    }
  }
  return retrievalRecall(similarity, transposed, numImages, numTexts, txt2img, tie);
}

std::vector<std::vector<std::int64_t>> topKIndices(const std::vector<float>& scores, std::size_t rows, std::size_t cols,
                                                   std::size_t k, RetrievalTieBreak tie) {
  PL_CHECK(scores.size() == rows * cols, "scores have {} entries, expected {} x {}", scores.size(), rows, cols);
  k = std::min(k, cols);
  std::vector<std::vector<std::int64_t>> out(rows);
  std::vector<std::size_t> order(cols);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = scores.data() + r * cols;
    checkRowFinite(row, cols, "top-k", r);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](std::size_t a, std::size_t b) { return before(row, a, b, tie); });
    out[r].assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k));
  }
  return out;
}

std::vector<float> itmRerankScores(const std::vector<float>& itc, std::size_t rows, std::size_t cols,
                                   const std::vector<std::vector<std::int64_t>>& topK,
                                   const std::vector<std::vector<float>>& itmLogits) {
  PL_CHECK(itc.size() == rows * cols, "ITC scores have {} entries, expected {} x {}", itc.size(), rows, cols);
  PL_CHECK(topK.size() == rows && itmLogits.size() == rows,
           "ITM re-ranking needs one top-k list and one logit list per row: got {} and {} for {} rows", topK.size(),
           itmLogits.size(), rows);
  std::vector<float> out(rows * cols, -100.0f);
  for (std::size_t r = 0; r < rows; ++r) {
    PL_CHECK(topK[r].size() == itmLogits[r].size(),
             "row {} has {} top-k indices but {} ITM logits; pass the logit of every re-ranked candidate", r,
             topK[r].size(), itmLogits[r].size());
    for (std::size_t j = 0; j < topK[r].size(); ++j) {
      const std::int64_t c = topK[r][j];
      PL_CHECK(c >= 0 && static_cast<std::size_t>(c) < cols, "row {} top-k index {} is outside [0, {})", r, c, cols);
      const std::size_t at = r * cols + static_cast<std::size_t>(c);
      out[at] = itmLogits[r][j] + itc[at];
    }
  }
  return out;
}

}  // namespace prunelab::evaluators
