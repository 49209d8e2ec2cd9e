#include "models/mini_lm/MiniLm.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include "framework/config/Value.h"
#include "framework/core/Log.h"
#include "framework/core/Options.h"
#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"
#include "framework/model/WeightCache.h"
#include "models/transformer/Recipe.h"

namespace prunelab::models {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStack = "language";
constexpr const char* kTokens = "tokens";
constexpr std::int64_t kPad = 0;

// The non-padding tokens of a split's "tokens" rows, row after row: the corpus as one stream.
torch::Tensor tokenStream(const data::Dataset& split) {
  data::BatchSampler sampler(split, 4096);
  std::vector<torch::Tensor> parts;
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
    auto rows = sampler.batch(b).at(kTokens);
    parts.push_back(rows.masked_select(rows.ne(kPad)));
  }
  PL_CHECK(!parts.empty(), "mini_lm: the training split is empty");
  return torch::cat(parts);
}

// Consecutive windows of `length` tokens of `stream`, starting at `offset` (the tail is dropped).
torch::Tensor windows(const torch::Tensor& stream, std::int64_t offset, std::int64_t length) {
  const std::int64_t n = (stream.size(0) - offset) / length;
  return stream.narrow(0, offset, n * length).view({n, length});
}

}  // namespace

MiniLmNetImpl::MiniLmNetImpl(std::int64_t vocab, std::int64_t maxLen, const StackOptions& stack, bool tied) {
  const std::int64_t dim = stack.block().dim();
  tokEmbed = register_module("tok_embed", torch::nn::Embedding(vocab, dim));
  posEmbed = register_parameter("pos_embed", torch::zeros({maxLen, dim}));
  language = register_module(stack.name(), TransformerStack(stack));
  lnF = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  if (!tied) head = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(dim, vocab).bias(false)));
}

torch::Tensor MiniLmNetImpl::logitsFromHidden(const torch::Tensor& hidden) {
  auto h = lnF->forward(hidden);
  return head.is_empty() ? torch::matmul(h, tokEmbed->weight.t()) : head->forward(h);
}

MiniLm::MiniLm(Options options) : options_(std::move(options)) {}

void MiniLm::build(std::int64_t seed) {
  const auto s = static_cast<std::uint64_t>(seed);
  StackOptions stack(kStack, "language", options_.depth,
                     BlockOptions(options_.dim, options_.heads).mlpDim(options_.mlp_dim));
  stack.causal(true).seed(mixSeed(s, 1));
  net_ = MiniLmNet(options_.vocab_size, options_.max_len, stack, options_.tie_embeddings);
  torch::NoGradGuard noGrad;
  auto gen = at::detail::createCPUGenerator(mixSeed(s, 0));
  net_->tokEmbed->weight.normal_(0.0, 0.02, gen);
  net_->posEmbed.normal_(0.0, 0.01, gen);
  if (!net_->head.is_empty()) net_->head->weight.normal_(0.0, 0.02, gen);
}

void MiniLm::prepare(const model::ModelContext& ctx) {
  PL_CHECK(ctx.data != nullptr, "mini_lm: no data source to train on");
  build(ctx.seed);

  // The recipe: architecture and training options, the exact data, the seed and the code version.
  const auto optionsYaml = dumpOptions(options_);
  const std::string recipe =
      fmt::format("mini_lm-v1|{}|{}|{}", config::canonicalJson(optionsYaml), ctx.data->fingerprint(), ctx.seed);
  // The model config beside the weights (architecture, options, data, seed).
  nlohmann::ordered_json config;
  config["format"] = "prunelab-mini_lm";
  config["version"] = 1;
  config["architecture"] = {{"vocab_size", options_.vocab_size},
                            {"dim", options_.dim},
                            {"depth", options_.depth},
                            {"heads", options_.heads},
                            {"mlp_dim", options_.mlp_dim},
                            {"max_len", options_.max_len},
                            {"tie_embeddings", options_.tie_embeddings},
                            {"pad_id", kPad}};
  config["options"] = config::toJson(optionsYaml);
  config["data_fingerprint"] = ctx.data->fingerprint();
  config["seed"] = ctx.seed;
  const auto cached = model::loadOrTrain(*net_, ctx.cacheDir, "mini_lm", recipe, [&] { train(ctx); }, config);
  weightsId_ = cached.weightsId;
  cacheFile_ = cached.file.string();
  net_->eval();
}

