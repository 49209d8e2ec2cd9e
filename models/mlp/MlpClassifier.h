#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/model/Model.h"

namespace prunelab::models {

/// The network: flatten -> [PrunableLinear -> GELU] per hidden width -> Linear head.
/// Canonical names: "vision.blocks.<i>.fc" for hidden layer i (stack "vision"), "head" for the
/// classifier (not in a block, kept by default pruning targets).
class MlpNetImpl : public torch::nn::Module {
 public:
  MlpNetImpl(std::int64_t inputs, const std::vector<std::int64_t>& hidden, std::int64_t classes);
  torch::Tensor forward(torch::Tensor images);

  std::vector<model::PrunableLinear> blocks;
  model::PrunableLinear head{nullptr};
};
TORCH_MODULE(MlpNet);

/// A small MLP image classifier trained on the run's data source ("train" split; batches with
/// "images" and "labels"). Trained once per recipe (options + data fingerprint + seed) with AdamW
/// and a cosine schedule, then cached as safetensors under cache_dir/models/.
class MlpClassifier : public model::Model, public model::ClassifierHead {
 public:
  struct Options {
    std::vector<std::int64_t> hidden = {256, 128};
    std::int64_t epochs = 3;
    std::int64_t batch_size = 128;
    double lr = 2e-3;
    double weight_decay = 0.01;
    std::int64_t num_classes = 10;
    std::int64_t image_size = 28;

    template <class V>
    void visit(V& v) {
      v(hidden, "hidden", "hidden layer widths; each hidden layer is one block of the 'vision' stack");
      v(epochs, "epochs", "training epochs over the train split");
      v(batch_size, "batch_size", "training batch size");
      v(lr, "lr", "peak AdamW learning rate (cosine decay to 0)");
      v(weight_decay, "weight_decay", "AdamW weight decay");
      v(num_classes, "num_classes", "number of classes of the head");
      v(image_size, "image_size", "input images are image_size x image_size, one channel");
    }
    void validate() const {
      PL_CHECK(!hidden.empty(), "hidden must list at least one width, e.g. [256, 128]");
      for (auto h : hidden) PL_CHECK(h > 0, "hidden widths must be positive, got {}", h);
      PL_CHECK(epochs >= 0, "epochs must be >= 0, got {}", epochs);
      PL_CHECK(batch_size > 0, "batch_size must be positive, got {}", batch_size);
      PL_CHECK(lr > 0, "lr must be positive, got {}", lr);
      PL_CHECK(num_classes > 1, "num_classes must be > 1, got {}", num_classes);
    }
  };

  explicit MlpClassifier(Options options);

  void prepare(const model::ModelContext& ctx) override;
  std::vector<model::StackInfo> stacks() const override;
  std::vector<model::LinearRef> linears() override;
  torch::nn::Module& module() override { return *net_; }
  torch::Tensor loss(const model::Batch& batch) override;
  model::Batch stackInputs(const std::string& stack, const model::Batch& batch) override;
  model::Batch forwardBlock(const std::string& stack, int block, const model::Batch& state) override;
  std::string weightsId() const override { return weightsId_; }
  torch::Tensor lossFromBlock(const std::string& stack, int block, const model::Batch& state,
                              const model::Batch& batch) override;
  /// One forward over all states concatenated, cross-entropy reduced per state (mean, as loss()).
  torch::Tensor lossesFromBlock(const std::string& stack, int block, const std::vector<model::Batch>& states,
                                const model::Batch& batch) override;
  torch::Tensor classLogits(const model::Batch& batch) override;
  int numClasses() const override { return static_cast<int>(options_.num_classes); }

 private:
  void train(const model::ModelContext& ctx);
  void checkStack(const std::string& stack) const;
  // Hidden layers `block`.. and the head on `hidden`: the ops of MlpNetImpl::forward from there.
  torch::Tensor logitsFromBlock(int block, torch::Tensor hidden);

  Options options_;
  MlpNet net_{nullptr};
  std::string weightsId_;
};

}  // namespace prunelab::models
