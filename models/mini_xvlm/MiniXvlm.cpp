#include "models/mini_xvlm/MiniXvlm.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <set>

#include "framework/config/Value.h"
#include "framework/core/Hash.h"
#include "framework/core/Log.h"
#include "framework/core/Options.h"
#include "framework/core/Suggest.h"
#include "framework/data/Dataset.h"
#include "framework/data/TextSource.h"
#include "framework/model/Safetensors.h"
#include "framework/model/WeightCache.h"
#include "models/transformer/Recipe.h"
#include "models/transformer/StructuredPrune.h"

namespace prunelab::models {

namespace {

constexpr const char* kVision = "vision";
constexpr const char* kText = "text";
constexpr const char* kCross = "cross";
constexpr std::int64_t kPad = 0, kBos = 2, kEos = 3;
constexpr std::int64_t kIgnore = -100;
// ALBEF/X-VLM's range of the ITC temperature.
constexpr double kItcTempMin = 0.001, kItcTempMax = 0.5;
// Carried state fields (see MiniXvlm.h).
constexpr const char* kTokens = "tokens";
constexpr const char* kImageTokens = "image_tokens";
constexpr const char* kImageEmbeds = "image_embeds";
constexpr const char* kTextEmbeds = "text_embeds";
constexpr const char* kItmLabels = "itm_labels";
constexpr const char* kAnswerLabels = "answer_labels";

const std::vector<std::string> kVariants = {"teacher", "student"};
const std::vector<std::string> kTasks = {"pretrain", "vqa", "retrieval"};

torch::Tensor normalized(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(-1).eps(1e-12));
}

// Drops the trailing columns that are padding in every row (keeps at least one).
torch::Tensor trimPadding(const torch::Tensor& tokens) {
  const auto used = tokens.ne(kPad).any(0).nonzero();
  const std::int64_t length = used.numel() > 0 ? used.max().item<std::int64_t>() + 1 : 0;
  return tokens.narrow(1, 0, std::min(tokens.size(1), std::max<std::int64_t>(length, 1)));
}

// Attaches a recording to a stack for one scope.
class ScopedRecording {
 public:
  ScopedRecording(TransformerStack& stack, model::StackRecording* rec) : stack_(stack) { stack_->setRecording(rec); }
  ~ScopedRecording() { stack_->setRecording(nullptr); }
  ScopedRecording(const ScopedRecording&) = delete;
  ScopedRecording& operator=(const ScopedRecording&) = delete;

 private:
  TransformerStack& stack_;
};

std::int64_t half(std::int64_t depth) { return depth / 2; }

}  // namespace

void MiniXvlmOptions::validate() const {
  using Ints = std::initializer_list<std::pair<std::int64_t, const char*>>;
  for (const auto& [value, name] :
       Ints{{vision_dim, "vision_dim"}, {vision_depth, "vision_depth"}, {vision_heads, "vision_heads"},
            {vision_mlp_dim, "vision_mlp_dim"}, {max_text_len, "max_text_len"}, {text_dim, "text_dim"},
            {text_depth, "text_depth"}, {cross_depth, "cross_depth"}, {text_heads, "text_heads"},
            {text_mlp_dim, "text_mlp_dim"}, {embed_dim, "embed_dim"}, {vqa_batch_size, "vqa_batch_size"},
            {log_every, "log_every"}})
    PL_CHECK(value > 0, "mini_xvlm: {} must be positive, got {}", name, value);
  PL_CHECK(image_size > 0 && patch_size > 0 && image_size % patch_size == 0,
           "mini_xvlm: patch_size ({}) must divide image_size ({})", patch_size, image_size);
  PL_CHECK(vision_dim % vision_heads == 0, "mini_xvlm: vision_dim ({}) must be a multiple of vision_heads ({})",
           vision_dim, vision_heads);
  PL_CHECK(text_dim % text_heads == 0, "mini_xvlm: text_dim ({}) must be a multiple of text_heads ({})", text_dim,
           text_heads);
  PL_CHECK(vocab_size > 6, "mini_xvlm: vocab_size must exceed the 6 special tokens, got {}", vocab_size);
  PL_CHECK(std::find(kVariants.begin(), kVariants.end(), variant) != kVariants.end(),
           "mini_xvlm: variant '{}' is unknown{}; use {}", variant, didYouMean(variant, kVariants),
           quotedList(kVariants));
  PL_CHECK(std::find(kTasks.begin(), kTasks.end(), task) != kTasks.end(), "mini_xvlm: task '{}' is unknown{}; use {}",
           task, didYouMean(task, kTasks), quotedList(kTasks));
  if (variant == "student") {
    for (const auto& [value, name] :
         Ints{{vision_depth, "vision_depth"}, {text_depth, "text_depth"}, {cross_depth, "cross_depth"}})
      PL_CHECK(value % 2 == 0,
               "mini_xvlm: the student halves every stack, so the teacher's {} must be even, got {}: pick an even "
               "depth or variant=teacher",
               name, value);
  }
  for (const auto& [value, name] :
       Ints{{pretrain_epochs, "pretrain_epochs"}, {distill_epochs, "distill_epochs"},
            {retrieval_epochs, "retrieval_epochs"}, {vqa_steps, "vqa_steps"}, {warmup_steps, "warmup_steps"}})
    PL_CHECK(value >= 0, "mini_xvlm: {} must be >= 0, got {}", name, value);
  PL_CHECK(batch_size > 1, "mini_xvlm: batch_size must be at least 2 (ITC and ITM need negatives), got {}",
           batch_size);
  using Reals = std::initializer_list<std::pair<double, const char*>>;
  for (const auto& [value, name] : Reals{{pretrain_lr, "pretrain_lr"}, {distill_lr, "distill_lr"},
                                         {retrieval_lr, "retrieval_lr"}, {vqa_lr, "vqa_lr"}})
    PL_CHECK(value > 0, "mini_xvlm: {} must be positive, got {}", name, value);
  PL_CHECK(mlm_probability > 0 && mlm_probability < 1, "mini_xvlm: mlm_probability must lie in (0, 1), got {}",
           mlm_probability);
  PL_CHECK(grounding_weight >= 0 && weight_decay >= 0 && grad_clip >= 0,
           "mini_xvlm: grounding_weight, weight_decay and grad_clip must be >= 0");
  PL_CHECK(vqa_split.rfind("vqa_", 0) == 0,
           "mini_xvlm: vqa_split must be a question split 'vqa_<scene split>' (e.g. vqa_train), got '{}'", vqa_split);
}

