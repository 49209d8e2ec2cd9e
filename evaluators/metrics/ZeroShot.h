#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace prunelab::evaluators {

// CLIP zero-shot classification (open_clip zero_shot_classifier / zero_shot_eval, CLIP_benchmark):
//  - classifier: per class, L2-normalise each template embedding (F.normalize, eps 1e-12), average them,
//    L2-normalise the mean -> one column of W (dim x numClasses);
//  - logits = scale * normalise(image embedding) . W, scale = 100;
//  - top-k accuracy = fraction of images whose target is among the k highest logits; top-5 is absent
//    (CLIP_benchmark reports NaN) when there are fewer than 5 classes;
//  - mean per-class recall = sklearn balanced_accuracy_score(target, argmax): the recall of each class
//    that occurs among the targets, averaged (classes never targeted are ignored).
// Ties among logits: lower class index first (argmax returns the first maximum, like torch.argmax), so
// the target is in the top k iff #{c : l_c > l_t} + #{c < t : l_c == l_t} < k.
// Arithmetic: float inputs, double accumulation (PyTorch accumulates in float32, so results can differ
// from it in the last float digits). NaN logits and out-of-range targets throw.

/// Zero-shot scores as fractions in [0, 1] (open_clip and CLIP_benchmark report fractions).
struct ZeroShotAccuracy {
  double top1 = 0.0;
  std::optional<double> top5;  // absent when numClasses < 5
  double meanPerClassRecall = 0.0;
  std::size_t numImages = 0;
};

/// Scores row-major logits (numImages x numClasses) against target class indices.
ZeroShotAccuracy zeroShotAccuracy(const std::vector<float>& logits, std::size_t numImages, std::size_t numClasses,
                                  const std::vector<std::int64_t>& targets);

/// Builds W (dim x numClasses, row-major) from templateEmbeddings[c] = numTemplates x dim (row-major)
/// per class. Throws when a class has no templates or its averaged embedding is the zero vector.
std::vector<float> buildZeroShotClassifier(const std::vector<std::vector<float>>& templateEmbeddings, std::size_t dim);

/// scale * normalise(images) . W: images is numImages x dim, classifier is dim x numClasses (row-major).
std::vector<float> zeroShotLogits(const std::vector<float>& imageEmbeddings, std::size_t numImages,
                                  const std::vector<float>& classifier, std::size_t dim, std::size_t numClasses,
                                  float scale = 100.0f);

}  // namespace prunelab::evaluators
