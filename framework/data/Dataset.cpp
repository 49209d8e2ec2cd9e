#include "framework/data/Dataset.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "framework/core/Error.h"

namespace prunelab::data {

BatchSampler::BatchSampler(const Dataset& dataset, std::int64_t batchSize, bool shuffle, std::uint64_t seed,
                           std::int64_t limit)
    : dataset_(dataset), batchSize_(batchSize) {
  PL_CHECK(batchSize > 0, "batch size must be positive, got {}", batchSize);
  order_.resize(static_cast<std::size_t>(dataset.size()));
  std::iota(order_.begin(), order_.end(), 0);
  if (shuffle) {
    // std::mt19937_64 is specified by the standard, so the order is the same on every platform;
    // the shuffle itself is a hand-written Fisher-Yates because std::shuffle's use of the engine
    // is implementation-defined.
    std::mt19937_64 rng(seed);
    for (std::size_t i = order_.size(); i > 1; --i) {
      std::size_t j = static_cast<std::size_t>(rng() % i);
      std::swap(order_[i - 1], order_[j]);
    }
  }
  if (limit >= 0 && static_cast<std::size_t>(limit) < order_.size()) order_.resize(static_cast<std::size_t>(limit));
}

std::int64_t BatchSampler::numBatches() const {
  return (static_cast<std::int64_t>(order_.size()) + batchSize_ - 1) / batchSize_;
}

std::vector<std::int64_t> BatchSampler::indices(std::int64_t i) const {
  PL_CHECK(i >= 0 && i < numBatches(), "batch index {} out of range [0, {})", i, numBatches());
  auto begin = order_.begin() + i * batchSize_;
  auto end = order_.begin() + std::min<std::int64_t>((i + 1) * batchSize_, static_cast<std::int64_t>(order_.size()));
  return {begin, end};
}

model::Batch BatchSampler::batch(std::int64_t i) const { return dataset_.get(indices(i)); }

}  // namespace prunelab::data