MiniXvlmNetImpl::MiniXvlmNetImpl(const MiniXvlmOptions& o, std::int64_t visionDepth, std::int64_t textDepth,
                                 std::int64_t crossDepth, std::int64_t answers, std::uint64_t seed) {
  using torch::nn::Embedding;
  using torch::nn::LayerNorm;
  using torch::nn::LayerNormOptions;
  using torch::nn::Linear;
  using torch::nn::LinearOptions;
  const std::int64_t side = o.image_size / o.patch_size;
  patchEmbed = register_module("patch_embed", Linear(o.patch_size * o.patch_size, o.vision_dim));
  visionPos = register_parameter("vision_pos", torch::zeros({side * side, o.vision_dim}));
  vision = register_module(
      kVision, TransformerStack(StackOptions(kVision, "vision", visionDepth,
                                             BlockOptions(o.vision_dim, o.vision_heads).mlpDim(o.vision_mlp_dim))
                                    .seed(mixSeed(seed, 1))));
  visionLn = register_module("vision_ln", LayerNorm(LayerNormOptions({o.vision_dim})));
  cellHead = register_module("cell_head", Linear(o.vision_dim, 15));

  tokEmbed = register_module("tok_embed", Embedding(o.vocab_size, o.text_dim));
  textPos = register_parameter("text_pos", torch::zeros({o.max_text_len, o.text_dim}));
  const auto textBlock = BlockOptions(o.text_dim, o.text_heads).mlpDim(o.text_mlp_dim);
  text = register_module(kText, TransformerStack(StackOptions(kText, "text", textDepth, textBlock).seed(mixSeed(seed, 2))));
  textLn = register_module("text_ln", LayerNorm(LayerNormOptions({o.text_dim})));
  cross = register_module(
      kCross, TransformerStack(StackOptions(kCross, "cross", crossDepth, BlockOptions(textBlock).contextDim(o.vision_dim))
                                   .seed(mixSeed(seed, 3))));
  crossLn = register_module("cross_ln", LayerNorm(LayerNormOptions({o.text_dim})));

  visionProj = register_module("vision_proj", Linear(LinearOptions(o.vision_dim, o.embed_dim).bias(false)));
  textProj = register_module("text_proj", Linear(LinearOptions(o.text_dim, o.embed_dim).bias(false)));
  itcTemp = register_parameter("itc_temp", torch::full({}, 0.07));
  itmHead = register_module("itm_head", Linear(o.text_dim, 2));
  mlmDense = register_module("mlm_dense", Linear(o.text_dim, o.text_dim));
  mlmLn = register_module("mlm_ln", LayerNorm(LayerNormOptions({o.text_dim})));
  mlmBias = register_parameter("mlm_bias", torch::zeros({o.vocab_size}));
  if (answers > 0) {
    vqaFc1 = register_module("vqa_fc1", Linear(o.text_dim, 2 * o.text_dim));
    vqaLn = register_module("vqa_ln", LayerNorm(LayerNormOptions({2 * o.text_dim})));
    vqaFc2 = register_module("vqa_fc2", Linear(2 * o.text_dim, answers));
  }

  // Every weight outside the stacks from the seed (the stacks seed themselves).
  torch::NoGradGuard noGrad;
  auto gen = at::detail::createCPUGenerator(mixSeed(seed, 0));
  std::vector<torch::nn::Linear*> linears = {&patchEmbed, &cellHead, &visionProj, &textProj, &itmHead, &mlmDense};
  if (answers > 0) linears.insert(linears.end(), {&vqaFc1, &vqaFc2});
  for (auto* l : linears) {
    (*l)->weight.normal_(0.0, 0.02, gen);
    if ((*l)->bias.defined()) (*l)->bias.zero_();
  }
  visionPos.normal_(0.0, 0.01, gen);
  textPos.normal_(0.0, 0.01, gen);
  tokEmbed->weight.normal_(0.0, 0.02, gen);
}

