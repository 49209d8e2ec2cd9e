#include "models/mini_clip/MiniClip.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <filesystem>
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

constexpr const char* kVision = "vision";
constexpr const char* kLanguage = "language";
constexpr const char* kTokens = "tokens";
constexpr const char* kImageEmbeds = "image_embeds";
constexpr std::int64_t kPad = 0;
const double kInitLogitScale = std::log(1.0 / 0.07);
const double kMaxLogitScale = std::log(100.0);

torch::Tensor normalized(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(-1).eps(1e-12));
}

}  // namespace

MiniClipNetImpl::MiniClipNetImpl(std::int64_t patchPixels, std::int64_t numPatches, std::int64_t vocab,
                                 std::int64_t maxLen, std::int64_t embedDim, const StackOptions& visionStack,
                                 const StackOptions& languageStack) {
  const std::int64_t dim = visionStack.block().dim();
  patchEmbed = register_module("patch_embed", torch::nn::Linear(patchPixels, dim));
  visionPos = register_parameter("vision_pos", torch::zeros({numPatches, dim}));
  vision = register_module(visionStack.name(), TransformerStack(visionStack));
  visionLn = register_module("vision_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  visionProj = register_module("vision_proj", torch::nn::Linear(torch::nn::LinearOptions(dim, embedDim).bias(false)));
  tokEmbed = register_module("tok_embed", torch::nn::Embedding(vocab, dim));
  textPos = register_parameter("text_pos", torch::zeros({maxLen, dim}));
  language = register_module(languageStack.name(), TransformerStack(languageStack));
  textLn = register_module("text_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  textProj = register_module("text_proj", torch::nn::Linear(torch::nn::LinearOptions(dim, embedDim).bias(false)));
  logitScale = register_parameter("logit_scale", torch::full({}, kInitLogitScale));
}

MiniClip::MiniClip(Options options) : options_(std::move(options)) {}

void MiniClip::build(std::int64_t seed) {
  const auto s = static_cast<std::uint64_t>(seed);
  const auto& o = options_;
  const BlockOptions block = BlockOptions(o.dim, o.heads).mlpDim(o.mlp_dim);
  StackOptions vision(kVision, "vision", o.vision_depth, block);
  vision.seed(mixSeed(s, 1));
  StackOptions language(kLanguage, "language", o.text_depth, block);
  language.seed(mixSeed(s, 2));
  const std::int64_t side = o.image_size / o.patch_size;
  net_ = MiniClipNet(o.patch_size * o.patch_size, side * side, o.vocab_size, o.max_len, o.embed_dim, vision, language);
  torch::NoGradGuard noGrad;
  auto gen = at::detail::createCPUGenerator(mixSeed(s, 0));
  const double patchStd = 1.0 / std::sqrt(static_cast<double>(o.patch_size * o.patch_size));
  net_->patchEmbed->weight.normal_(0.0, patchStd, gen);
  net_->patchEmbed->bias.zero_();
  net_->visionPos.normal_(0.0, 0.02, gen);
  net_->tokEmbed->weight.normal_(0.0, 0.02, gen);
  net_->textPos.normal_(0.0, 0.01, gen);
  const double projStd = 1.0 / std::sqrt(static_cast<double>(o.dim));
  net_->visionProj->weight.normal_(0.0, projStd, gen);
  net_->textProj->weight.normal_(0.0, projStd, gen);
}

void MiniClip::prepare(const model::ModelContext& ctx) {
  PL_CHECK(ctx.data != nullptr, "mini_clip: no data source to train on");
  build(ctx.seed);

  // The recipe: architecture and training options, the exact data, the seed and the code version.
  const auto optionsYaml = dumpOptions(options_);
  const std::string recipe =
      fmt::format("mini_clip-v1|{}|{}|{}", config::canonicalJson(optionsYaml), ctx.data->fingerprint(), ctx.seed);
  // The model config beside the weights (architecture, options, data, seed).
  const auto& o = options_;
  nlohmann::ordered_json config;
  config["format"] = "prunelab-mini_clip";
  config["version"] = 1;
  config["architecture"] = {{"image_size", o.image_size},
                            {"patch_size", o.patch_size},
                            {"vocab_size", o.vocab_size},
                            {"max_len", o.max_len},
                            {"dim", o.dim},
                            {"heads", o.heads},
                            {"mlp_dim", o.mlp_dim},
                            {"vision_depth", o.vision_depth},
                            {"text_depth", o.text_depth},
                            {"embed_dim", o.embed_dim},
                            {"vision_pool", "mean"},
                            {"text_pool", "mean_real_tokens"},
                            {"pad_id", kPad}};
  config["options"] = config::toJson(optionsYaml);
  config["data_fingerprint"] = ctx.data->fingerprint();
  config["seed"] = ctx.seed;
  const auto cached = model::loadOrTrain(*net_, ctx.cacheDir, "mini_clip", recipe, [&] { train(ctx); }, config);
  weightsId_ = cached.weightsId;
  cacheFile_ = cached.file.string();
  net_->eval();
}

void MiniClip::train(const model::ModelContext& ctx) {
  const auto& o = options_;
  auto trainSet = ctx.data->split(o.train_split);
  PL_CHECK(trainSet->size() >= 2, "mini_clip: split '{}' has {} examples, too few for a contrastive batch",
           o.train_split, trainSet->size());

  // Weight decay on the Linear weights only (not biases, norms, embeddings, positions or the temperature).
  auto optimizerPtr = makeAdamW(*net_, o.lr, o.weight_decay, {0.9, 0.98}, [](const std::string& k, const torch::Tensor& t) {
    return t.dim() == 2 && k != "tok_embed.weight" && k != "vision_pos" && k != "text_pos";
  });
  auto& optimizer = *optimizerPtr;

  // Drop a last batch smaller than half a batch: few negatives make a noisy, easy loss.
  const std::int64_t n = trainSet->size();
  const std::int64_t batch = std::min(o.batch_size, n);
  const std::int64_t perEpoch = (n / batch) + ((n % batch) * 2 >= batch ? 1 : 0);
  const std::int64_t totalSteps = std::max<std::int64_t>(1, perEpoch * o.epochs);
  net_->train();
  Progress progress("train mini_clip", totalSteps, "step");
  const auto dataSeed = mixSeed(static_cast<std::uint64_t>(ctx.seed), 3);
  std::int64_t step = 0;
  double windowLoss = 0;
  std::int64_t windowSteps = 0;
  for (std::int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    auto gen = at::detail::createCPUGenerator(mixSeed(dataSeed, static_cast<std::uint64_t>(epoch)));
    const auto order = torch::randperm(n, gen, torch::kInt64);
    // One caption per scene for this epoch, drawn before the batches so it does not depend on them.
    const auto captionPick = torch::randint(5, {n}, gen, torch::kInt64);
    for (std::int64_t b = 0; b < perEpoch; ++b, ++step) {
      const std::int64_t start = b * batch;
      const std::int64_t size = std::min(batch, n - start);
      const auto idx = order.narrow(0, start, size);
      std::vector<std::int64_t> indices(idx.data_ptr<std::int64_t>(), idx.data_ptr<std::int64_t>() + size);
      auto data = trainSet->get(indices);
      model::Batch pairs;
      pairs.set("images", data.at("images"));
      if (o.random_caption) {
        const auto& all = data.at("all_captions");
        const auto pick = captionPick.index_select(0, idx).view({size, 1, 1}).expand({size, 1, all.size(2)});
        pairs.set("captions", all.gather(1, pick).squeeze(1));
      } else {
        pairs.set("captions", data.at("captions"));
      }
      const double lr = warmupCosineLr(o.lr, step, o.warmup_steps, totalSteps);
      setLearningRate(optimizer, lr);
      optimizer.zero_grad();
      auto l = loss(pairs);
      l.backward();
      if (o.grad_clip > 0) torch::nn::utils::clip_grad_norm_(net_->parameters(), o.grad_clip);
      optimizer.step();
      {
        torch::NoGradGuard noGrad;
        net_->logitScale.clamp_(0.0, kMaxLogitScale);
      }
      const double value = l.item<double>();
      windowLoss += value;
      ++windowSteps;
      if (ctx.logMetric && (windowSteps == o.log_every || step + 1 == totalSteps)) {
        ctx.logMetric("train/mini_clip/train/loss", windowLoss / static_cast<double>(windowSteps), step + 1);
        windowLoss = 0;
        windowSteps = 0;
      }
      progress.advance(1, fmt::format("epoch {} loss {:.4f} scale {:.1f} lr {:.2e}", epoch + 1, value,
                                      std::exp(net_->logitScale.item<double>()), lr));
    }
  }
  progress.finish();
  net_->eval();

  if (!o.val_split.empty() && ctx.logMetric) {
    torch::NoGradGuard noGrad;
    auto val = ctx.data->split(o.val_split);
    data::BatchSampler sampler(*val, batch);
    double sum = 0;
    std::int64_t batches = 0;
    for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
      auto data = sampler.batch(b);
      if (data.size() < 2) continue;
      sum += loss(model::Batch().set("images", data.at("images")).set("captions", data.at("captions"))).item<double>();
      ++batches;
    }
    if (batches > 0) ctx.logMetric("train/mini_clip/val/loss", sum / static_cast<double>(batches), totalSteps);
  }
}

void MiniClip::checkBuilt() const { PL_CHECK(!net_.is_empty(), "mini_clip: used before prepare()"); }

torch::Tensor MiniClip::checkedTokens(const torch::Tensor& tokens) const {
  PL_CHECK(tokens.dim() == 2, "mini_clip expects token ids [batch, length], got {}", c10::str(tokens.sizes()));
  PL_CHECK(tokens.size(1) >= 1 && tokens.size(1) <= options_.max_len,
           "mini_clip: texts of {} tokens, but the model has {} positions (max_len)", tokens.size(1), options_.max_len);
  PL_CHECK(tokens.scalar_type() == torch::kInt64, "mini_clip expects int64 token ids, got {}",
           c10::toString(tokens.scalar_type()));
  if (tokens.numel() > 0) {
    const auto lo = tokens.min().item<std::int64_t>(), hi = tokens.max().item<std::int64_t>();
    PL_CHECK(lo >= 0 && hi < options_.vocab_size,
             "mini_clip: token id {} outside the vocabulary [0, {}): set model.vocab_size to the tokenizer's size",
             lo < 0 ? lo : hi, options_.vocab_size);
  }
  return tokens;
}

std::vector<model::StackInfo> MiniClip::stacks() const {
  return {{kVision, "vision", static_cast<int>(options_.vision_depth)},
          {kLanguage, "language", static_cast<int>(options_.text_depth)}};
}

std::vector<model::LinearRef> MiniClip::linears() {
  checkBuilt();
  auto out = net_->vision->linears();
  for (auto& l : net_->language->linears()) out.push_back(std::move(l));
  return out;
}

torch::nn::Module& MiniClip::module() {
  checkBuilt();
  return *net_;
}

model::Batch MiniClip::visionInputs(const torch::Tensor& images) {
  checkBuilt();
  const auto& o = options_;
  PL_CHECK(images.dim() == 4 && images.size(1) == 1 && images.size(2) == o.image_size && images.size(3) == o.image_size,
           "mini_clip expects images [batch, 1, {}, {}], got {}", o.image_size, o.image_size, c10::str(images.sizes()));
  model::Batch state;
  state.set(StackState::kHidden, net_->patchEmbed->forward(patchify(images, o.patch_size)) + net_->visionPos);
  return state;
}

model::Batch MiniClip::textInputs(const torch::Tensor& raw) {
  checkBuilt();
  checkedTokens(raw);
  // Columns that are padding in every row change nothing (masked keys, excluded from pooling) but
  // cost time and would count as calibration inputs of the blockwise driver: drop them.
  const auto used = raw.ne(kPad).any(0).nonzero();
  const std::int64_t length = used.numel() > 0 ? used.max().item<std::int64_t>() + 1 : 1;
  const auto tokens = raw.narrow(1, 0, length);
  PL_CHECK(tokens.ne(kPad).any(1).all().item<bool>(), "mini_clip: a text with no token (all [PAD])");
  model::Batch state;
  state.set(StackState::kHidden, net_->tokEmbed->forward(tokens) + net_->textPos.narrow(0, 0, length));
  state.set(kTokens, tokens);
  if (tokens.eq(kPad).any().item<bool>()) state.set(StackState::kMask, tokens.ne(kPad));
  return state;
}

torch::Tensor MiniClip::imageEmbeddingsFromState(const model::Batch& state) {
  checkBuilt();
  auto pooled = net_->visionLn->forward(state.at(StackState::kHidden)).mean(1);
  return normalized(net_->visionProj->forward(pooled));
}

torch::Tensor MiniClip::textEmbeddingsFromState(const model::Batch& state) {
  checkBuilt();
  const auto weights = state.at(kTokens).ne(kPad).to(torch::kFloat).unsqueeze(-1);
  auto h = net_->textLn->forward(state.at(StackState::kHidden));
  auto pooled = (h * weights).sum(1) / weights.sum(1);
  return normalized(net_->textProj->forward(pooled));
}

torch::Tensor MiniClip::lossFromState(const model::Batch& state) {
  PL_CHECK(state.has(kImageEmbeds),
           "mini_clip: the loss needs images and texts; the language state has no 'image_embeds' (the batch given "
           "to stackInputs had no 'images')");
  const auto& img = state.at(kImageEmbeds);
  auto txt = textEmbeddingsFromState(state);
  PL_CHECK(img.size(0) == txt.size(0), "mini_clip: {} images but {} texts", img.size(0), txt.size(0));
  auto logits = net_->logitScale.exp() * torch::matmul(img, txt.t());
  auto targets = torch::arange(img.size(0), torch::kInt64);
  return 0.5 * (torch::nn::functional::cross_entropy(logits, targets) +
                torch::nn::functional::cross_entropy(logits.t(), targets));
}

model::Batch MiniClip::stackInputs(const std::string& stack, const model::Batch& batch) {
  checkBuilt();
  if (stack == kVision) return visionInputs(batch.at("images"));
  PL_CHECK(stack == kLanguage, "mini_clip has stacks 'vision' and 'language'; got '{}'", stack);
  auto state = textInputs(batch.has(kTokens) ? batch.at(kTokens) : batch.at("captions"));
  if (batch.has("images")) state.set(kImageEmbeds, imageEmbeddings(batch));
  return state;
}

model::Batch MiniClip::forwardBlock(const std::string& stack, int block, const model::Batch& state) {
  checkBuilt();
  if (stack == kVision) return net_->vision->forwardBlock(block, state);
  PL_CHECK(stack == kLanguage, "mini_clip has stacks 'vision' and 'language'; got '{}'", stack);
  return net_->language->forwardBlock(block, state);
}

torch::Tensor MiniClip::lossFromBlock(const std::string& stack, int block, const model::Batch& state,
                                      const model::Batch& batch) {
  checkBuilt();
  if (stack == kVision) {
    PL_CHECK(block >= 0 && block <= options_.vision_depth, "mini_clip: vision block {} out of range [0, {}]", block,
             options_.vision_depth);
    model::Batch s = state;
    for (int i = block; i < options_.vision_depth; ++i) s = net_->vision->forwardBlock(i, s);
    auto text = textInputs(batch.has(kTokens) ? batch.at(kTokens) : batch.at("captions"));
    text.set(kImageEmbeds, imageEmbeddingsFromState(s));
    return lossFromState(net_->language->forward(text));
  }
  PL_CHECK(stack == kLanguage, "mini_clip has stacks 'vision' and 'language'; got '{}'", stack);
  PL_CHECK(block >= 0 && block <= options_.text_depth, "mini_clip: language block {} out of range [0, {}]", block,
           options_.text_depth);
  model::Batch s = state;
  for (int i = block; i < options_.text_depth; ++i) s = net_->language->forwardBlock(i, s);
  return lossFromState(s);
}

torch::Tensor MiniClip::loss(const model::Batch& batch) {
  return lossFromBlock(kVision, 0, stackInputs(kVision, batch), batch);
}

torch::Tensor MiniClip::imageEmbeddings(const model::Batch& batch) {
  return imageEmbeddingsFromState(net_->vision->forward(visionInputs(batch.at("images"))));
}

torch::Tensor MiniClip::textEmbeddings(const torch::Tensor& tokens) {
  return textEmbeddingsFromState(net_->language->forward(textInputs(tokens)));
}

double MiniClip::logitScale() const {
  checkBuilt();
  return std::exp(net_->logitScale.item<double>());
}

}  // namespace prunelab::models
