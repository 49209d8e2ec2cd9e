#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/model/Batch.h"

namespace prunelab::data {

/// One split of a data source: a size and indexed access to batches (flashlight's shape; batching
/// and sampling are done by callers such as BatchSampler).
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of examples.
  virtual std::int64_t size() const = 0;
  /// The examples at `indices`, stacked into one batch.
  virtual model::Batch get(const std::vector<std::int64_t>& indices) const = 0;
};

/// A configured data source (a dataset plugin): named splits plus a fingerprint of the files and
/// generator parameters behind them, recorded with every run.
class DataSource {
 public:
  virtual ~DataSource() = default;
  /// Loads or generates the data; expensive work happens here, not in the constructor.
  virtual void prepare() = 0;
  /// The split called `name` ("train", "val", "test", "calib"); error listing the splits otherwise.
  virtual std::shared_ptr<const Dataset> split(const std::string& name) const = 0;
  /// Names of the available splits.
  virtual std::vector<std::string> splits() const = 0;
  /// Hash of the source files and parameters.
  virtual std::string fingerprint() const = 0;
  /// Short name used in metric keys ("fashion_mnist").
  virtual std::string name() const = 0;
};

/// Iterates a dataset in batches of `batchSize`, in order or shuffled by `seed`.
class BatchSampler {
 public:
  BatchSampler(const Dataset& dataset, std::int64_t batchSize, bool shuffle = false, std::uint64_t seed = 0,
               std::int64_t limit = -1);
  /// Number of batches.
  std::int64_t numBatches() const;
  /// Batch i.
  model::Batch batch(std::int64_t i) const;
  /// The example indices of batch i.
  std::vector<std::int64_t> indices(std::int64_t i) const;

 private:
  const Dataset& dataset_;
  std::int64_t batchSize_;
  std::vector<std::int64_t> order_;
};

}  // namespace prunelab::data