MiniXvlm::MiniXvlm(Options options) : options_(std::move(options)) { options_.validate(); }

MiniXvlm::~MiniXvlm() = default;

void MiniXvlm::build(std::int64_t seed, std::int64_t answers) {
  const auto& o = options_;
  const bool student = o.variant == "student";
  net_ = MiniXvlmNet(o, student ? half(o.vision_depth) : o.vision_depth, student ? half(o.text_depth) : o.text_depth,
                     student ? half(o.cross_depth) : o.cross_depth, answers, static_cast<std::uint64_t>(seed));
  structure_ = nlohmann::ordered_json::array();
}

void MiniXvlm::setVocabulary(std::int64_t questionWord, std::int64_t answerWord,
                             std::vector<std::vector<std::int64_t>> answers) {
  questionId_ = questionWord;
  answerId_ = answerWord;
  answers_ = std::move(answers);
  answerIndex_.clear();
  for (std::size_t i = 0; i < answers_.size(); ++i) answerIndex_[answers_[i]] = static_cast<std::int64_t>(i);
}

void MiniXvlm::checkBuilt() const { PL_CHECK(!net_.is_empty(), "mini_xvlm: used before prepare()"); }

std::vector<model::StackInfo> MiniXvlm::stacks() const {
  checkBuilt();
  return {net_->vision->info(), net_->text->info(), net_->cross->info()};
}

