#include "evaluators/metrics/Cider.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "evaluators/metrics/NgramIndex.h"
#include "evaluators/metrics/NumpySum.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {

namespace {

constexpr int kOrder = 4;

// A caption as counts2vec returns it: tf-idf weights (sorted by n-gram id), per-order norms, length.
struct WeightedCaption {
  std::vector<NgramCount> counts;
  std::vector<double> weights;  // parallel to counts
  std::array<double, kOrder> norm{};
  double length = 0.0;  // number of bigrams
};

WeightedCaption weigh(const NgramIndex& index, NgramCounts&& counts, const std::vector<double>& idf) {
  WeightedCaption out;
  out.counts = std::move(counts.entries);
  out.weights.resize(out.counts.size());
  std::array<double, kOrder> squares{};
  for (std::size_t k = 0; k < out.counts.size(); ++k) {
    const NgramCount& g = out.counts[k];
    const int n = index.order(g.id) - 1;
    const double w = static_cast<double>(g.count) * idf[g.id];
    out.weights[k] = w;
    squares[n] += w * w;
    if (n == 1) {
      out.length += g.count;
    }
  }
  for (int n = 0; n < kOrder; ++n) {
    out.norm[n] = std::sqrt(squares[n]);
  }
  return out;
}

std::array<double, kOrder> similarity(const NgramIndex& index, const WeightedCaption& hyp, const WeightedCaption& ref,
                                      double sigma) {
  std::array<double, kOrder> val{};
  // Only n-grams present in both contribute: min(w_h, 0) * 0 = 0 for the others.
  std::size_t r = 0;
  for (std::size_t h = 0; h < hyp.counts.size(); ++h) {
    const std::uint32_t id = hyp.counts[h].id;
    while (r < ref.counts.size() && ref.counts[r].id < id) {
      ++r;
    }
    if (r < ref.counts.size() && ref.counts[r].id == id) {
      const double wr = ref.weights[r];
      val[index.order(id) - 1] += std::min(hyp.weights[h], wr) * wr;
    }
  }
  const double delta = hyp.length - ref.length;
  const double penalty = std::exp(-(delta * delta) / (2.0 * sigma * sigma));
  for (int n = 0; n < kOrder; ++n) {
    if (hyp.norm[n] != 0.0 && ref.norm[n] != 0.0) {
      val[n] /= hyp.norm[n] * ref.norm[n];
    }
    val[n] *= penalty;
  }
  return val;
}

}  // namespace

CiderScore ciderD(const std::vector<ImageCaptions>& images, double sigma) {
  PL_CHECK(!images.empty(), "CIDEr-D of zero images is undefined; pass the predictions of the whole split");
  PL_CHECK(sigma > 0.0, "CIDEr-D sigma must be positive (coco-caption uses 6), got {}", sigma);
  NgramIndex index(kOrder);
  std::vector<NgramCounts> hyps;
  std::vector<std::vector<NgramCounts>> refs(images.size());
  hyps.reserve(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    PL_CHECK(!images[i].references.empty(),
             "CIDEr-D needs at least one reference caption per image, but image #{} (in input order) has none", i);
    hyps.push_back(index.count(images[i].hypothesis));
    for (const std::string& ref : images[i].references) {
      refs[i].push_back(index.count(ref));
    }
  }
  // Document frequency over the reference sets of the scored images.
  std::vector<std::uint32_t> df(index.size(), 0);
  std::vector<std::uint32_t> seen;
  for (const auto& imageRefs : refs) {
    seen.clear();
    for (const NgramCounts& ref : imageRefs) {
      for (const NgramCount& g : ref.entries) {
        seen.push_back(g.id);
      }
    }
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (std::uint32_t id : seen) {
      ++df[id];
    }
  }
  const double refLen = std::log(static_cast<double>(images.size()));
  std::vector<double> idf(index.size());
  for (std::size_t id = 0; id < idf.size(); ++id) {
    idf[id] = refLen - std::log(std::max(1.0, static_cast<double>(df[id])));
  }

  CiderScore out;
  out.perImage.reserve(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const WeightedCaption hyp = weigh(index, std::move(hyps[i]), idf);
    std::array<double, kOrder> score{};
    for (NgramCounts& refCounts : refs[i]) {
      const WeightedCaption ref = weigh(index, std::move(refCounts), idf);
      const std::array<double, kOrder> sim = similarity(index, hyp, ref, sigma);
      for (int n = 0; n < kOrder; ++n) {
        score[n] += sim[n];
      }
    }
    double mean = 0.0;
    for (double s : score) {
      mean += s;
    }
    mean /= kOrder;
    mean /= static_cast<double>(refs[i].size());
    mean *= 10.0;
    out.perImage.push_back(mean);
  }
  out.score = numpyMean(out.perImage);
  return out;
}

}  // namespace prunelab::evaluators
