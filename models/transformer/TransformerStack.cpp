#include "models/transformer/TransformerStack.h"

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>

#include "framework/core/Error.h"

namespace prunelab::models {

namespace {

torch::Tensor optionalField(const model::Batch& state, const char* name) {
  return state.has(name) ? state.at(name) : torch::Tensor();
}

}  // namespace

TransformerStackImpl::TransformerStackImpl(StackOptions options) : options_(std::move(options)) {
  PL_CHECK(!options_.name().empty(), "a transformer stack needs a name (e.g. 'language')");
  PL_CHECK(options_.depth() > 0, "stack '{}' needs at least one block, got depth {}", options_.name(),
           options_.depth());
  blocksList_ = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < options_.depth(); ++i) {
    blocks_.push_back(TransformerBlock(options_.block()));
    blocksList_->push_back(blocks_.back());
  }
  initWeights();
}

void TransformerStackImpl::initWeights() {
  auto gen = at::detail::createCPUGenerator(options_.seed());
  const double std = 0.02;
  const double residualStd = std / std::sqrt(2.0 * static_cast<double>(options_.depth()));
  torch::NoGradGuard noGrad;
  for (auto& block : blocks_) {
    for (auto& [sub, layer] : block->linears()) {
      const bool residual = sub == "attn.proj" || sub == "cross.proj" || sub == "mlp.fc2";
      layer->weight.normal_(0.0, residual ? residualStd : std, gen);
      layer->bias.zero_();
    }
  }
}

model::Batch TransformerStackImpl::forwardBlock(int block, const model::Batch& state) {
  PL_CHECK(block >= 0 && block < numBlocks(), "stack '{}': block {} out of range [0, {})", options_.name(), block,
           numBlocks());
  const auto& hidden = state.at(StackState::kHidden);
  PL_CHECK(hidden.dim() == 3 && hidden.size(2) == options_.block().dim(),
           "stack '{}' expects hidden states [batch, tokens, {}], got {}", options_.name(), options_.block().dim(),
           c10::str(hidden.sizes()));
  const auto tokens = hidden.size(1);
  auto selfAllowed = attentionAllowed(tokens, tokens, options_.causal(), optionalField(state, StackState::kMask),
                                      optionalField(state, StackState::kAttnMask), hidden.device());
  torch::Tensor context, crossAllowed;
  std::int64_t crossRows = -1;
  auto& b = blocks_[static_cast<std::size_t>(block)];
  if (b->hasCross()) {
    if (state.has(StackState::kCrossRows)) crossRows = state.at(StackState::kCrossRows).item<std::int64_t>();
    if (crossRows != 0) {
      context = state.at(StackState::kContext);
      crossAllowed = attentionAllowed(tokens, context.size(1), false, optionalField(state, StackState::kContextMask),
                                      {}, hidden.device());
    }
  }
  model::Batch next = state;
  if (recording_ == nullptr) {
    next.set(StackState::kHidden, b->forward(hidden, selfAllowed, context, crossAllowed, crossRows));
    return next;
  }
  if (block == 0) recording_->hidden.push_back(hidden);
  torch::Tensor selfProbs, crossProbs;
  b->attn->recordProbs(&selfProbs);
  if (b->hasCross()) b->cross->recordProbs(&crossProbs);
  try {
    next.set(StackState::kHidden, b->forward(hidden, selfAllowed, context, crossAllowed, crossRows));
  } catch (...) {
    b->attn->recordProbs(nullptr);
    if (b->hasCross()) b->cross->recordProbs(nullptr);
    throw;
  }
  b->attn->recordProbs(nullptr);
  if (b->hasCross()) b->cross->recordProbs(nullptr);
  recording_->hidden.push_back(next.at(StackState::kHidden));
  // A sub-layer with every head removed computes no probabilities: nothing to record.
  if (selfProbs.defined()) recording_->selfAttention.push_back(selfProbs);
  if (crossProbs.defined()) recording_->crossAttention.push_back(crossProbs);
  return next;
}

model::Batch TransformerStackImpl::forward(const model::Batch& state) {
  model::Batch s = state;
  for (int i = 0; i < numBlocks(); ++i) s = forwardBlock(i, s);
  return s;
}

std::vector<model::LinearRef> TransformerStackImpl::linears() const {
  std::vector<model::LinearRef> out;
  for (int i = 0; i < numBlocks(); ++i) {
    for (auto& [sub, layer] : blocks_[static_cast<std::size_t>(i)]->linears())
      out.push_back({options_.name() + ".blocks." + std::to_string(i) + "." + sub, options_.name(), options_.modality(),
                     i, layer});
  }
  return out;
}

model::StackInfo TransformerStackImpl::info() const { return {options_.name(), options_.modality(), numBlocks()}; }

}  // namespace prunelab::models
