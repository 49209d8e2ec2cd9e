#include "evaluators/metrics/ZeroShot.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "evaluators/metrics/NumpySum.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {

namespace {

constexpr double kNormalizeEps = 1e-12;  // torch.nn.functional.normalize default

// Writes x / max(||x||, eps) for one vector of length n.
void normalizeInto(const float* x, std::size_t n, std::vector<double>& out) {
  double squares = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    squares += static_cast<double>(x[k]) * x[k];
  }
  const double norm = std::max(std::sqrt(squares), kNormalizeEps);
  out.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    out[k] = x[k] / norm;
  }
}

}  // namespace

ZeroShotAccuracy zeroShotAccuracy(const std::vector<float>& logits, std::size_t numImages, std::size_t numClasses,
                                  const std::vector<std::int64_t>& targets) {
  PL_CHECK(numImages > 0 && numClasses > 0, "zero-shot accuracy needs at least one image and one class, got {} x {}",
           numImages, numClasses);
  PL_CHECK(logits.size() == numImages * numClasses, "logits have {} entries, expected numImages x numClasses = {} x {}",
           logits.size(), numImages, numClasses);
  PL_CHECK(targets.size() == numImages, "got {} targets for {} images; pass one class index per image", targets.size(),
           numImages);
  std::size_t top1 = 0;
  std::size_t top5 = 0;
  std::map<std::int64_t, std::pair<std::size_t, std::size_t>> perClass;  // target -> (hits, total)
  for (std::size_t i = 0; i < numImages; ++i) {
    const std::int64_t t = targets[i];
    PL_CHECK(t >= 0 && static_cast<std::size_t>(t) < numClasses, "target of image {} is {}, not a class in [0, {})", i,
             t, numClasses);
    const float* row = logits.data() + i * numClasses;
    const auto target = static_cast<std::size_t>(t);
    std::size_t rank = 0;
    for (std::size_t c = 0; c < numClasses; ++c) {
      PL_CHECK(!std::isnan(row[c]), "logit of image {} class {} is NaN; accuracy is undefined with NaN logits", i, c);
      rank += (row[c] > row[target] || (row[c] == row[target] && c < target)) ? 1 : 0;
    }
    top1 += rank < 1 ? 1 : 0;
    top5 += rank < 5 ? 1 : 0;
    auto& [hits, total] = perClass[t];
    hits += rank == 0 ? 1 : 0;  // rank 0 <=> the first argmax is the target
    ++total;
  }
  ZeroShotAccuracy out;
  out.numImages = numImages;
  out.top1 = static_cast<double>(top1) / static_cast<double>(numImages);
  if (numClasses >= 5) {
    out.top5 = static_cast<double>(top5) / static_cast<double>(numImages);
  }
  std::vector<double> recalls;  // sorted by class, as sklearn's confusion matrix
  for (const auto& [cls, counts] : perClass) {
    recalls.push_back(static_cast<double>(counts.first) / static_cast<double>(counts.second));
  }
  out.meanPerClassRecall = numpyMean(recalls);
  return out;
}

std::vector<float> buildZeroShotClassifier(const std::vector<std::vector<float>>& templateEmbeddings, std::size_t dim) {
  PL_CHECK(dim > 0, "embedding dimension must be positive");
  PL_CHECK(!templateEmbeddings.empty(), "a zero-shot classifier needs at least one class");
  const std::size_t numClasses = templateEmbeddings.size();
  std::vector<float> weights(dim * numClasses);
  std::vector<double> normalized;
  std::vector<double> mean(dim);
  for (std::size_t c = 0; c < numClasses; ++c) {
    const std::vector<float>& embeddings = templateEmbeddings[c];
    PL_CHECK(!embeddings.empty() && embeddings.size() % dim == 0,
             "class {} has {} template embedding values, not a positive multiple of dim = {}", c, embeddings.size(),
             dim);
    const std::size_t numTemplates = embeddings.size() / dim;
    std::fill(mean.begin(), mean.end(), 0.0);
    for (std::size_t t = 0; t < numTemplates; ++t) {
      normalizeInto(embeddings.data() + t * dim, dim, normalized);
      for (std::size_t k = 0; k < dim; ++k) {
        mean[k] += normalized[k];
      }
    }
    double squares = 0.0;
    for (double& v : mean) {
      v /= static_cast<double>(numTemplates);
      squares += v * v;
    }
    const double norm = std::sqrt(squares);
    PL_CHECK(norm > 0.0 && std::isfinite(norm),
             "class {}: the averaged template embedding has norm {}, so it cannot be normalised; check the text "
             "encoder outputs for this class",
             c, norm);
    for (std::size_t k = 0; k < dim; ++k) {
      weights[k * numClasses + c] = static_cast<float>(mean[k] / norm);
    }
  }
  return weights;
}

std::vector<float> zeroShotLogits(const std::vector<float>& imageEmbeddings, std::size_t numImages,
                                  const std::vector<float>& classifier, std::size_t dim, std::size_t numClasses,
                                  float scale) {
  PL_CHECK(imageEmbeddings.size() == numImages * dim, "image embeddings have {} values, expected {} x {}",
           imageEmbeddings.size(), numImages, dim);
  PL_CHECK(classifier.size() == dim * numClasses, "classifier has {} values, expected dim x numClasses = {} x {}",
           classifier.size(), dim, numClasses);
  std::vector<float> logits(numImages * numClasses);
  std::vector<double> image;
  std::vector<double> row(numClasses);
  for (std::size_t i = 0; i < numImages; ++i) {
    normalizeInto(imageEmbeddings.data() + i * dim, dim, image);
    std::fill(row.begin(), row.end(), 0.0);
    for (std::size_t k = 0; k < dim; ++k) {
      const float* w = classifier.data() + k * numClasses;
      for (std::size_t c = 0; c < numClasses; ++c) {
        row[c] += image[k] * w[c];
      }
    }
    for (std::size_t c = 0; c < numClasses; ++c) {
      logits[i * numClasses + c] = static_cast<float>(scale * row[c]);
    }
  }
  return logits;
}

}  // namespace prunelab::evaluators