std::vector<model::LinearRef> MiniXvlm::linears() {
  checkBuilt();
  std::vector<model::LinearRef> out;
  for (auto* s : net_->stacks()) {
    auto more = (*s)->linears();
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

torch::nn::Module& MiniXvlm::module() {
  checkBuilt();
  return *net_;
}

std::string MiniXvlm::distillSplit() const { return options_.task == "vqa" ? options_.vqa_split : options_.train_split; }

// ---- pieces -------------------------------------------------------------------------------------

torch::Tensor MiniXvlm::visionTokens(MiniXvlmNet& net, const Options& o, const torch::Tensor& images,
                                     model::StackRecording* rec) {
  PL_CHECK(images.dim() == 4 && images.size(2) == o.image_size && images.size(3) == o.image_size,
           "mini_xvlm expects images [batch, 1, {}, {}], got {}", o.image_size, o.image_size, c10::str(images.sizes()));
  model::Batch state;
  state.set(StackState::kHidden, net->patchEmbed->forward(patchify(images, o.patch_size)) + net->visionPos);
  ScopedRecording recording(net->vision, rec);
  return net->visionLn->forward(net->vision->forward(state).at(StackState::kHidden));
}

torch::Tensor MiniXvlm::imageEmbeds(MiniXvlmNet& net, const torch::Tensor& tokens) {
  return normalized(net->visionProj->forward(tokens.mean(1)));
}

torch::Tensor MiniXvlm::textHidden(MiniXvlmNet& net, const Options& o, const torch::Tensor& tokens,
                                   model::StackRecording* rec) {
  PL_CHECK(tokens.dim() == 2 && tokens.size(1) <= o.max_text_len,
           "mini_xvlm: texts must be [batch, <= {} tokens] (max_text_len), got {}", o.max_text_len,
           c10::str(tokens.sizes()));
  PL_CHECK(tokens.numel() == 0 || tokens.max().item<std::int64_t>() < o.vocab_size,
           "mini_xvlm: token id {} outside the vocabulary of {}: set model.vocab_size to the tokenizer's size",
           tokens.max().item<std::int64_t>(), o.vocab_size);
  model::Batch state;
  state.set(StackState::kHidden, net->tokEmbed->forward(tokens) + net->textPos.narrow(0, 0, tokens.size(1)));
  if (tokens.eq(kPad).any().item<bool>()) state.set(StackState::kMask, tokens.ne(kPad));
  ScopedRecording recording(net->text, rec);
  return net->text->forward(state).at(StackState::kHidden);
}

torch::Tensor MiniXvlm::textEmbeds(MiniXvlmNet& net, const torch::Tensor& hidden) {
  return normalized(net->textProj->forward(net->textLn->forward(hidden.select(1, 0))));
}

torch::Tensor MiniXvlm::crossOutput(MiniXvlmNet& net, const torch::Tensor& textHidden, const torch::Tensor& tokens,
                                    const torch::Tensor& imageTokens, model::StackRecording* rec) {
  model::Batch state;
  state.set(StackState::kHidden, textHidden);
  state.set(StackState::kContext, imageTokens);
  if (tokens.eq(kPad).any().item<bool>()) state.set(StackState::kMask, tokens.ne(kPad));
  ScopedRecording recording(net->cross, rec);
  return net->crossLn->forward(net->cross->forward(state).at(StackState::kHidden));
}

torch::Tensor MiniXvlm::itcTemperature(MiniXvlmNet& net) {
  // Only when out of range: an in-place change of a parameter a live graph saved would break its
  // backward, and after the clamp the value is in range until the next optimizer step.
  const double t = net->itcTemp.item<double>();
  if (t < kItcTempMin || t > kItcTempMax) {
    torch::NoGradGuard noGrad;
    net->itcTemp.clamp_(kItcTempMin, kItcTempMax);
  }
  return net->itcTemp;
}

torch::Tensor MiniXvlm::itmLogits(MiniXvlmNet& net, const torch::Tensor& crossOut) {
  return net->itmHead->forward(crossOut.select(1, 0));
}

torch::Tensor MiniXvlm::mlmLogits(MiniXvlmNet& net, const torch::Tensor& crossOut) {
  auto h = net->mlmLn->forward(torch::gelu(net->mlmDense->forward(crossOut)));
  return torch::matmul(h, net->tokEmbed->weight.t()) + net->mlmBias;
}

torch::Tensor MiniXvlm::vqaLogits(MiniXvlmNet& net, const torch::Tensor& crossOut) {
  PL_CHECK(!net->vqaFc2.is_empty(),
           "mini_xvlm: this model has no VQA head; build it with model.task=vqa (the answer classifier is trained "
           "and cached for that task)");
  auto h = net->vqaLn->forward(torch::gelu(net->vqaFc1->forward(crossOut.select(1, 0))));
  return net->vqaFc2->forward(h);
}

torch::Tensor MiniXvlm::cellLogits(MiniXvlmNet& net, const Options& o, const torch::Tensor& tokens,
                                   std::int64_t grid) {
  const std::int64_t side = o.image_size / o.patch_size;
  PL_CHECK(grid > 0 && side % grid == 0, "mini_xvlm: {}x{} patches cannot be split into a {}x{} grid of cells", side,
           side, grid, grid);
  const std::int64_t b = tokens.size(0), cs = side / grid, d = tokens.size(2);
  auto cells = tokens.reshape({b, grid, cs, grid, cs, d}).mean(std::vector<std::int64_t>{2, 4});
  return net->cellHead->forward(cells.reshape({b, grid * grid, d}));
}

torch::Tensor MiniXvlm::vqaText(const torch::Tensor& questions) const {
  PL_CHECK(questionId_ >= 0 && answerId_ >= 0, "mini_xvlm: the prompt words 'question'/'answer' are not set");
  const auto q = questions.contiguous();
  auto qa = q.accessor<std::int64_t, 2>();
  std::vector<std::vector<std::int64_t>> rows;
  std::size_t length = 1;
  for (std::int64_t r = 0; r < q.size(0); ++r) {
    std::vector<std::int64_t> ids = {kBos, questionId_};
    for (std::int64_t j = 0; j < q.size(1); ++j)
      if (qa[r][j] != kPad && qa[r][j] != kBos && qa[r][j] != kEos) ids.push_back(qa[r][j]);
    ids.push_back(answerId_);
    length = std::max(length, ids.size());
    rows.push_back(std::move(ids));
  }
  auto out = torch::zeros({q.size(0), static_cast<std::int64_t>(length)}, torch::kInt64);
  auto oa = out.accessor<std::int64_t, 2>();
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t j = 0; j < rows[r].size(); ++j) oa[static_cast<std::int64_t>(r)][static_cast<std::int64_t>(j)] = rows[r][j];
  return out;
}

torch::Tensor MiniXvlm::answerLabels(const torch::Tensor& answers) const {
  const auto a = answers.contiguous();
  auto aa = a.accessor<std::int64_t, 2>();
  auto out = torch::full({a.size(0)}, kIgnore, torch::kInt64);
  for (std::int64_t r = 0; r < a.size(0); ++r) {
    std::vector<std::int64_t> ids;
    for (std::int64_t j = 0; j < a.size(1) && aa[r][j] != kEos; ++j)
      if (aa[r][j] != kPad && aa[r][j] != kBos) ids.push_back(aa[r][j]);
    auto it = answerIndex_.find(ids);
    if (it != answerIndex_.end()) out[r] = it->second;
  }
  return out;
}

// ---- the Model interface ------------------------------------------------------------------------

model::Batch MiniXvlm::textState(const model::Batch& batch, const torch::Tensor& imageTokens) {
  model::Batch state;
  torch::Tensor tokens;
  if (batch.has("questions") && batch.has("answers")) {
    tokens = vqaText(batch.at("questions"));
    state.set(kAnswerLabels, answerLabels(batch.at("answers")));
  } else {
    PL_CHECK(batch.has("captions"),
             "mini_xvlm: a batch needs 'questions'+'answers' (VQA) or 'captions' (ITC + ITM) for its loss");
    tokens = trimPadding(batch.at("captions"));
    state.set(kImageEmbeds, imageEmbeds(net_, imageTokens));
  }
  PL_CHECK(tokens.size(1) <= options_.max_text_len, "mini_xvlm: texts of {} tokens, but only {} positions",
           tokens.size(1), options_.max_text_len);
  PL_CHECK(tokens.max().item<std::int64_t>() < options_.vocab_size,
           "mini_xvlm: token id {} outside the vocabulary of {}: set model.vocab_size to the tokenizer's size",
           tokens.max().item<std::int64_t>(), options_.vocab_size);
  state.set(StackState::kHidden, net_->tokEmbed->forward(tokens) + net_->textPos.narrow(0, 0, tokens.size(1)));
  if (tokens.eq(kPad).any().item<bool>()) state.set(StackState::kMask, tokens.ne(kPad));
  state.set(kTokens, tokens);
  state.set(kImageTokens, imageTokens);
  return state;
}

model::Batch MiniXvlm::crossState(const model::Batch& textFinal) {
  const auto& hidden = textFinal.at(StackState::kHidden);
  const auto& tokens = textFinal.at(kTokens);
  const auto& images = textFinal.at(kImageTokens);
  model::Batch state;
  torch::Tensor pairTokens;
  if (textFinal.has(kAnswerLabels)) {
    state.set(StackState::kHidden, hidden);
    state.set(StackState::kContext, images);
    state.set(kAnswerLabels, textFinal.at(kAnswerLabels));
    pairTokens = tokens;
  } else {
    // Positives (i, i), then image i with caption i+1 mod B as its negative.
    const std::int64_t b = hidden.size(0);
    state.set(kTextEmbeds, textEmbeds(net_, hidden));
    state.set(kImageEmbeds, textFinal.at(kImageEmbeds));
    if (b > 1) {
      const auto next = torch::remainder(torch::arange(1, b + 1, torch::kInt64), b);
      state.set(StackState::kHidden, torch::cat({hidden, hidden.index_select(0, next)}));
      state.set(StackState::kContext, torch::cat({images, images}));
      pairTokens = torch::cat({tokens, tokens.index_select(0, next)});
      state.set(kItmLabels, torch::cat({torch::ones({b}, torch::kInt64), torch::zeros({b}, torch::kInt64)}));
    } else {
      state.set(StackState::kHidden, hidden);
      state.set(StackState::kContext, images);
      pairTokens = tokens;
      state.set(kItmLabels, torch::ones({1}, torch::kInt64));
    }
  }
  if (pairTokens.eq(kPad).any().item<bool>()) state.set(StackState::kMask, pairTokens.ne(kPad));
  return state;
}

torch::Tensor MiniXvlm::lossFromState(const model::Batch& state) {
  namespace F = torch::nn::functional;
  const auto out = net_->crossLn->forward(state.at(StackState::kHidden));
  if (state.has(kAnswerLabels)) {
    const auto& labels = state.at(kAnswerLabels);
    PL_CHECK(labels.ne(kIgnore).any().item<bool>(),
             "mini_xvlm: no answer of this batch is in the answer vocabulary of '{}': nothing to score",
             options_.vqa_split);
    return F::cross_entropy(vqaLogits(net_, out), labels, F::CrossEntropyFuncOptions().ignore_index(kIgnore));
  }
  const auto sim = torch::matmul(state.at(kImageEmbeds), state.at(kTextEmbeds).t()) / itcTemperature(net_);
  const auto targets = torch::arange(sim.size(0), torch::kInt64);
  const auto itc = (F::cross_entropy(sim, targets) + F::cross_entropy(sim.t(), targets)) / 2;
  return itc + F::cross_entropy(itmLogits(net_, out), state.at(kItmLabels));
}

model::Batch MiniXvlm::stackInputs(const std::string& stack, const model::Batch& batch) {
  checkBuilt();
  if (stack == kVision) {
    const auto& images = batch.at("images");
    PL_CHECK(images.dim() == 4 && images.size(2) == options_.image_size && images.size(3) == options_.image_size,
             "mini_xvlm expects images [batch, 1, {}, {}], got {}", options_.image_size, options_.image_size,
             c10::str(images.sizes()));
    model::Batch state;
    state.set(StackState::kHidden,
              net_->patchEmbed->forward(patchify(images, options_.patch_size)) + net_->visionPos);
    return state;
  }
  const auto imageTokens = visionTokens(net_, options_, batch.at("images"));
  if (stack == kText) return textState(batch, imageTokens);
  PL_CHECK(stack == kCross, "mini_xvlm has stacks 'vision', 'text' and 'cross'; got '{}'", stack);
  return crossState(net_->text->forward(textState(batch, imageTokens)));
}

model::Batch MiniXvlm::forwardBlock(const std::string& stack, int block, const model::Batch& state) {
  checkBuilt();
  if (stack == kVision) return net_->vision->forwardBlock(block, state);
  if (stack == kText) return net_->text->forwardBlock(block, state);
  PL_CHECK(stack == kCross, "mini_xvlm has stacks 'vision', 'text' and 'cross'; got '{}'", stack);
  return net_->cross->forwardBlock(block, state);
}

model::Batch MiniXvlm::suffixState(const std::string& stack, int block, const model::Batch& state,
                                   const model::Batch& batch) {
  checkBuilt();
  auto runFrom = [&](TransformerStack& s, model::Batch st) {
    PL_CHECK(block >= 0 && block <= s->numBlocks(), "mini_xvlm: {} block {} out of range [0, {}]", stack, block,
             s->numBlocks());
    for (int b = block; b < s->numBlocks(); ++b) st = s->forwardBlock(b, st);
    return st;
  };
  if (stack == kVision) {
    const auto imageTokens = net_->visionLn->forward(runFrom(net_->vision, state).at(StackState::kHidden));
    return net_->cross->forward(crossState(net_->text->forward(textState(batch, imageTokens))));
  }
  if (stack == kText) return net_->cross->forward(crossState(runFrom(net_->text, state)));
  PL_CHECK(stack == kCross, "mini_xvlm has stacks 'vision', 'text' and 'cross'; got '{}'", stack);
  return runFrom(net_->cross, state);
}

torch::Tensor MiniXvlm::lossFromBlock(const std::string& stack, int block, const model::Batch& state,
                                      const model::Batch& batch) {
  return lossFromState(suffixState(stack, block, state, batch));
}

torch::Tensor MiniXvlm::loss(const model::Batch& batch) {
  return lossFromBlock(kVision, 0, stackInputs(kVision, batch), batch);
}

// ---- task heads ---------------------------------------------------------------------------------

std::vector<std::vector<std::int64_t>> MiniXvlm::generate(const model::Batch& images,
                                                          const std::vector<std::vector<std::int64_t>>& prompts,
                                                          const model::GenerationOptions&) {
  checkBuilt();
  PL_CHECK(options_.task == "vqa" && !answers_.empty(),
           "mini_xvlm answers questions by classifying over the VQA answer vocabulary, which only task=vqa trains: "
           "set model.task=vqa (captioning is not supported)");
  torch::NoGradGuard noGrad;
  const auto& pixels = images.at("images");
  PL_CHECK(static_cast<std::int64_t>(prompts.size()) == pixels.size(0),
           "mini_xvlm: generate got {} images but {} prompts", pixels.size(0), prompts.size());
  std::size_t length = 1;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    PL_CHECK(!prompts[i].empty() && prompts[i][0] == kBos, "mini_xvlm: prompt {} must start with [BOS]", i);
    length = std::max(length, prompts[i].size());
  }
  auto tokens = torch::zeros({static_cast<std::int64_t>(prompts.size()), static_cast<std::int64_t>(length)},
                             torch::kInt64);
  auto ta = tokens.accessor<std::int64_t, 2>();
  for (std::size_t i = 0; i < prompts.size(); ++i)
    for (std::size_t j = 0; j < prompts[i].size(); ++j)
      ta[static_cast<std::int64_t>(i)][static_cast<std::int64_t>(j)] = prompts[i][j];
  const auto imageTokens = visionTokens(net_, options_, pixels);
  const auto out = crossOutput(net_, textHidden(net_, options_, tokens), tokens, imageTokens);
  const auto best = vqaLogits(net_, out).argmax(1).contiguous();
  std::vector<std::vector<std::int64_t>> answers;
  for (std::int64_t i = 0; i < best.size(0); ++i)
    answers.push_back(answers_[static_cast<std::size_t>(best[i].item<std::int64_t>())]);
  return answers;
}

