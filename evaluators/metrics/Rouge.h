#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "evaluators/metrics/CaptionTypes.h"

namespace prunelab::evaluators {

// ROUGE-L exactly as pycocoevalcap's rouge.py:
//  - tokens = Python str.split(" ") of the tokenized captions, so "" is one empty token (length 1) and
//    double spaces give empty tokens;
//  - per reference r: P = LCS / |c|, R = LCS / |r|; P* = max P and R* = max R, taken independently;
//  - score = (1 + beta^2) P* R* / (R* + beta^2 P*) when both are non-zero, else 0 (beta = 1.2);
//  - corpus ROUGE-L = mean of the image scores.
// The LCS uses two rows of memory, so very long captions cost O(|c| |r|) time but little memory.

/// Length of the longest common subsequence of two token lists.
std::size_t lcsLength(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b);

/// ROUGE-L of one tokenized candidate against its tokenized references. Throws when `references` is empty.
double rougeLImage(std::string_view candidate, const std::vector<std::string>& references, double beta = 1.2);

/// ROUGE-L of a corpus: the mean and the per-image scores (input order).
struct RougeScore {
  double score = 0.0;
  std::vector<double> perImage;
};

/// Corpus ROUGE-L over tokenized images. Throws when `images` is empty or an image has no reference.
RougeScore rougeL(const std::vector<ImageCaptions>& images, double beta = 1.2);

}  // namespace prunelab::evaluators
