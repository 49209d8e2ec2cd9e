#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "framework/model/Batch.h"
#include "framework/model/PrunableLinear.h"

namespace prunelab::data {
class DataSource;
}

namespace prunelab::model {

/// A stack of blocks run in sequence ("vision", "bridge", "language"), tagged with a modality.
struct StackInfo {
  std::string name;
  std::string modality;
  int numBlocks = 0;
};

/// What a model needs to become ready: data to train on, where cached weights live, the seed,
/// and where to report training curves.
struct ModelContext {
  data::DataSource* data = nullptr;
  std::filesystem::path cacheDir;
  std::int64_t seed = 0;
  /// Reports a training metric (key, value, step) to the run store.
  std::function<void(const std::string&, double, std::int64_t)> logMetric;
};

/// The model interface of design.md §4. Task heads are separate small interfaces
/// (e.g. ClassifierHead) that a model implements when it has them.
class Model {
 public:
  virtual ~Model() = default;

  /// Builds the network and loads its weights from the cache, training them first when missing.
  virtual void prepare(const ModelContext& ctx) = 0;
  /// The stacks in execution order.
  virtual std::vector<StackInfo> stacks() const = 0;
  /// Every prunable Linear under its canonical name, in execution order.
  virtual std::vector<LinearRef> linears() = 0;
  /// The underlying module (parameters, train/eval mode, device moves).
  virtual torch::nn::Module& module() = 0;
  /// The training/calibration loss of a batch (used by first- and zeroth-order scoring).
  virtual torch::Tensor loss(const Batch& batch) = 0;
  /// The input state of `stack`'s first block for `batch`, running all earlier stacks.
  virtual Batch stackInputs(const std::string& stack, const Batch& batch) = 0;
  /// Runs block `block` of `stack` on `state`, returning the next block's state.
  virtual Batch forwardBlock(const std::string& stack, int block, const Batch& state) = 0;
  /// Hash identifying the weights (recipe hash for trained models), recorded per run.
  virtual std::string weightsId() const = 0;
};

/// A model that predicts class logits (image classification, zero-shot heads).
class ClassifierHead {
 public:
  virtual ~ClassifierHead() = default;
  /// Logits [batch, numClasses] for a batch holding the model's inputs.
  virtual torch::Tensor classLogits(const Batch& batch) = 0;
  /// Number of classes.
  virtual int numClasses() const = 0;
};

}  // namespace prunelab::model