torch::Tensor MiniXvlm::imageEmbeddings(const model::Batch& batch) {
  checkBuilt();
  return imageEmbeds(net_, visionTokens(net_, options_, batch.at("images")));
}

torch::Tensor MiniXvlm::textEmbeddings(const torch::Tensor& tokens) {
  checkBuilt();
  return textEmbeds(net_, textHidden(net_, options_, trimPadding(tokens)));
}

double MiniXvlm::logitScale() const {
  checkBuilt();
  return 1.0 / net_->itcTemp.clamp(kItcTempMin, kItcTempMax).item<double>();
}

torch::Tensor MiniXvlm::matchLogits(const model::Batch& images, const torch::Tensor& raw) {
  checkBuilt();
  const auto tokens = trimPadding(raw);
  const auto imageTokens = visionTokens(net_, options_, images.at("images"));
  PL_CHECK(imageTokens.size(0) == tokens.size(0), "mini_xvlm: matchLogits got {} images for {} texts",
           imageTokens.size(0), tokens.size(0));
  const auto out = crossOutput(net_, textHidden(net_, options_, tokens), tokens, imageTokens);
  return itmLogits(net_, out).select(1, 1);
}

// ---- structured pruning -------------------------------------------------------------------------

std::vector<prune::GatedBlockRef> MiniXvlm::gatedBlocks() {
  checkBuilt();
  std::vector<prune::GatedBlockRef> out;
  for (auto* stack : net_->stacks()) {
    const auto& s = *stack;
    for (int i = 0; i < s->numBlocks(); ++i) {
      const auto& b = s->blocks()[static_cast<std::size_t>(i)];
      prune::GatedBlock layout;
      layout.modality = s->options().modality();
      layout.dim = s->options().block().dim();
      layout.heads = b->attn->heads();
      layout.headDim = b->attn->headDim();
      layout.mlpDim = b->mlp->neurons();
      if (b->hasCross()) {
        PL_CHECK(b->cross->heads() == b->attn->heads(),
                 "mini_xvlm: {} block {} keeps {} self- and {} cross-attention heads; gating a block needs equal counts, "
                 "so it cannot be pruned structurally again",
                 s->options().name(), i, b->attn->heads(), b->cross->heads());
        layout.contextDim = b->cross->kv->weight.size(1);
      }
      out.push_back({s->options().name(), i, layout});
    }
  }
  return out;
}

