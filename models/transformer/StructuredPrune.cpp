#include "models/transformer/StructuredPrune.h"

#include <string>

#include "framework/core/Error.h"

namespace prunelab::models {

namespace {

void checkKeep(const std::vector<std::int64_t>& keep, std::int64_t size, const char* what) {
  for (std::size_t i = 0; i < keep.size(); ++i) {
    PL_CHECK(keep[i] >= 0 && keep[i] < size, "{}: index {} is out of range [0, {}): list the kept ones by position",
             what, keep[i], size);
    PL_CHECK(i == 0 || keep[i] > keep[i - 1],
             "{}: kept indices must be strictly ascending, got {} after {}: sort them and drop duplicates", what,
             keep[i], keep[i - 1]);
  }
}

torch::Tensor indexTensor(const std::vector<std::int64_t>& indices, const torch::Device& device) {
  return torch::tensor(indices, torch::TensorOptions().dtype(torch::kInt64)).to(device);
}

// Rows of the kept heads in a projection holding `parts` fused head-major blocks of heads*headDim
// rows each (q; k, v; or q, k, v).
torch::Tensor headRows(const std::vector<std::int64_t>& keep, std::int64_t heads, std::int64_t headDim,
                       std::int64_t parts, const torch::Device& device) {
  std::vector<std::int64_t> rows;
  rows.reserve(keep.size() * static_cast<std::size_t>(parts * headDim));
  for (std::int64_t p = 0; p < parts; ++p)
    for (auto h : keep)
      for (std::int64_t d = 0; d < headDim; ++d) rows.push_back(p * heads * headDim + h * headDim + d);
  return indexTensor(rows, device);
}

// A new PrunableLinear holding `layer`'s weight restricted to `rows` (output features; bias entries
// too) and/or `cols` (input features); an undefined index keeps that dimension whole.
model::PrunableLinear sliced(const model::PrunableLinear& layer, const torch::Tensor& rows, const torch::Tensor& cols) {
  torch::NoGradGuard noGrad;
  auto weight = layer->weight.detach();
  auto bias = layer->bias.defined() ? layer->bias.detach() : torch::Tensor();
  if (rows.defined()) {
    weight = weight.index_select(0, rows);
    if (bias.defined()) bias = bias.index_select(0, rows);
  }
  if (cols.defined()) weight = weight.index_select(1, cols);
  // LibTorch's default init divides by the input width, so a Linear with no inputs left cannot be
  // constructed directly: build a 1x1 one and hand it the sliced tensors (nothing else refers to
  // its parameters yet).
  model::PrunableLinear out(torch::nn::LinearOptions(1, 1).bias(bias.defined()));
  out->options.in_features(weight.size(1)).out_features(weight.size(0));
  out->weight.set_data(weight.contiguous().clone());
  out->weight.set_requires_grad(layer->weight.requires_grad());
  if (bias.defined()) {
    out->bias.set_data(bias.contiguous().clone());
    out->bias.set_requires_grad(layer->bias.requires_grad());
  }
  out->train(layer->is_training());
  return out;
}

// The gate restricted to the kept entries (still differentiable w.r.t. the original gate).
torch::Tensor slicedMask(const torch::Tensor& mask, const std::vector<std::int64_t>& keep) {
  return mask.defined() ? mask.index_select(0, indexTensor(keep, mask.device())) : mask;
}

// Validates a whole BlockKeep first, so that a bad entry leaves the block untouched.
void checkBlockKeep(const TransformerBlock& block, const BlockKeep& keep) {
  PL_CHECK(block->hasCross() || keep.crossHeads.empty(),
           "cross-attention heads to keep were given for a block without cross-attention: leave the list empty");
  checkKeep(keep.heads, block->attn->heads(), "self-attention heads to keep");
  if (block->hasCross()) checkKeep(keep.crossHeads, block->cross->heads(), "cross-attention heads to keep");
  checkKeep(keep.neurons, block->mlp->neurons(), "MLP neurons to keep");
}

}  // namespace

void removeHeads(SelfAttention& attn, const std::vector<std::int64_t>& keepHeads) {
  const auto heads = attn->heads(), headDim = attn->headDim();
  checkKeep(keepHeads, heads, "self-attention heads to keep");
  const auto device = attn->proj->weight.device();
  auto qkv = sliced(attn->qkv, headRows(keepHeads, heads, headDim, 3, device), {});
  auto proj = sliced(attn->proj, {}, headRows(keepHeads, heads, headDim, 1, device));
  auto mask = slicedMask(attn->headMask(), keepHeads);
  attn->qkv = attn->replace_module("qkv", qkv);
  attn->proj = attn->replace_module("proj", proj);
  attn->setHeadMask(mask);
}

void removeHeads(CrossAttention& attn, const std::vector<std::int64_t>& keepHeads) {
  const auto heads = attn->heads(), headDim = attn->headDim();
  checkKeep(keepHeads, heads, "cross-attention heads to keep");
  const auto device = attn->proj->weight.device();
  auto q = sliced(attn->q, headRows(keepHeads, heads, headDim, 1, device), {});
  auto kv = sliced(attn->kv, headRows(keepHeads, heads, headDim, 2, device), {});
  auto proj = sliced(attn->proj, {}, headRows(keepHeads, heads, headDim, 1, device));
  auto mask = slicedMask(attn->headMask(), keepHeads);
  attn->q = attn->replace_module("q", q);
  attn->kv = attn->replace_module("kv", kv);
  attn->proj = attn->replace_module("proj", proj);
  attn->setHeadMask(mask);
}

void removeNeurons(GeluMlp& mlp, const std::vector<std::int64_t>& keepNeurons) {
  checkKeep(keepNeurons, mlp->neurons(), "MLP neurons to keep");
  const auto keep = indexTensor(keepNeurons, mlp->fc1->weight.device());
  auto fc1 = sliced(mlp->fc1, keep, {});
  auto fc2 = sliced(mlp->fc2, {}, keep);
  auto mask = slicedMask(mlp->neuronMask(), keepNeurons);
  mlp->fc1 = mlp->replace_module("fc1", fc1);
  mlp->fc2 = mlp->replace_module("fc2", fc2);
  mlp->setNeuronMask(mask);
}

namespace {

// Σ of squares per head of a projection holding `parts` fused head-major blocks of rows (dim 0), or
// of its columns (dim 1, one block): [heads].
torch::Tensor headSquares(const torch::Tensor& weight, std::int64_t heads, std::int64_t parts, int dim) {
  if (heads == 0) return torch::zeros({0});
  const auto w = weight.detach().to(torch::kFloat);
  if (dim == 0) return w.pow(2).reshape({parts, heads, -1}).sum(std::vector<std::int64_t>{0, 2});
  return w.pow(2).reshape({w.size(0), heads, -1}).sum(std::vector<std::int64_t>{0, 2});
}

}  // namespace

torch::Tensor headNorms(const SelfAttention& attn) {
  const auto h = attn->heads();
  return (headSquares(attn->qkv->weight, h, 3, 0) + headSquares(attn->proj->weight, h, 1, 1)).sqrt();
}

torch::Tensor headNorms(const CrossAttention& attn) {
  const auto h = attn->heads();
  return (headSquares(attn->q->weight, h, 1, 0) + headSquares(attn->kv->weight, h, 2, 0) +
          headSquares(attn->proj->weight, h, 1, 1))
      .sqrt();
}

torch::Tensor neuronNorms(const GeluMlp& mlp) {
  if (mlp->neurons() == 0) return torch::zeros({0});
  const auto fc1 = mlp->fc1->weight.detach().to(torch::kFloat), fc2 = mlp->fc2->weight.detach().to(torch::kFloat);
  return (fc1.pow(2).sum(1) + fc2.pow(2).sum(0)).sqrt();
}

std::vector<std::int64_t> keptIndices(const torch::Tensor& binaryMask, std::int64_t size, const char* what) {
  if (!binaryMask.defined()) {
    std::vector<std::int64_t> all(static_cast<std::size_t>(size));
    for (std::int64_t i = 0; i < size; ++i) all[static_cast<std::size_t>(i)] = i;
    return all;
  }
  PL_CHECK(binaryMask.dim() == 1 && binaryMask.size(0) == size, "{} must be a vector of {} entries, got shape {}", what,
           size, c10::str(binaryMask.sizes()));
  const auto m = binaryMask.detach().to(torch::kCPU, torch::kDouble);
  PL_CHECK(m.eq(0).logical_or(m.eq(1)).all().item<bool>(),
           "{} must be binary (0 = remove, 1 = keep) for physical removal: turn the gates into deterministic 0/1 "
           "masks first (EfficientVLM's deterministic z), or keep soft gates as masks instead of removing",
           what);
  const auto idx = m.nonzero().view({-1}).contiguous();
  return {idx.data_ptr<std::int64_t>(), idx.data_ptr<std::int64_t>() + idx.numel()};
}

BlockKeep keepOf(const TransformerBlock& block, const BlockMasks& masks) {
  BlockKeep keep;
  keep.heads = keptIndices(masks.heads, block->attn->heads(), "self-attention head mask");
  if (block->hasCross()) {
    keep.crossHeads = keptIndices(masks.crossHeads, block->cross->heads(), "cross-attention head mask");
  } else {
    PL_CHECK(!masks.crossHeads.defined(),
             "a cross-attention head mask was given for a block without cross-attention: leave it undefined");
  }
  keep.neurons = keptIndices(masks.neurons, block->mlp->neurons(), "MLP neuron mask");
  return keep;
}

void pruneBlock(TransformerBlock& block, const BlockKeep& keep) {
  checkBlockKeep(block, keep);
  removeHeads(block->attn, keep.heads);
  if (block->hasCross()) removeHeads(block->cross, keep.crossHeads);
  removeNeurons(block->mlp, keep.neurons);
}

void pruneStack(TransformerStack& stack, const std::vector<BlockKeep>& keeps) {
  PL_CHECK(static_cast<int>(keeps.size()) == stack->numBlocks(),
           "stack '{}' has {} blocks but {} kept-structure entries were given: give one per block",
           stack->options().name(), stack->numBlocks(), keeps.size());
  // Every block is validated before any is changed, so a bad entry leaves the stack untouched.
  for (std::size_t i = 0; i < keeps.size(); ++i) {
    try {
      checkBlockKeep(stack->blocks()[i], keeps[i]);
    } catch (const Error& e) {
      PL_THROW("stack '{}', block {}: {}", stack->options().name(), i, e.what());
    }
  }
  for (std::size_t i = 0; i < keeps.size(); ++i) {
    auto block = stack->blocks()[i];
    pruneBlock(block, keeps[i]);
  }
}

std::vector<BlockKeep> pruneStackByMasks(TransformerStack& stack, const std::vector<BlockMasks>& masks) {
  PL_CHECK(static_cast<int>(masks.size()) == stack->numBlocks(),
           "stack '{}' has {} blocks but {} block masks were given: give one per block (undefined tensors keep all)",
           stack->options().name(), stack->numBlocks(), masks.size());
  std::vector<BlockKeep> keeps;
  const auto& blocks = stack->blocks();
  for (std::size_t i = 0; i < masks.size(); ++i) {
    try {
      keeps.push_back(keepOf(blocks[i], masks[i]));
    } catch (const Error& e) {
      PL_THROW("stack '{}', block {}: {}", stack->options().name(), i, e.what());
    }
  }
  pruneStack(stack, keeps);
  return keeps;
}

nlohmann::ordered_json toJson(const std::vector<BlockKeep>& keeps) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& k : keeps)
    out.push_back({{"heads", k.heads}, {"cross_heads", k.crossHeads}, {"neurons", k.neurons}});
  return out;
}

std::vector<BlockKeep> keepsFromJson(const nlohmann::ordered_json& json) {
  PL_CHECK(json.is_array(), "kept structures must be a JSON array with one object per block, got {}", json.dump());
  std::vector<BlockKeep> keeps;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const auto& b = json[i];
    PL_CHECK(b.is_object(), "kept structures, block {}: expected an object with heads, cross_heads and neurons, got {}",
             i, b.dump());
    auto field = [&](const char* name) {
      PL_CHECK(b.contains(name) && b.at(name).is_array(),
               "kept structures, block {}: '{}' must be an array of indices (write it with toJson), got {}", i, name,
               b.dump());
      std::vector<std::int64_t> v;
      for (const auto& x : b.at(name)) {
        PL_CHECK(x.is_number_integer(), "kept structures, block {}: '{}' holds a non-integer {}", i, name, x.dump());
        v.push_back(x.get<std::int64_t>());
      }
      return v;
    };
    keeps.push_back({field("heads"), field("cross_heads"), field("neurons")});
  }
  return keeps;
}

}  // namespace prunelab::models
