#include "tests/support/TinyBlockModel.h"

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

}  // namespace prunelab::testing