void MiniXvlm::setStructureGates(const prune::StructureValues& gates) {
  const auto blocks = gatedBlocks();
  const bool none = gates.heads.empty() && gates.neurons.empty();
  if (!none) prune::checkStructureValues(blocks, gates, "mini_xvlm gates", true);
  std::size_t index = 0;
  for (auto* stack : net_->stacks()) {
    for (auto b : (*stack)->blocks()) {
      const auto heads = none ? torch::Tensor() : gates.heads[index];
      const auto neurons = none ? torch::Tensor() : gates.neurons[index];
      const auto h = b->attn->heads();
      b->attn->setHeadMask(heads.defined() ? heads.reshape({-1}).narrow(0, 0, h) : torch::Tensor());
      if (b->hasCross()) b->cross->setHeadMask(heads.defined() ? heads.reshape({-1}).narrow(0, h, h) : torch::Tensor());
      b->mlp->setNeuronMask(neurons.defined() ? neurons.reshape({-1}) : torch::Tensor());
      ++index;
    }
  }
}

prune::StructureValues MiniXvlm::structureMagnitudes() {
  checkBuilt();
  prune::StructureValues out;
  for (auto* stack : net_->stacks()) {
    for (const auto& b : (*stack)->blocks()) {
      auto heads = headNorms(b->attn);
      if (b->hasCross()) heads = torch::cat({heads, headNorms(b->cross)});
      out.heads.push_back(heads);
      out.neurons.push_back(neuronNorms(b->mlp));
    }
  }
  return out;
}

