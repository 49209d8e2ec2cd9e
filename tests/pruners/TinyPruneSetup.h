#pragma once

#include <ATen/CPUGeneratorImpl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/data/Dataset.h"
#include "framework/profile/Profiler.h"
#include "framework/prune/Pruner.h"
#include "framework/prune/Targets.h"
#include "tests/support/TextSource.h"
#include "tests/support/TinyBlockModel.h"

namespace prunelab::testing {

/// A data source with one split, "train": `count` seeded rows of "inputs" [count, dim], the batch
/// field TinyBlockModel reads.
class InputsSource : public data::DataSource {
 public:
  InputsSource(int count, int dim, std::uint64_t seed) {
    auto gen = at::detail::createCPUGenerator(seed);
    train_ = std::make_shared<TensorDataset>(
        std::map<std::string, torch::Tensor>{{"inputs", torch::randn({count, dim}, gen, torch::kFloat)}});
  }
  void prepare() override {}
  std::shared_ptr<const data::Dataset> split(const std::string& name) const override {
    PL_CHECK(name == "train", "InputsSource has only the split 'train', not '{}'", name);
    return train_;
  }
  std::vector<std::string> splits() const override { return {"train"}; }
  std::string fingerprint() const override { return "inputs"; }
  std::string name() const override { return "inputs"; }

 private:
  std::shared_ptr<const data::Dataset> train_;
};

/// A pruner's whole context on a seeded TinyBlockModel (vision and language stacks, `blocks`
/// blocks of fc1 d->2d and fc2 2d->d each, a non-target bridge) with 64 seeded input rows.
struct TinyPruneSetup {
  TinyPruneSetup(int dim, int blocks, std::uint64_t seed) : model(dim, blocks, seed), data(64, dim, seed + 100) {}

  /// The block linears (what the pruners' default targets ["*.blocks.*"] select), in model order.
  std::vector<model::LinearRef> targets() { return prune::selectTargets(model.linears(), {"*.blocks.*"}, {}); }

  TinyBlockModel model;
  InputsSource data;
  profile::Profiler profiler;
  prune::PruneContext ctx{model, data, profiler, 0};
};

/// Number of weights of `layer` that are exactly zero.
inline std::int64_t zerosOf(const model::LinearRef& layer) {
  return (layer.layer->weight.detach() == 0).sum().item<std::int64_t>();
}

}  // namespace prunelab::testing