void MiniLm::train(const model::ModelContext& ctx) {
  const auto& o = options_;
  const torch::Tensor stream = tokenStream(*ctx.data->split(o.train_split));
  PL_CHECK(stream.size(0) >= 2 * o.max_len, "mini_lm: split '{}' has only {} tokens, too few for windows of {}",
           o.train_split, stream.size(0), o.max_len);
  PL_CHECK(stream.max().item<std::int64_t>() < o.vocab_size,
           "mini_lm: split '{}' holds token id {} but vocab_size is {}: set model.vocab_size to the tokenizer's size",
           o.train_split, stream.max().item<std::int64_t>(), o.vocab_size);

  // Weight decay on the Linear weights only (not biases, norms, embeddings or positions).
  auto optimizerPtr = makeAdamW(*net_, o.lr, o.weight_decay, {0.9, 0.95}, [](const std::string& k, const torch::Tensor& t) {
    return t.dim() == 2 && k != "tok_embed.weight" && k != "pos_embed";
  });
  auto& optimizer = *optimizerPtr;

  net_->train();
  Progress progress("train mini_lm", o.steps, "step");
  const auto dataSeed = mixSeed(static_cast<std::uint64_t>(ctx.seed), 2);
  torch::Tensor pass, order;
  std::int64_t passIndex = -1, cursor = 0;
  double windowLoss = 0;
  std::int64_t windowSteps = 0;
  for (std::int64_t step = 0; step < o.steps; ++step) {
    if (!pass.defined() || cursor + o.batch_size > pass.size(0)) {
      // A new pass over the corpus: new window offset, new window order, both from the seed.
      ++passIndex;
      auto gen = at::detail::createCPUGenerator(mixSeed(dataSeed, static_cast<std::uint64_t>(passIndex)));
      const auto offset = torch::randint(o.max_len, {1}, gen, torch::kInt64).item<std::int64_t>();
      pass = windows(stream, offset, o.max_len);
      PL_CHECK(pass.size(0) >= o.batch_size,
               "mini_lm: only {} windows of {} tokens for batches of {}: lower batch_size or max_len", pass.size(0),
               o.max_len, o.batch_size);
      order = torch::randperm(pass.size(0), gen, torch::kInt64);
      cursor = 0;
    }
    auto batch = pass.index_select(0, order.narrow(0, cursor, o.batch_size));
    cursor += o.batch_size;
    const double lr = warmupCosineLr(o.lr, step, o.warmup_steps, o.steps);
    setLearningRate(optimizer, lr);
    optimizer.zero_grad();
    auto l = loss(model::Batch().set(kTokens, batch));
    l.backward();
    if (o.grad_clip > 0) torch::nn::utils::clip_grad_norm_(net_->parameters(), o.grad_clip);
    optimizer.step();
    const double value = l.item<double>();
    windowLoss += value;
    ++windowSteps;
    if (ctx.logMetric && (windowSteps == o.log_every || step + 1 == o.steps)) {
      ctx.logMetric("train/mini_lm/train/loss", windowLoss / static_cast<double>(windowSteps), step + 1);
      windowLoss = 0;
      windowSteps = 0;
    }
    progress.advance(1, fmt::format("pass {} loss {:.4f} lr {:.2e}", passIndex + 1, value, lr));
  }
  progress.finish();
  net_->eval();

  if (!o.val_split.empty() && ctx.logMetric) {
    torch::NoGradGuard noGrad;
    auto val = windows(tokenStream(*ctx.data->split(o.val_split)), 0, o.max_len);
    const std::int64_t n = std::min<std::int64_t>(val.size(0), 256);
    double sum = 0;
    std::int64_t batches = 0;
    for (std::int64_t b = 0; b < n; b += o.batch_size, ++batches)
      sum += loss(model::Batch().set(kTokens, val.narrow(0, b, std::min(o.batch_size, n - b)))).item<double>();
    if (batches > 0) ctx.logMetric("train/mini_lm/val/loss", sum / static_cast<double>(batches), o.steps);
  }
}

