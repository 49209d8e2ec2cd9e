#pragma once

#include <string>
#include <vector>

#include "framework/model/Model.h"

namespace prunelab::testing {

/// A seeded two-stack model for framework tests: "vision" and "language", each with `blocks`
/// residual MLP blocks (fc1: d -> 2d, fc2: 2d -> d, names "<stack>.blocks.<i>.mlp.fc1/fc2"); the
/// language stack's input is a (non-target) "bridge" Linear over the vision stack's output.
/// Batches carry "inputs" [B, d].
class TinyBlockModel : public model::Model {
 public:
  explicit TinyBlockModel(int dim = 4, int blocks = 2, std::uint64_t seed = 0);

  void prepare(const model::ModelContext&) override {}
  std::vector<model::StackInfo> stacks() const override;
  std::vector<model::LinearRef> linears() override;
  torch::nn::Module& module() override { return *root_; }
  torch::Tensor loss(const model::Batch& batch) override;
  model::Batch stackInputs(const std::string& stack, const model::Batch& batch) override;
  model::Batch forwardBlock(const std::string& stack, int block, const model::Batch& state) override;
  std::string weightsId() const override { return "tiny"; }
  torch::Tensor lossFromBlock(const std::string& stack, int block, const model::Batch& state,
                              const model::Batch& batch) override;
  /// One forward over all states concatenated, the mean squared output reduced per state.
  torch::Tensor lossesFromBlock(const std::string& stack, int block, const std::vector<model::Batch>& states,
                                const model::Batch& batch) override;

 private:
  // The language stack's output for `state` entering block `block` of `stack` (the ops of loss()).
  torch::Tensor outputFromBlock(const std::string& stack, int block, model::Batch state);

  struct Block {
    model::PrunableLinear fc1{nullptr}, fc2{nullptr};
  };
  std::shared_ptr<torch::nn::Module> root_;
  std::vector<Block> vision_, language_;
  model::PrunableLinear bridge_{nullptr};
};

/// `count` batches of `size` rows of N(0, 1) "inputs" of width `dim`, from `seed` alone.
std::vector<model::Batch> randomBatches(int count, int size, int dim, std::uint64_t seed);

}  // namespace prunelab::testing
