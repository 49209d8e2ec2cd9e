#pragma once

#include <functional>
#include <string>

#include <torch/torch.h>

namespace prunelab::model {

/// A torch::nn::Linear (same parameters `weight`/`bias`, same forward) that can show its input
/// to an observer. LibTorch C++ modules have no forward hooks (design.md §9), so the blockwise
/// driver collects Wanda/SparseGPT statistics through this observer instead. Every model uses it
/// for every projection that may be pruned.
class PrunableLinearImpl : public torch::nn::LinearImpl {
 public:
  using Observer = std::function<void(const torch::Tensor& input)>;
  using torch::nn::LinearImpl::LinearImpl;

  /// Calls the observer (if any) with the input, then computes x·Wᵀ + b.
  torch::Tensor forward(const torch::Tensor& input) {
    if (observer_) observer_(input);
    return torch::nn::LinearImpl::forward(input);
  }

  /// Installs (or, with an empty function, removes) the input observer.
  void setObserver(Observer observer) { observer_ = std::move(observer); }

 private:
  Observer observer_;
};
TORCH_MODULE(PrunableLinear);

/// One prunable matrix of a model, under its canonical dotted name.
struct LinearRef {
  std::string name;      ///< e.g. "vision.blocks.3.attn.qkv"
  std::string stack;     ///< e.g. "vision"
  std::string modality;  ///< e.g. "vision", "language", "bridge"
  int block = -1;        ///< block index within the stack, -1 if not in a block
  PrunableLinear layer;
};

}  // namespace prunelab::model