torch::Tensor MiniLm::checkedTokens(const torch::Tensor& tokens) const {
  PL_CHECK(tokens.dim() == 2, "mini_lm expects token ids [batch, length], got {}", c10::str(tokens.sizes()));
  PL_CHECK(tokens.size(1) >= 1 && tokens.size(1) <= options_.max_len,
           "mini_lm: sequences of {} tokens, but the model has {} positions (max_len)", tokens.size(1),
           options_.max_len);
  PL_CHECK(tokens.scalar_type() == torch::kInt64, "mini_lm expects int64 token ids, got {}",
           c10::toString(tokens.scalar_type()));
  if (tokens.numel() > 0) {
    const auto lo = tokens.min().item<std::int64_t>(), hi = tokens.max().item<std::int64_t>();
    PL_CHECK(lo >= 0 && hi < options_.vocab_size,
             "mini_lm: token id {} outside the vocabulary [0, {}): set model.vocab_size to the tokenizer's size",
             lo < 0 ? lo : hi, options_.vocab_size);
  }
  return tokens;
}

void MiniLm::checkBuilt() const { PL_CHECK(!net_.is_empty(), "mini_lm: used before prepare()"); }

void MiniLm::checkStack(const std::string& stack) const {
  PL_CHECK(stack == kStack, "mini_lm has one stack, 'language'; got '{}'", stack);
}

std::vector<model::StackInfo> MiniLm::stacks() const {
  return {{kStack, "language", static_cast<int>(options_.depth)}};
}

std::vector<model::LinearRef> MiniLm::linears() {
  checkBuilt();
  return net_->language->linears();
}

torch::nn::Module& MiniLm::module() {
  checkBuilt();
  return *net_;
}

model::Batch MiniLm::embed(const torch::Tensor& tokens) {
  checkBuilt();
  checkedTokens(tokens);
  model::Batch state;
  state.set(StackState::kHidden, net_->tokEmbed->forward(tokens) + net_->posEmbed.narrow(0, 0, tokens.size(1)));
  state.set(kTokens, tokens);
  // Padding only needs masking when present; causal attention alone already hides right padding
  // from real tokens, and the mask keeps left or inner padding out too.
  if (tokens.eq(kPad).any().item<bool>()) state.set(StackState::kMask, tokens.ne(kPad));
  return state;
}

model::Batch MiniLm::stackInputs(const std::string& stack, const model::Batch& batch) {
  checkStack(stack);
  auto tokens = checkedTokens(batch.has(kTokens) ? batch.at(kTokens) : batch.at("captions"));
  // Columns that are padding in every row change no real token's output (causal attention) nor the
  // loss, but the blockwise driver's observers would count them as calibration inputs: drop them.
  const auto used = tokens.ne(kPad).any(0).nonzero();
  const std::int64_t length = used.numel() > 0 ? used.max().item<std::int64_t>() + 1 : tokens.size(1);
  return embed(tokens.narrow(1, 0, std::max<std::int64_t>(length, std::min<std::int64_t>(2, tokens.size(1)))));
}

model::Batch MiniLm::forwardBlock(const std::string& stack, int block, const model::Batch& state) {
  checkStack(stack);
  checkBuilt();
  return net_->language->forwardBlock(block, state);
}

