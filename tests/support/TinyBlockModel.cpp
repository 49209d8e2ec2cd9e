#include "tests/support/TinyBlockModel.h"

#include <ATen/CPUGeneratorImpl.h>

#include "framework/core/Error.h"

namespace prunelab::testing {

TinyBlockModel::TinyBlockModel(int dim, int blocks, std::uint64_t seed) : root_(std::make_shared<torch::nn::Module>()) {
  torch::manual_seed(seed);
  for (int i = 0; i < blocks; ++i) {
    Block v{model::PrunableLinear(dim, 2 * dim), model::PrunableLinear(2 * dim, dim)};
    root_->register_module("vision_" + std::to_string(i) + "_fc1", v.fc1);
    root_->register_module("vision_" + std::to_string(i) + "_fc2", v.fc2);
    vision_.push_back(v);
  }
  bridge_ = root_->register_module("bridge", model::PrunableLinear(dim, dim));
  for (int i = 0; i < blocks; ++i) {
    Block l{model::PrunableLinear(dim, 2 * dim), model::PrunableLinear(2 * dim, dim)};
    root_->register_module("language_" + std::to_string(i) + "_fc1", l.fc1);
    root_->register_module("language_" + std::to_string(i) + "_fc2", l.fc2);
    language_.push_back(l);
  }
}

std::vector<model::StackInfo> TinyBlockModel::stacks() const {
  return {{"vision", "vision", static_cast<int>(vision_.size())},
          {"language", "language", static_cast<int>(language_.size())}};
}

std::vector<model::LinearRef> TinyBlockModel::linears() {
  std::vector<model::LinearRef> out;
  auto add = [&](const std::string& stack, std::vector<Block>& blocks) {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const std::string p = stack + ".blocks." + std::to_string(i) + ".mlp.";
      out.push_back({p + "fc1", stack, stack, static_cast<int>(i), blocks[i].fc1});
      out.push_back({p + "fc2", stack, stack, static_cast<int>(i), blocks[i].fc2});
    }
  };
  add("vision", vision_);
  out.push_back({"bridge.proj", "bridge", "bridge", -1, bridge_});
  add("language", language_);
  return out;
}

model::Batch TinyBlockModel::stackInputs(const std::string& stack, const model::Batch& batch) {
  model::Batch state;
  state.set("hidden", batch.at("inputs"));
  if (stack == "vision") return state;
  PL_CHECK(stack == "language", "TinyBlockModel has stacks 'vision' and 'language', not '{}'", stack);
  for (int i = 0; i < static_cast<int>(vision_.size()); ++i) state = forwardBlock("vision", i, state);
  state.set("hidden", bridge_->forward(state.at("hidden")));
  return state;
}

model::Batch TinyBlockModel::forwardBlock(const std::string& stack, int block, const model::Batch& state) {
  auto& blocks = stack == "vision" ? vision_ : language_;
  auto& b = blocks.at(static_cast<std::size_t>(block));
  const auto& h = state.at("hidden");
  model::Batch next;
  next.set("hidden", h + b.fc2->forward(torch::gelu(b.fc1->forward(h))));
  return next;
}

torch::Tensor TinyBlockModel::loss(const model::Batch& batch) {
  auto state = stackInputs("language", batch);
  for (int i = 0; i < static_cast<int>(language_.size()); ++i) state = forwardBlock("language", i, state);
  return state.at("hidden").pow(2).mean();
}

torch::Tensor TinyBlockModel::outputFromBlock(const std::string& stack, int block, model::Batch state) {
  PL_CHECK(stack == "vision" || stack == "language", "TinyBlockModel has stacks 'vision' and 'language', not '{}'",
           stack);
  auto& blocks = stack == "vision" ? vision_ : language_;
  PL_CHECK(block >= 0 && block <= static_cast<int>(blocks.size()), "TinyBlockModel: block {} out of range [0, {}]",
           block, blocks.size());
  for (int i = block; i < static_cast<int>(blocks.size()); ++i) state = forwardBlock(stack, i, state);
  if (stack == "vision") {
    state.set("hidden", bridge_->forward(state.at("hidden")));
    for (int i = 0; i < static_cast<int>(language_.size()); ++i) state = forwardBlock("language", i, state);
  }
  return state.at("hidden");
}

torch::Tensor TinyBlockModel::lossFromBlock(const std::string& stack, int block, const model::Batch& state,
                                            const model::Batch& batch) {
  return outputFromBlock(stack, block, state).pow(2).mean();
}

torch::Tensor TinyBlockModel::lossesFromBlock(const std::string& stack, int block,
                                              const std::vector<model::Batch>& states, const model::Batch& batch) {
  std::vector<torch::Tensor> hidden;
  for (const auto& s : states) hidden.push_back(s.at("hidden"));
  model::Batch joined;
  joined.set("hidden", torch::cat(hidden, 0));
  const auto k = static_cast<std::int64_t>(states.size());
  return outputFromBlock(stack, block, joined).pow(2).reshape({k, -1}).mean(1);
}

std::vector<model::Batch> randomBatches(int count, int size, int dim, std::uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  std::vector<model::Batch> out;
  for (int i = 0; i < count; ++i) {
    model::Batch b;
    b.set("inputs", torch::randn({size, dim}, gen, torch::kFloat));
    out.push_back(b);
  }
  return out;
}

}  // namespace prunelab::testing