void MiniXvlm::removeStructures(const prune::StructureValues& keep) {
  const auto blocks = gatedBlocks();
  prune::checkStructureValues(blocks, keep, "mini_xvlm structures to keep", true);
  setStructureGates({});
  nlohmann::ordered_json removal;
  std::size_t index = 0;
  for (auto* stack : net_->stacks()) {
    std::vector<BlockMasks> masks;
    for (const auto& b : (*stack)->blocks()) {
      BlockMasks m;
      const auto& heads = keep.heads[index];
      if (heads.defined()) {
        const auto h = b->attn->heads();
        m.heads = heads.reshape({-1}).narrow(0, 0, h).to(torch::kFloat);
        if (b->hasCross()) m.crossHeads = heads.reshape({-1}).narrow(0, h, h).to(torch::kFloat);
      }
      if (keep.neurons[index].defined()) m.neurons = keep.neurons[index].reshape({-1}).to(torch::kFloat);
      masks.push_back(m);
      ++index;
    }
    removal[(*stack)->options().name()] = toJson(pruneStackByMasks(*stack, masks));
  }
  structure_.push_back(removal);
}

void MiniXvlm::applyStructure(const nlohmann::ordered_json& structure) {
  PL_CHECK(structure.is_array(),
           "mini_xvlm: the checkpoint's 'structure' must be a JSON array of removals, got {}", structure.dump());
  for (const auto& removal : structure) {
    PL_CHECK(removal.is_object(), "mini_xvlm: a removal of the checkpoint's 'structure' must be an object, got {}",
             removal.dump());
    for (auto* stack : net_->stacks()) {
      const auto& name = (*stack)->options().name();
      if (removal.contains(name)) pruneStack(*stack, keepsFromJson(removal.at(name)));
    }
  }
  structure_ = structure;
}

std::map<std::string, std::string> MiniXvlm::checkpointMetadata() const {
  return {{"format", "prunelab-mini_xvlm"},
          {"options", config::toJson(dumpOptions(options_)).dump()},
          {"structure", structure_.dump()}};
}

void MiniXvlm::loadCheckpoint(const std::string& path) {
  const auto file = model::loadSafetensors(path);
  auto it = file.metadata.find("format");
  PL_CHECK(it != file.metadata.end() && it->second == "prunelab-mini_xvlm",
           "mini_xvlm: '{}' is not a mini_xvlm checkpoint (its metadata has no format 'prunelab-mini_xvlm'): save one "
           "with save_checkpoint=true on a mini_xvlm run",
           path);
  auto s = file.metadata.find("structure");
  if (s != file.metadata.end()) applyStructure(nlohmann::ordered_json::parse(s->second));
  torch::NoGradGuard noGrad;
  for (auto& p : net_->named_parameters()) {
    const auto t = file.get(p.key());
    PL_CHECK(t.sizes() == p.value().sizes(),
             "mini_xvlm: checkpoint '{}' has shape {} for '{}' but this configuration builds {}: load it with the "
             "model options it was saved with (metadata 'options')",
             path, c10::str(t.sizes()), p.key(), c10::str(p.value().sizes()));
    p.value().copy_(t);
  }
}

