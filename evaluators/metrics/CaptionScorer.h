#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace prunelab::evaluators {

/// Options of CaptionScorer, as chainable values: CaptionScorerOptions().allowSubset(true).
class CaptionScorerOptions {
 public:
  /// Score only the predicted images when predictions cover part of the reference set (the result is
  /// then marked complete = false). Off by default: a partial set is refused.
  CaptionScorerOptions& allowSubset(bool value) {
    allowSubset_ = value;
    return *this;
  }
  /// Run cocoTokenize on predictions and references (default). Turn off when the captions are already
  /// tokenized, e.g. by the Stanford jar offline: then they are used as given.
  CaptionScorerOptions& tokenize(bool value) {
    tokenize_ = value;
    return *this;
  }
  /// Width of CIDEr-D's length penalty (6 in coco-caption).
  CaptionScorerOptions& ciderSigma(double value) {
    ciderSigma_ = value;
    return *this;
  }

  bool allowSubset() const { return allowSubset_; }
  bool tokenize() const { return tokenize_; }
  double ciderSigma() const { return ciderSigma_; }

 private:
  bool allowSubset_ = false;
  bool tokenize_ = true;
  double ciderSigma_ = 6.0;
};

/// pycocoevalcap scores of one prediction set, in the reference's units (0..1, not x100).
struct CaptionScores {
  std::array<double, 4> bleu{};        // Bleu_1..Bleu_4 (corpus-level)
  double cider = 0.0;                  // CIDEr (CIDEr-D)
  double rougeL = 0.0;                 // ROUGE_L
  std::size_t numImages = 0;           // images scored
  std::size_t numReferenceImages = 0;  // images in the reference set
  bool complete = false;               // numImages == numReferenceImages (never true for a subset)
  std::vector<std::string> imageIds;   // scored ids, sorted; the per-image vectors follow this order
  std::vector<std::array<double, 4>> bleuPerImage;
  std::vector<double> ciderPerImage;
  std::vector<double> rougePerImage;
};

/// Scores a caption prediction set like COCOEvalCap.evaluate() (BLEU-1..4, CIDEr-D, ROUGE-L; METEOR and
/// SPICE need Java and are not computed):
///  1. every prediction and reference goes through cocoTokenize (unless tokenize(false));
///  2. BLEU (bleu_scorer 'closest'), CIDEr-D and ROUGE-L run on the tokenized strings, over the images
///     in id order. CIDEr-D's document frequencies come from the references of the scored images.
///
/// Coverage: the predicted ids must equal the reference ids. A prediction for an unknown image always
/// throws. Reference images without a prediction throw too, unless allowSubset(true); the subset is
/// then scored on its own (its df differs from the full split's) and the result says complete = false
/// with numImages < numReferenceImages, so it cannot pass for a full-split score.
///
/// Inputs: an empty prediction is allowed (it scores 0 everywhere except that an empty candidate matches
/// an empty reference in ROUGE-L, as in the script); an image with no reference caption throws (the
/// script asserts); empty references are allowed. Captions of any length and any bytes (UTF-8 or not)
/// are handled without NaN: BLEU uses the 1e-15/1e-9 guards, CIDEr-D skips zero norms, ROUGE-L never
/// divides by zero because split(" ") yields at least one token. Where the whole reference set is empty
/// strings the script crashes; here CIDEr-D is 0.
class CaptionScorer {
 public:
  explicit CaptionScorer(CaptionScorerOptions options = {}) : options_(options) {}

  /// predictions: imageId -> caption; references: imageId -> reference captions.
  CaptionScores score(const std::map<std::string, std::string>& predictions,
                      const std::map<std::string, std::vector<std::string>>& references) const;

 private:
  CaptionScorerOptions options_;
};

}  // namespace prunelab::evaluators