torch::Tensor MiniLm::logits(const torch::Tensor& tokens) {
  auto state = net_->language->forward(embed(tokens));
  return net_->logitsFromHidden(state.at(StackState::kHidden));
}

torch::Tensor MiniLm::lossFromState(const model::Batch& state) {
  checkBuilt();
  const auto& tokens = state.at(kTokens);
  PL_CHECK(tokens.size(1) >= 2, "mini_lm: the loss needs sequences of at least 2 tokens, got {}", tokens.size(1));
  auto out = net_->logitsFromHidden(state.at(StackState::kHidden).narrow(1, 0, tokens.size(1) - 1));
  auto targets = tokens.narrow(1, 1, tokens.size(1) - 1);
  PL_CHECK(targets.ne(kPad).any().item<bool>(), "mini_lm: a batch with no token to predict (all padding)");
  return torch::nn::functional::cross_entropy(out.reshape({-1, out.size(-1)}), targets.reshape({-1}),
                                              torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kPad));
}

torch::Tensor MiniLm::loss(const model::Batch& batch) {
  return lossFromState(net_->language->forward(stackInputs(kStack, batch)));
}

model::Batch MiniLm::runFrom(int block, model::Batch state) {
  PL_CHECK(block >= 0 && block <= net_->language->numBlocks(), "mini_lm: block {} out of range [0, {}]", block,
           net_->language->numBlocks());
  for (int b = block; b < net_->language->numBlocks(); ++b) state = net_->language->forwardBlock(b, state);
  return state;
}

torch::Tensor MiniLm::lossFromBlock(const std::string& stack, int block, const model::Batch& state,
                                    const model::Batch& /*batch*/) {
  checkStack(stack);
  checkBuilt();
  return lossFromState(runFrom(block, state));
}

torch::Tensor MiniLm::lossesFromBlock(const std::string& stack, int block, const std::vector<model::Batch>& states,
                                      const model::Batch& /*batch*/) {
  checkStack(stack);
  checkBuilt();
  PL_CHECK(!states.empty(), "mini_lm: lossesFromBlock needs at least one state");
  // Every field has the batch first; a mask present in one state is rebuilt for the others.
  const bool anyMask =
      std::any_of(states.begin(), states.end(), [](const auto& s) { return s.has(StackState::kMask); });
  for (const auto& s : states)
    PL_CHECK(s.at(kTokens).size(1) == states[0].at(kTokens).size(1),
             "mini_lm: lossesFromBlock states must have the same length, got {} and {}", s.at(kTokens).size(1),
             states[0].at(kTokens).size(1));
  model::Batch joined;
  for (const char* field : {StackState::kHidden, kTokens}) {
    std::vector<torch::Tensor> parts;
    for (const auto& s : states) parts.push_back(s.at(field));
    joined.set(field, torch::cat(parts, 0));
  }
  if (anyMask) joined.set(StackState::kMask, joined.at(kTokens).ne(kPad));
  auto out = runFrom(block, joined);
  const auto& tokens = out.at(kTokens);
  const auto length = tokens.size(1);
  auto logits = net_->logitsFromHidden(out.at(StackState::kHidden).narrow(1, 0, length - 1));
  auto targets = tokens.narrow(1, 1, length - 1);
  auto nll = torch::nn::functional::cross_entropy(
                 logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}),
                 torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kPad).reduction(torch::kNone))
                 .view(targets.sizes());
  auto counted = targets.ne(kPad);
  std::vector<torch::Tensor> losses;
  std::int64_t row = 0;
  for (const auto& s : states) {
    const auto n = s.at(kTokens).size(0);
    losses.push_back(nll.narrow(0, row, n).sum() / counted.narrow(0, row, n).sum());
    row += n;
  }
  return torch::stack(losses);
}

torch::Tensor MiniLm::nextTokenLogProbs(const torch::Tensor& tokens) {
  checkBuilt();
  return torch::log_softmax(logits(tokens), -1);
}

}  // namespace prunelab::models
