#pragma once

#include <vector>

#include "evaluators/metrics/CaptionTypes.h"

namespace prunelab::evaluators {

// CIDEr-D exactly as pycocoevalcap's cider_scorer.py (coco-caption's "CIDEr" is CIDEr-D), n = 4:
//  - df(g) = number of images whose reference set contains g, counted over the images being scored
//    (so always score the whole split in one call: a shard has a different df, and a single image
//    scores 0 because ln N = 0);
//  - w(g) = tf(g) * (ln N - ln max(1, df(g))) with raw counts tf, per n-gram order;
//  - sim_n(h, r) = sum_{g in h} min(w_h, w_r) * w_r / (|w_h| |w_r|) (division skipped when a norm is 0),
//    times exp(-delta^2 / (2 sigma^2)), delta = bigrams(h) - bigrams(r) (lengths count bigrams, i.e.
//    words - 1, as the script's `length`);
//  - image score = 10 * mean_n(sum_r sim_n) / |refs|; CIDEr-D = mean over images.
// Tokens = Python str.split() of the tokenized captions. Natural log, as the script's np.log.

/// CIDEr-D of a corpus: the mean and the per-image scores (input order).
struct CiderScore {
  double score = 0.0;
  std::vector<double> perImage;
};

/// CIDEr-D over tokenized images; sigma is the length-penalty width (6 in coco-caption).
/// Throws when `images` is empty or an image has no reference.
CiderScore ciderD(const std::vector<ImageCaptions>& images, double sigma = 6.0);

}  // namespace prunelab::evaluators