void MiniXvlm::initFromTeacher(MiniXvlmNet& teacher) {
  checkBuilt();
  auto params = teacher->named_parameters();
  torch::NoGradGuard noGrad;
  for (auto& p : net_->named_parameters()) {
    std::string name = p.key();
    // "<stack>.blocks.<i>.rest" takes teacher block 2i.
    for (const char* stack : {kVision, kText, kCross}) {
      const std::string prefix = std::string(stack) + ".blocks.";
      if (name.rfind(prefix, 0) != 0) continue;
      const auto dot = name.find('.', prefix.size());
      const int i = std::stoi(name.substr(prefix.size(), dot - prefix.size()));
      name = prefix + std::to_string(2 * i) + name.substr(dot);
    }
    // The VQA head is the task's, trained after distillation; a pretrained teacher has none.
    if (!params.contains(name) && name.rfind("vqa_", 0) == 0) continue;
    PL_CHECK(params.contains(name), "mini_xvlm: the teacher has no parameter '{}' for the student's '{}'", name,
             p.key());
    const auto& t = params[name];
    PL_CHECK(t.sizes() == p.value().sizes(), "mini_xvlm: teacher '{}' has shape {} but the student's '{}' {}", name,
             c10::str(t.sizes()), p.key(), c10::str(p.value().sizes()));
    p.value().copy_(t);
  }
}

// ---- preparing ----------------------------------------------------------------------------------

void MiniXvlm::prepare(const model::ModelContext& ctx) {
  PL_CHECK(ctx.data != nullptr, "mini_xvlm: no data source to train on");
  const auto* text = dynamic_cast<const data::TextSource*>(ctx.data);
  PL_CHECK(text != nullptr,
           "mini_xvlm needs a data source with text (a tokenizer, captions and questions); '{}' has none: use "
           "dataset=fashion_scenes",
           ctx.data->name());
  for (const char* word : {"question", "answer"})
    PL_CHECK(text->knowsAllWords(word), "mini_xvlm: the data source's vocabulary lacks the prompt word '{}'", word);
  PL_CHECK(options_.checkpoint.empty() || std::filesystem::exists(options_.checkpoint),
           "mini_xvlm: checkpoint '{}' does not exist: give the path of a run's pruned.safetensors",
           options_.checkpoint);
  std::vector<std::vector<std::int64_t>> answers;
  if (options_.task == "vqa") {
    // The answer vocabulary: every distinct multiple-choice answer of the VQA training split.
    std::set<std::vector<std::int64_t>> distinct;
    const auto split = ctx.data->split(options_.vqa_split);
    data::BatchSampler sampler(*split, 4096);
    for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
      const auto batch = split->get(sampler.indices(b));
      const auto a = batch.at("answers").contiguous();
      auto aa = a.accessor<std::int64_t, 2>();
      for (std::int64_t r = 0; r < a.size(0); ++r) {
        std::vector<std::int64_t> ids;
        for (std::int64_t j = 0; j < a.size(1) && aa[r][j] != kEos; ++j)
          if (aa[r][j] != kPad && aa[r][j] != kBos) ids.push_back(aa[r][j]);
        if (!ids.empty()) distinct.insert(ids);
      }
    }
    PL_CHECK(!distinct.empty(), "mini_xvlm: split '{}' has no answers to classify over", options_.vqa_split);
    answers.assign(distinct.begin(), distinct.end());
  }
  setVocabulary(text->encodeText("question").at(0), text->encodeText("answer").at(0), std::move(answers));
  context_ = ctx;
  hasContext_ = true;
  build(ctx.seed, static_cast<std::int64_t>(answers_.size()));

  if (!options_.checkpoint.empty()) {
    loadCheckpoint(options_.checkpoint);
    weightsId_ = sha256File(options_.checkpoint).substr(0, 16);
    cacheFile_ = options_.checkpoint;
    logInfo("mini_xvlm: loaded checkpoint {}", options_.checkpoint);
    net_->eval();
    return;
  }
  nlohmann::ordered_json config;
  config["format"] = "prunelab-mini_xvlm";
  config["version"] = 1;
  config["options"] = config::toJson(dumpOptions(options_));
  config["data_fingerprint"] = ctx.data->fingerprint();
  config["seed"] = ctx.seed;
  config["pad_id"] = kPad;
  config["prompt_words"] = {{"question", questionId_}, {"answer", answerId_}};
  config["answers"] = answers_;
  const auto cached = model::loadOrTrain(*net_, ctx.cacheDir, "mini_xvlm", recipeOf("task", options_.variant, ctx),
                                         [&] { trainStages(ctx); }, config);
  weightsId_ = cached.weightsId;
  cacheFile_ = cached.file.string();
  net_->eval();
}

void MiniXvlm::prepareTeacher() {
  if (teacher_) return;
  PL_CHECK(hasContext_, "mini_xvlm: prepare() the model before its teacher");
  Options t = options_;
  t.variant = "teacher";
  t.checkpoint.clear();
  teacher_ = std::make_unique<MiniXvlm>(t);
  teacher_->prepare(context_);
  teacher_->net_->eval();
  for (auto& p : teacher_->net_->parameters()) p.set_requires_grad(false);
}

void MiniXvlm::releaseTeacher() { teacher_.reset(); }

}  // namespace prunelab::models
