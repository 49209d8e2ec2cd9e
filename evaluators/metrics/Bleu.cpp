#include "evaluators/metrics/Bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "evaluators/metrics/NgramIndex.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {

namespace {

constexpr double kTiny = 1e-15;  // bleu_scorer: "so that if guess is 0 still return 0"
constexpr double kSmall = 1e-9;  // bleu_scorer: avoids division by zero

// Clipped statistics of one image, with every caption already counted by `index`.
BleuStats imageStats(const NgramIndex& index, const NgramCounts& hyp, const std::vector<NgramCounts>& refs,
                     std::vector<NgramCount>& scratch) {
  BleuStats stats;
  const std::int64_t c = hyp.numWords;
  stats.testLength = c;
  // 'closest': min over refs of (|l - c|, l), i.e. ties go to the shorter reference.
  std::int64_t best = -1;
  for (const NgramCounts& ref : refs) {
    const std::int64_t l = ref.numWords;
    if (best < 0 || std::llabs(l - c) < std::llabs(best - c) ||
        (std::llabs(l - c) == std::llabs(best - c) && l < best)) {
      best = l;
    }
  }
  stats.refLength = best;
  for (int k = 0; k < kBleuMaxOrder; ++k) {
    stats.guess[k] = std::max<std::int64_t>(0, c - k);
  }
  // Max count of each n-gram over the references (cook_refs' maxcounts).
  scratch.clear();
  for (const NgramCounts& ref : refs) {
    scratch.insert(scratch.end(), ref.entries.begin(), ref.entries.end());
  }
  std::sort(scratch.begin(), scratch.end(), [](const NgramCount& a, const NgramCount& b) {
    return a.id < b.id || (a.id == b.id && a.count > b.count);
  });
  scratch.erase(std::unique(scratch.begin(), scratch.end(),
                            [](const NgramCount& a, const NgramCount& b) { return a.id == b.id; }),
                scratch.end());
  // correct_n = sum over hypothesis n-grams of min(count, max reference count).
  std::size_t r = 0;
  for (const NgramCount& h : hyp.entries) {
    while (r < scratch.size() && scratch[r].id < h.id) {
      ++r;
    }
    if (r < scratch.size() && scratch[r].id == h.id) {
      stats.correct[index.order(h.id) - 1] += std::min(h.count, scratch[r].count);
    }
  }
  return stats;
}

std::array<double, kBleuMaxOrder> combine(const BleuStats& stats, double& ratio) {
  std::array<double, kBleuMaxOrder> bleus{};
  double product = 1.0;
  for (int k = 0; k < kBleuMaxOrder; ++k) {
    product *= (static_cast<double>(stats.correct[k]) + kTiny) / (static_cast<double>(stats.guess[k]) + kSmall);
    bleus[k] = std::pow(product, 1.0 / (k + 1));
  }
  ratio = (static_cast<double>(stats.testLength) + kTiny) / (static_cast<double>(stats.refLength) + kSmall);
  if (ratio < 1.0) {
    for (double& b : bleus) {
      b *= std::exp(1.0 - 1.0 / ratio);
    }
  }
  return bleus;
}

}  // namespace

BleuStats& BleuStats::operator+=(const BleuStats& other) {
  testLength += other.testLength;
  refLength += other.refLength;
  for (int k = 0; k < kBleuMaxOrder; ++k) {
    guess[k] += other.guess[k];
    correct[k] += other.correct[k];
  }
  return *this;
}

BleuStats bleuImageStats(std::string_view hypothesis, const std::vector<std::string>& references) {
  PL_CHECK(!references.empty(), "BLEU needs at least one reference caption per image; this image has none");
  NgramIndex index(kBleuMaxOrder);
  const NgramCounts hyp = index.count(hypothesis);
  std::vector<NgramCounts> refs;
  for (const std::string& ref : references) {
    refs.push_back(index.count(ref));
  }
  std::vector<NgramCount> scratch;
  return imageStats(index, hyp, refs, scratch);
}

std::array<double, kBleuMaxOrder> bleuFromStats(const BleuStats& stats) {
  double ratio = 0.0;
  return combine(stats, ratio);
}

BleuScore corpusBleu(const std::vector<ImageCaptions>& images) {
  PL_CHECK(!images.empty(), "corpus BLEU of zero images is undefined; pass the predictions of the whole split");
  NgramIndex index(kBleuMaxOrder);
  BleuScore out;
  out.perImage.reserve(images.size());
  std::vector<NgramCounts> refs;
  std::vector<NgramCount> scratch;
  for (std::size_t i = 0; i < images.size(); ++i) {
    PL_CHECK(!images[i].references.empty(),
             "BLEU needs at least one reference caption per image, but image #{} (in input order) has none", i);
    const NgramCounts hyp = index.count(images[i].hypothesis);
    refs.clear();
    for (const std::string& ref : images[i].references) {
      refs.push_back(index.count(ref));
    }
    const BleuStats stats = imageStats(index, hyp, refs, scratch);
    out.total += stats;
    double ratio = 0.0;
    out.perImage.push_back(combine(stats, ratio));
  }
  out.bleu = combine(out.total, out.ratio);
  return out;
}

}  // namespace prunelab::evaluators
