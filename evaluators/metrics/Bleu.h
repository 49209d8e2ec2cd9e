#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "evaluators/metrics/CaptionTypes.h"

namespace prunelab::evaluators {

// BLEU-1..4 exactly as pycocoevalcap's bleu_scorer.py with option='closest' (what Bleu(4) uses):
//  - tokens = Python str.split() of the tokenized captions;
//  - per image: each hypothesis n-gram count is clipped by its largest count in any single reference,
//    guess_n = max(0, c - n + 1), and the reference length is the one closest to c (ties: shorter);
//  - corpus: p_n = (sum correct_n + 1e-15) / (sum guess_n + 1e-9), BLEU-N = (prod_{n<=N} p_n)^(1/N) * BP,
//    BP = exp(1 - 1/ratio) when ratio = (C + 1e-15) / (R + 1e-9) < 1 (C, R: summed hyp/ref lengths).
// The score is corpus-level; the per-image list is the script's by-product, not an average.
// An empty hypothesis is valid (c = 0: it only adds its reference length to R).

constexpr int kBleuMaxOrder = 4;

/// What bleu_scorer keeps per image (or, summed, for the corpus): lengths and n-gram counts.
struct BleuStats {
  std::int64_t testLength = 0;                        // c: hypothesis words
  std::int64_t refLength = 0;                         // the 'closest' reference length
  std::array<std::int64_t, kBleuMaxOrder> guess{};    // hypothesis n-grams, n = 1..4
  std::array<std::int64_t, kBleuMaxOrder> correct{};  // clipped matches, n = 1..4

  /// Adds another image's counts (the corpus statistics are the sum over images).
  BleuStats& operator+=(const BleuStats& other);
};

/// Corpus BLEU and its by-products.
struct BleuScore {
  std::array<double, kBleuMaxOrder> bleu{};                 // BLEU-1..4 (0..1)
  std::vector<std::array<double, kBleuMaxOrder>> perImage;  // bleu_list, in input order
  BleuStats total;                                          // summed statistics
  double ratio = 0.0;                                       // (C + 1e-15) / (R + 1e-9)
};

/// Per-image statistics of one tokenized hypothesis against its tokenized references.
/// Throws when `references` is empty.
BleuStats bleuImageStats(std::string_view hypothesis, const std::vector<std::string>& references);

/// The corpus combination step: BLEU-1..4 from summed statistics (C = testLength, R = refLength).
std::array<double, kBleuMaxOrder> bleuFromStats(const BleuStats& stats);

/// Corpus BLEU-1..4 over tokenized images. Throws when `images` is empty or an image has no reference.
BleuScore corpusBleu(const std::vector<ImageCaptions>& images);

}  // namespace prunelab::evaluators
