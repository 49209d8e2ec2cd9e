#include "models/mlp/MlpClassifier.h"

#include <cmath>
#include <filesystem>

#include "framework/config/Value.h"
#include "framework/core/Log.h"
#include "framework/core/Options.h"
#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"
#include "framework/model/WeightCache.h"
#include "models/transformer/Recipe.h"

namespace prunelab::models {

namespace fs = std::filesystem;

MlpNetImpl::MlpNetImpl(std::int64_t inputs, const std::vector<std::int64_t>& hidden, std::int64_t classes) {
  std::int64_t width = inputs;
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    blocks.push_back(register_module("blocks_" + std::to_string(i), model::PrunableLinear(width, hidden[i])));
    width = hidden[i];
  }
  head = register_module("head", model::PrunableLinear(width, classes));
}

torch::Tensor MlpNetImpl::forward(torch::Tensor images) {
  auto x = images.flatten(1);
  for (auto& block : blocks) x = torch::gelu(block->forward(x));
  return head->forward(x);
}

MlpClassifier::MlpClassifier(Options options) : options_(std::move(options)) {}

void MlpClassifier::prepare(const model::ModelContext& ctx) {
  PL_CHECK(ctx.data != nullptr, "mlp: no data source to train on");
  torch::manual_seed(static_cast<std::uint64_t>(ctx.seed));
  net_ = MlpNet(options_.image_size * options_.image_size, options_.hidden, options_.num_classes);

  // The recipe: architecture and training options, the exact data, the seed and the code version.
  const std::string recipe = fmt::format("mlp-v1|{}|{}|{}", config::canonicalJson(dumpOptions(options_)),
                                         ctx.data->fingerprint(), ctx.seed);
  weightsId_ = model::loadOrTrain(*net_, ctx.cacheDir, "mlp", recipe, [&] { train(ctx); }).weightsId;
  net_->eval();
}

void MlpClassifier::train(const model::ModelContext& ctx) {
  auto trainSet = ctx.data->split("train");
  torch::optim::AdamW optimizer(net_->parameters(),
                                torch::optim::AdamWOptions(options_.lr).weight_decay(options_.weight_decay));
  net_->train();
  const std::int64_t perEpoch = data::BatchSampler(*trainSet, options_.batch_size).numBatches();
  const std::int64_t totalSteps = std::max<std::int64_t>(1, perEpoch * options_.epochs);
  Progress progress("train mlp", totalSteps, "step");
  std::int64_t step = 0;
  for (std::int64_t epoch = 0; epoch < options_.epochs; ++epoch) {
    data::BatchSampler sampler(*trainSet, options_.batch_size, /*shuffle=*/true,
                               static_cast<std::uint64_t>(ctx.seed) * 1000003u + static_cast<std::uint64_t>(epoch));
    double epochLoss = 0;
    for (std::int64_t b = 0; b < sampler.numBatches(); ++b, ++step) {
      const double lr = warmupCosineLr(options_.lr, step, 0, totalSteps);
      setLearningRate(optimizer, lr);
      auto batch = sampler.batch(b);
      optimizer.zero_grad();
      auto l = loss(batch);
      l.backward();
      optimizer.step();
      epochLoss += l.item<double>();
      progress.advance(1, fmt::format("epoch {} loss {:.4f}", epoch + 1, l.item<double>()));
    }
    if (ctx.logMetric) ctx.logMetric("train/mlp/train/loss", epochLoss / sampler.numBatches(), epoch + 1);
  }
  progress.finish();
  net_->eval();
}

std::vector<model::StackInfo> MlpClassifier::stacks() const {
  return {{"vision", "vision", static_cast<int>(options_.hidden.size())}};
}

std::vector<model::LinearRef> MlpClassifier::linears() {
  PL_CHECK(!net_.is_empty(), "mlp: linears() before prepare()");
  std::vector<model::LinearRef> out;
  for (std::size_t i = 0; i < net_->blocks.size(); ++i)
    out.push_back({"vision.blocks." + std::to_string(i) + ".fc", "vision", "vision", static_cast<int>(i),
                   net_->blocks[i]});
  out.push_back({"head", "head", "vision", -1, net_->head});
  return out;
}

torch::Tensor MlpClassifier::loss(const model::Batch& batch) {
  return torch::nn::functional::cross_entropy(classLogits(batch), batch.at("labels"));
}

torch::Tensor MlpClassifier::classLogits(const model::Batch& batch) {
  PL_CHECK(!net_.is_empty(), "mlp: used before prepare()");
  return net_->forward(batch.at("images"));
}

void MlpClassifier::checkStack(const std::string& stack) const {
  PL_CHECK(stack == "vision", "mlp has one stack, 'vision'; got '{}'", stack);
}

model::Batch MlpClassifier::stackInputs(const std::string& stack, const model::Batch& batch) {
  checkStack(stack);
  model::Batch state;
  state.set("hidden", batch.at("images").flatten(1));
  return state;
}

model::Batch MlpClassifier::forwardBlock(const std::string& stack, int block, const model::Batch& state) {
  checkStack(stack);
  PL_CHECK(block >= 0 && block < static_cast<int>(net_->blocks.size()), "mlp: block {} out of range [0, {})", block,
           net_->blocks.size());
  model::Batch next;
  next.set("hidden", torch::gelu(net_->blocks[static_cast<std::size_t>(block)]->forward(state.at("hidden"))));
  return next;
}

torch::Tensor MlpClassifier::logitsFromBlock(int block, torch::Tensor hidden) {
  checkStack("vision");
  PL_CHECK(!net_.is_empty(), "mlp: used before prepare()");
  PL_CHECK(block >= 0 && block <= static_cast<int>(net_->blocks.size()), "mlp: block {} out of range [0, {}]", block,
           net_->blocks.size());
  for (std::size_t i = static_cast<std::size_t>(block); i < net_->blocks.size(); ++i)
    hidden = torch::gelu(net_->blocks[i]->forward(hidden));
  return net_->head->forward(hidden);
}

torch::Tensor MlpClassifier::lossFromBlock(const std::string& stack, int block, const model::Batch& state,
                                           const model::Batch& batch) {
  checkStack(stack);
  return torch::nn::functional::cross_entropy(logitsFromBlock(block, state.at("hidden")), batch.at("labels"));
}

torch::Tensor MlpClassifier::lossesFromBlock(const std::string& stack, int block,
                                             const std::vector<model::Batch>& states, const model::Batch& batch) {
  checkStack(stack);
  PL_CHECK(!states.empty(), "mlp: lossesFromBlock needs at least one state");
  std::vector<torch::Tensor> hidden;
  for (const auto& s : states) hidden.push_back(s.at("hidden"));
  const auto k = static_cast<std::int64_t>(states.size());
  const auto& labels = batch.at("labels");
  auto perExample = torch::nn::functional::cross_entropy(
      logitsFromBlock(block, torch::cat(hidden, 0)), labels.repeat({k}),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  return perExample.view({k, labels.size(0)}).mean(1);
}

}  // namespace prunelab::models
