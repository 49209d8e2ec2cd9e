#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "framework/model/Batch.h"
#include "framework/model/Distillation.h"
#include "framework/model/Model.h"
#include "models/transformer/TransformerBlock.h"

namespace prunelab::models {

/// Field names of the state a TransformerStack passes from block to block (a model::Batch). Every
/// field but "hidden" is optional and travels unchanged, so a model can add its own (e.g. the
/// tokens a loss needs after the last block).
struct StackState {
  static constexpr const char* kHidden = "hidden";             ///< [B,T,dim] the residual stream
  static constexpr const char* kMask = "mask";                 ///< [B,T] nonzero = real token, 0 = padding
  static constexpr const char* kAttnMask = "attn_mask";        ///< [T,T] or [B,T,T] nonzero = may attend
  static constexpr const char* kContext = "context";           ///< [B,S,contextDim] cross-attention input
  static constexpr const char* kContextMask = "context_mask";  ///< [B,S] nonzero = real context item
  /// int64 scalar n: only rows [0, n) get cross-attention (BLIP-2's Q-Former: its queries, not
  /// the text appended after them); absent = every row.
  static constexpr const char* kCrossRows = "cross_rows";
};

/// What a stack is: its canonical name and modality, depth, block shape, whether its
/// self-attention is causal, and the seed of its initial weights.
struct StackOptions {
  StackOptions(std::string name, std::string modality, std::int64_t depth, BlockOptions block)
      : name_(std::move(name)), modality_(std::move(modality)), depth_(depth), block_(std::move(block)) {}
  /// Causal self-attention (decoders): position t sees positions <= t only.
  StackOptions& causal(bool v) { return causal_ = v, *this; }
  /// Seed of the initial weights (the global torch RNG is not used).
  StackOptions& seed(std::uint64_t v) { return seed_ = v, *this; }

  const std::string& name() const { return name_; }
  const std::string& modality() const { return modality_; }
  std::int64_t depth() const { return depth_; }
  const BlockOptions& block() const { return block_; }
  bool causal() const { return causal_; }
  std::uint64_t seed() const { return seed_; }

 private:
  std::string name_, modality_;
  std::int64_t depth_;
  BlockOptions block_;
  bool causal_ = false;
  std::uint64_t seed_ = 0;
};

/// N pre-LN transformer blocks forming one stack of a model ("vision", "bridge", "language"). The
/// owning model must register it under its name (register_module(options.name(), stack)) so that
/// parameter names equal the canonical names: "<name>.blocks.<i>.attn.qkv.weight".
///
/// Initial weights, drawn from the seed alone: every Linear N(0, 0.02) with zero bias, the
/// projections that write into the residual stream (attn.proj, cross.proj, mlp.fc2) N(0,
/// 0.02/sqrt(2*depth)) so the stream's variance does not grow with depth (GPT-2); LayerNorms 1/0.
class TransformerStackImpl : public torch::nn::Module {
 public:
  explicit TransformerStackImpl(StackOptions options);

  /// Runs block `block` on `state` (fields of StackState) and returns the state with the new
  /// "hidden"; all other fields are carried over unchanged.
  model::Batch forwardBlock(int block, const model::Batch& state);
  /// Runs every block in order.
  model::Batch forward(const model::Batch& state);
  /// Every prunable Linear, in execution order, under "<name>.blocks.<i>.<sub>" with its modality.
  std::vector<model::LinearRef> linears() const;
  /// Name, modality and depth, for Model::stacks().
  model::StackInfo info() const;
  /// Number of blocks.
  int numBlocks() const { return static_cast<int>(blocks_.size()); }
  /// The blocks, in order (shared handles: changing a block changes this stack).
  const std::vector<TransformerBlock>& blocks() const { return blocks_; }
  const StackOptions& options() const { return options_; }

  /// While `recording` is set (not null), every forwardBlock appends to it: block 0 first pushes
  /// its input hidden state, each block then its output hidden state and its attention
  /// probabilities (self, and cross when it ran), so a forward from block 0 fills it as
  /// model::StackRecording describes. Null (the default) records nothing and costs one pointer
  /// test per block. The caller owns the recording and clears it between forwards.
  void setRecording(model::StackRecording* recording) { recording_ = recording; }

 private:
  void initWeights();

  StackOptions options_;
  model::StackRecording* recording_ = nullptr;
  torch::nn::ModuleList blocksList_{nullptr};
  std::vector<TransformerBlock> blocks_;
};
TORCH_MODULE(TransformerStack);

}  // namespace prunelab::models
