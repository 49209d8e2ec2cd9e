#include "models/mini_blip2/MiniBlip2.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <ATen/CPUGeneratorImpl.h>

#include "framework/core/Suggest.h"
#include "models/transformer/Generation.h"
#include "models/transformer/Recipe.h"

namespace prunelab::models {

namespace {

constexpr const char* kVision = "vision";
constexpr const char* kBridge = "bridge";
constexpr const char* kLanguage = "language";
constexpr std::int64_t kCellLogits = 15;  // per cell: 11 classes (10 + empty), 2 shades, 2 sizes
constexpr const char* kLabels = "lm_labels";
constexpr std::int64_t kPad = 0, kBos = 2, kEos = 3;
constexpr std::int64_t kIgnore = -100;

// The non-padding ids of row `r` of an int64 [B,T] accessor.
std::vector<std::int64_t> rowIds(const at::TensorAccessor<std::int64_t, 2>& a, std::int64_t r, std::int64_t len) {
  std::vector<std::int64_t> out;
  for (std::int64_t j = 0; j < len; ++j)
    if (a[r][j] != kPad) out.push_back(a[r][j]);
  return out;
}

// Drops the trailing columns that are padding in every row (keeps at least `minLen`).
torch::Tensor trimPadding(const torch::Tensor& tokens, std::int64_t minLen = 1) {
  const auto used = tokens.ne(kPad).any(0).nonzero();
  const std::int64_t length = used.numel() > 0 ? used.max().item<std::int64_t>() + 1 : 0;
  return tokens.narrow(1, 0, std::min(tokens.size(1), std::max(length, minLen)));
}

}  // namespace

void MiniBlip2Options::validate() const {
  using Ints = std::initializer_list<std::pair<std::int64_t, const char*>>;
  using Reals = std::initializer_list<std::pair<double, const char*>>;
  for (const auto& [value, name] :
       Ints{{vision_dim, "vision_dim"}, {vision_depth, "vision_depth"}, {vision_heads, "vision_heads"},
            {vision_mlp_dim, "vision_mlp_dim"}, {num_queries, "num_queries"}, {bridge_dim, "bridge_dim"},
            {bridge_depth, "bridge_depth"}, {bridge_heads, "bridge_heads"}, {bridge_mlp_dim, "bridge_mlp_dim"},
            {embed_dim, "embed_dim"}, {max_text_len, "max_text_len"}, {lm_dim, "lm_dim"}, {lm_depth, "lm_depth"},
            {lm_heads, "lm_heads"}, {lm_mlp_dim, "lm_mlp_dim"}, {lm_batch_size, "lm_batch_size"},
            {generative_batch_size, "generative_batch_size"}, {generative_threads, "generative_threads"},
            {qformer_threads, "qformer_threads"},
            {vision_batch_size, "vision_batch_size"},
            {log_every, "log_every"}})
    PL_CHECK(value > 0, "{} must be positive, got {}", name, value);
  PL_CHECK(image_size > 0 && patch_size > 0 && image_size % patch_size == 0,
           "patch_size ({}) must divide image_size ({})", patch_size, image_size);
  PL_CHECK(vision_dim % vision_heads == 0, "vision_dim ({}) must be a multiple of vision_heads ({})", vision_dim,
           vision_heads);
  PL_CHECK(bridge_dim % bridge_heads == 0, "bridge_dim ({}) must be a multiple of bridge_heads ({})", bridge_dim,
           bridge_heads);
  PL_CHECK(lm_dim % lm_heads == 0, "lm_dim ({}) must be a multiple of lm_heads ({})", lm_dim, lm_heads);
  PL_CHECK(vocab_size > 6, "vocab_size must exceed the 6 special tokens, got {}", vocab_size);
  PL_CHECK(lm_max_len > num_queries + 2,
           "lm_max_len ({}) must leave room for text after the {} soft-prompt positions: raise lm_max_len", lm_max_len,
           num_queries);
  for (const auto& [value, name] : Ints{{vision_epochs, "vision_epochs"}, {qformer_epochs, "qformer_epochs"},
                                        {generative_steps, "generative_steps"}, {lm_steps, "lm_steps"},
                                        {warmup_steps, "warmup_steps"}})
    PL_CHECK(value >= 0, "{} must be >= 0, got {}", name, value);
  PL_CHECK(batch_size > 1, "batch_size must be at least 2 (ITC needs negatives), got {}", batch_size);
  for (const auto& [value, name] : Reals{{vision_lr, "vision_lr"}, {qformer_lr, "qformer_lr"},
                                         {generative_lr, "generative_lr"}, {lm_lr, "lm_lr"}})
    PL_CHECK(value > 0, "{} must be positive, got {}", name, value);
  checkOneOf("soft_prompt_position", soft_prompt_position, {"before_target", "start"});
  PL_CHECK(itm_fraction > 0 && itm_fraction <= 1, "itm_fraction must be in (0, 1], got {}", itm_fraction);
  PL_CHECK(query_cell_weight >= 0, "query_cell_weight must be >= 0, got {}", query_cell_weight);
  PL_CHECK(bridge_context_pos_std >= 0, "bridge_context_pos_std must be >= 0, got {}", bridge_context_pos_std);
  PL_CHECK(vqa_fraction >= 0 && vqa_fraction <= 1, "vqa_fraction must be in [0, 1], got {}", vqa_fraction);
  PL_CHECK(weight_decay >= 0 && grad_clip >= 0, "weight_decay and grad_clip must be >= 0");
}

MiniBlip2NetImpl::MiniBlip2NetImpl(const MiniBlip2Options& o, std::uint64_t seed) {
  using torch::nn::Embedding;
  using torch::nn::LayerNorm;
  using torch::nn::LayerNormOptions;
  using torch::nn::Linear;
  using torch::nn::LinearOptions;
  const std::int64_t side = o.image_size / o.patch_size;
  patchEmbed = register_module("patch_embed", Linear(o.patch_size * o.patch_size, o.vision_dim));
  visionPos = register_parameter("vision_pos", torch::zeros({side * side, o.vision_dim}));
  vision = register_module(
      kVision, TransformerStack(StackOptions(kVision, "vision", o.vision_depth,
                                             BlockOptions(o.vision_dim, o.vision_heads).mlpDim(o.vision_mlp_dim))
                                    .seed(mixSeed(seed, 1))));
  visionLn = register_module("vision_ln", LayerNorm(LayerNormOptions({o.vision_dim})));
  cellHead = register_module("cell_head", Linear(o.vision_dim, kCellLogits));

  queries = register_parameter("queries", torch::zeros({o.num_queries, o.bridge_dim}));
  bridgeTokEmbed = register_module("bridge_tok_embed", Embedding(o.vocab_size, o.bridge_dim));
  bridgeTextPos = register_parameter("bridge_text_pos", torch::zeros({o.max_text_len, o.bridge_dim}));
  bridgeContextPos = register_parameter("bridge_context_pos", torch::zeros({side * side, o.vision_dim}));
  bridge = register_module(
      kBridge,
      TransformerStack(StackOptions(kBridge, "bridge", o.bridge_depth,
                                    BlockOptions(o.bridge_dim, o.bridge_heads).mlpDim(o.bridge_mlp_dim).contextDim(o.vision_dim))
                           .seed(mixSeed(seed, 2))));
  bridgeLn = register_module("bridge_ln", LayerNorm(LayerNormOptions({o.bridge_dim})));
  itcVisionProj = register_module("itc_vision_proj", Linear(LinearOptions(o.bridge_dim, o.embed_dim).bias(false)));
  itcTextProj = register_module("itc_text_proj", Linear(LinearOptions(o.bridge_dim, o.embed_dim).bias(false)));
  itmHead = register_module("itm_head", Linear(o.bridge_dim, 2));
  llmProj = register_module("llm_proj", Linear(o.bridge_dim, o.lm_dim));
  queryCellHead = register_module("query_cell_head", Linear(o.bridge_dim, kCellLogits));
  itcTemp = register_parameter("itc_temp", torch::full({}, 0.07));

  lmTokEmbed = register_module("lm_tok_embed", Embedding(o.vocab_size, o.lm_dim));
  lmPos = register_parameter("lm_pos", torch::zeros({o.lm_max_len, o.lm_dim}));
  language = register_module(
      kLanguage, TransformerStack(StackOptions(kLanguage, "language", o.lm_depth,
                                               BlockOptions(o.lm_dim, o.lm_heads).mlpDim(o.lm_mlp_dim))
                                      .causal(true)
                                      .seed(mixSeed(seed, 3))));
  lmLnF = register_module("lm_ln_f", LayerNorm(LayerNormOptions({o.lm_dim})));

  // Every weight outside the stacks from the seed (the stacks seed themselves).
  torch::NoGradGuard noGrad;
  auto gen = at::detail::createCPUGenerator(mixSeed(seed, 0));
  for (auto* l : {&patchEmbed, &cellHead, &itcVisionProj, &itcTextProj, &itmHead, &llmProj}) {
    (*l)->weight.normal_(0.0, 0.02, gen);
    if ((*l)->bias.defined()) (*l)->bias.zero_();
  }
  for (auto* t : {&visionPos, &bridgeTextPos, &lmPos}) t->normal_(0.0, 0.01, gen);
  queries.normal_(0.0, 0.02, gen);
  if (o.bridge_context_pos_std > 0) bridgeContextPos.normal_(0.0, o.bridge_context_pos_std, gen);
  bridgeTokEmbed->weight.normal_(0.0, 0.02, gen);
  lmTokEmbed->weight.normal_(0.0, 0.02, gen);
  // Last, so that adding it left every earlier draw (and so the cached earlier stages) unchanged.
  queryCellHead->weight.normal_(0.0, 0.02, gen);
  queryCellHead->bias.zero_();
}

MiniBlip2::MiniBlip2(Options options) : options_(std::move(options)) { options_.validate(); }

void MiniBlip2::build(std::int64_t seed) { net_ = MiniBlip2Net(options_, static_cast<std::uint64_t>(seed)); }

void MiniBlip2::checkBuilt() const { PL_CHECK(!net_.is_empty(), "mini_blip2: used before prepare()"); }

std::vector<model::StackInfo> MiniBlip2::stacks() const {
  checkBuilt();
  return {net_->vision->info(), net_->bridge->info(), net_->language->info()};
}

std::vector<model::LinearRef> MiniBlip2::linears() {
  checkBuilt();
  auto out = net_->vision->linears();
  for (auto* s : {&net_->bridge, &net_->language}) {
    auto more = (*s)->linears();
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

torch::nn::Module& MiniBlip2::module() {
  checkBuilt();
  return *net_;
}

// ---- pieces -------------------------------------------------------------------------------------

torch::Tensor MiniBlip2::visionFeatures(const torch::Tensor& images) {
  auto state = stackInputs(kVision, model::Batch().set("images", images));
  return net_->visionLn->forward(net_->vision->forward(state).at(StackState::kHidden));
}

torch::Tensor MiniBlip2::cellLogits(const torch::Tensor& features, std::int64_t grid) {
  const std::int64_t side = options_.image_size / options_.patch_size;
  PL_CHECK(grid > 0 && side % grid == 0, "mini_blip2: {}x{} patches cannot be split into a {}x{} grid of cells", side,
           side, grid, grid);
  const std::int64_t b = features.size(0), cs = side / grid, d = features.size(2);
  auto cells = features.reshape({b, grid, cs, grid, cs, d}).mean(std::vector<std::int64_t>{2, 4});
  return net_->cellHead->forward(cells.reshape({b, grid * grid, d}));
}

torch::Tensor MiniBlip2::bridgeContext(const torch::Tensor& features) {
  PL_CHECK(features.dim() == 3 && features.size(1) == net_->bridgeContextPos.size(0),
           "mini_blip2: the Q-Former attends to {} vision tokens, got features {}", net_->bridgeContextPos.size(0),
           c10::str(features.sizes()));
  return features + net_->bridgeContextPos;
}

torch::Tensor MiniBlip2::queryOutputs(const torch::Tensor& features) {
  model::Batch state;
  state.set(StackState::kHidden, net_->queries.unsqueeze(0).expand({features.size(0), -1, -1}));
  state.set(StackState::kContext, bridgeContext(features));
  return net_->bridgeLn->forward(net_->bridge->forward(state).at(StackState::kHidden));
}

torch::Tensor MiniBlip2::bridgeText(const torch::Tensor& raw) {
  const auto tokens = trimPadding(raw);
  PL_CHECK(tokens.size(1) <= options_.max_text_len, "mini_blip2: texts of {} tokens, but the Q-Former has {} positions",
           tokens.size(1), options_.max_text_len);
  model::Batch state;
  state.set(StackState::kHidden, net_->bridgeTokEmbed->forward(tokens) + net_->bridgeTextPos.narrow(0, 0, tokens.size(1)));
  if (tokens.eq(kPad).any().item<bool>()) state.set(StackState::kMask, tokens.ne(kPad));
  state.set(StackState::kCrossRows, torch::tensor(std::int64_t{0}));
  return net_->bridgeLn->forward(net_->bridge->forward(state).at(StackState::kHidden));
}

model::Batch MiniBlip2::jointInputs(const torch::Tensor& features, const torch::Tensor& raw, bool itg) {
  const auto tokens = trimPadding(raw);
  PL_CHECK(tokens.size(1) <= options_.max_text_len, "mini_blip2: texts of {} tokens, but the Q-Former has {} positions",
           tokens.size(1), options_.max_text_len);
  const std::int64_t b = tokens.size(0), q = options_.num_queries, t = tokens.size(1);
  auto text = net_->bridgeTokEmbed->forward(tokens) + net_->bridgeTextPos.narrow(0, 0, t);
  model::Batch state;
  state.set(StackState::kHidden, torch::cat({net_->queries.unsqueeze(0).expand({b, -1, -1}), text}, 1));
  state.set(StackState::kContext, bridgeContext(features));
  state.set(StackState::kCrossRows, torch::tensor(q));
  if (tokens.eq(kPad).any().item<bool>())
    state.set(StackState::kMask, torch::cat({torch::ones({b, q}, torch::kBool), tokens.ne(kPad)}, 1));
  if (itg) {
    // Queries see the queries; text position i sees every query and the text up to i.
    auto allowed = torch::zeros({q + t, q + t}, torch::kBool);
    allowed.narrow(1, 0, q).fill_(true);
    allowed.narrow(0, q, t).narrow(1, q, t).copy_(torch::ones({t, t}, torch::kBool).tril());
    state.set(StackState::kAttnMask, allowed);
  }
  return state;
}

torch::Tensor MiniBlip2::bridgeJoint(const torch::Tensor& features, const torch::Tensor& raw, bool itg) {
  return net_->bridgeLn->forward(net_->bridge->forward(jointInputs(features, raw, itg)).at(StackState::kHidden));
}

model::Batch MiniBlip2::softPromptInputs(const torch::Tensor& features, const torch::Tensor& prompt) {
  if (options_.qformer_reads_prompt) {
    PL_CHECK(prompt.defined() && prompt.size(0) == features.size(0),
             "mini_blip2: the Q-Former reads the LM prompt, but {} prompts came for {} images",
             prompt.defined() ? prompt.size(0) : 0, features.size(0));
    return jointInputs(features, prompt, false);
  }
  model::Batch state;
  state.set(StackState::kHidden, net_->queries.unsqueeze(0).expand({features.size(0), -1, -1}));
  state.set(StackState::kContext, bridgeContext(features));
  return state;
}

torch::Tensor MiniBlip2::softPromptFrom(const model::Batch& bridgeState) {
  const auto& hidden = bridgeState.at(StackState::kHidden);
  return net_->llmProj->forward(net_->bridgeLn->forward(hidden.narrow(1, 0, options_.num_queries)));
}

torch::Tensor MiniBlip2::softPrompt(const torch::Tensor& features, const torch::Tensor& prompt) {
  return softPromptFrom(net_->bridge->forward(softPromptInputs(features, prompt)));
}

std::vector<std::int64_t> MiniBlip2::promptLengths(const torch::Tensor& labels) {
  PL_CHECK(labels.dim() == 2, "mini_blip2: labels must be [batch, tokens], got {}", c10::str(labels.sizes()));
  auto l = labels.contiguous();
  auto la = l.accessor<std::int64_t, 2>();
  std::vector<std::int64_t> lengths;
  for (std::int64_t r = 0; r < l.size(0); ++r) {
    std::int64_t j = 0;
    while (j < l.size(1) && la[r][j] == kIgnore) ++j;
    PL_CHECK(j < l.size(1), "mini_blip2: example {} of the batch has no target token", r);
    lengths.push_back(j + 1);  // position j predicts the first target: tokens 0..j are the prompt
  }
  return lengths;
}

torch::Tensor MiniBlip2::promptTokens(const torch::Tensor& tokens, const torch::Tensor& labels) {
  PL_CHECK(tokens.dim() == 2 && tokens.sizes() == labels.sizes(), "mini_blip2: tokens {} and labels {} differ in shape",
           c10::str(tokens.sizes()), c10::str(labels.sizes()));
  const auto lengths = promptLengths(labels);
  const auto longest = *std::max_element(lengths.begin(), lengths.end());
  auto out = torch::zeros({tokens.size(0), longest}, torch::kInt64);
  for (std::int64_t r = 0; r < tokens.size(0); ++r) {
    const auto len = lengths[static_cast<std::size_t>(r)];
    out[r].narrow(0, 0, len).copy_(tokens[r].narrow(0, 0, len));
  }
  return out;
}

torch::Tensor MiniBlip2::itmLogits(const torch::Tensor& features, const torch::Tensor& tokens) {
  auto joint = bridgeJoint(features, tokens, false);
  return net_->itmHead->forward(joint.narrow(1, 0, options_.num_queries)).mean(1);
}

torch::Tensor MiniBlip2::itcImage(const torch::Tensor& queryOut) {
  return torch::nn::functional::normalize(net_->itcVisionProj->forward(queryOut),
                                          torch::nn::functional::NormalizeFuncOptions().dim(-1));
}

torch::Tensor MiniBlip2::itcText(const torch::Tensor& textHidden) {
  return torch::nn::functional::normalize(net_->itcTextProj->forward(textHidden.select(1, 0)),
                                          torch::nn::functional::NormalizeFuncOptions().dim(-1));
}

torch::Tensor MiniBlip2::itgLogits(const torch::Tensor& jointHidden) {
  const std::int64_t q = options_.num_queries;
  return torch::matmul(jointHidden.narrow(1, q, jointHidden.size(1) - q), net_->bridgeTokEmbed->weight.t());
}

model::Batch MiniBlip2::languageInputs(const torch::Tensor& softPrompt, const torch::Tensor& tokens,
                                       const torch::Tensor& labels) {
  const std::int64_t b = tokens.size(0), q = softPrompt.size(1), t = tokens.size(1), n = q + t;
  PL_CHECK(n <= options_.lm_max_len,
           "mini_blip2: {} soft-prompt positions and {} text tokens exceed the LM's {} positions (lm_max_len)", q, t,
           options_.lm_max_len);
  PL_CHECK(tokens.numel() == 0 || tokens.max().item<std::int64_t>() < options_.vocab_size,
           "mini_blip2: token id {} outside the vocabulary of {}: set model.vocab_size to the tokenizer's size",
           tokens.max().item<std::int64_t>(), options_.vocab_size);
  // Row r reads [text 0..at) [soft 0..q) [text at..t) out of cat(text, soft); a label belongs to
  // the position it is predicted at.
  const auto lengths = promptLengths(labels);
  auto order = torch::empty({b, n}, torch::kInt64);
  auto moved = torch::full({b, n}, kIgnore, torch::kInt64);
  auto oa = order.accessor<std::int64_t, 2>();
  auto ma = moved.accessor<std::int64_t, 2>();
  auto l = labels.contiguous();
  auto la = l.accessor<std::int64_t, 2>();
  for (std::int64_t r = 0; r < b; ++r) {
    const std::int64_t at = softPromptAt(lengths[static_cast<std::size_t>(r)]);
    for (std::int64_t p = 0; p < n; ++p) {
      const bool soft = p >= at && p < at + q;
      oa[r][p] = soft ? t + (p - at) : (p < at ? p : p - q);
    }
    for (std::int64_t i = 0; i < t; ++i) ma[r][i < at ? i : i + q] = la[r][i];
    if (at > 0) {  // the text position before the soft prompt now predicts a soft position
      ma[r][at + q - 1] = ma[r][at - 1];
      ma[r][at - 1] = kIgnore;
    }
  }
  auto source = torch::cat({net_->lmTokEmbed->forward(tokens), softPrompt}, 1);
  model::Batch state;
  state.set(StackState::kHidden, source.gather(1, order.unsqueeze(-1).expand({b, n, source.size(2)})) +
                                     net_->lmPos.narrow(0, 0, n));
  state.set(kLabels, moved);
  if (tokens.eq(kPad).any().item<bool>())
    state.set(StackState::kMask, torch::cat({tokens.ne(kPad), torch::ones({b, q}, torch::kBool)}, 1).gather(1, order));
  return state;
}

std::int64_t MiniBlip2::softPromptAt(std::int64_t promptLength) const {
  return options_.soft_prompt_position == "start" ? 0 : promptLength;
}

std::pair<torch::Tensor, torch::Tensor> MiniBlip2::lmText(const model::Batch& batch) const {
  // Each row as (ids, index of the first target id); labels follow.
  std::vector<std::pair<std::vector<std::int64_t>, std::size_t>> rows;
  if (batch.has("prefix_ids") && batch.has("target_ids")) {
    auto p = batch.at("prefix_ids").contiguous(), g = batch.at("target_ids").contiguous();
    auto pa = p.accessor<std::int64_t, 2>();
    auto ga = g.accessor<std::int64_t, 2>();
    for (std::int64_t r = 0; r < p.size(0); ++r) {
      auto ids = rowIds(pa, r, p.size(1));
      const auto first = ids.size();
      auto target = rowIds(ga, r, g.size(1));
      ids.insert(ids.end(), target.begin(), target.end());
      rows.emplace_back(std::move(ids), first);
    }
  } else if (batch.has("questions") && batch.has("answers")) {
    PL_CHECK(questionId_ >= 0 && answerId_ >= 0, "mini_blip2: the prompt words 'question'/'answer' are not set");
    auto qs = batch.at("questions").contiguous(), as = batch.at("answers").contiguous();
    auto qa = qs.accessor<std::int64_t, 2>();
    auto aa = as.accessor<std::int64_t, 2>();
    for (std::int64_t r = 0; r < qs.size(0); ++r) {
      std::vector<std::int64_t> ids = {kBos, questionId_};
      for (auto id : rowIds(qa, r, qs.size(1)))
        if (id != kBos && id != kEos) ids.push_back(id);
      ids.push_back(answerId_);
      const auto first = ids.size();
      auto answer = rowIds(aa, r, as.size(1));
      ids.insert(ids.end(), answer.begin(), answer.end());
      rows.emplace_back(std::move(ids), first);
    }
  } else {
    PL_CHECK(batch.has("captions"),
             "mini_blip2: a batch needs 'prefix_ids'+'target_ids', 'questions'+'answers' or 'captions' for its loss");
    auto c = batch.at("captions").contiguous();
    auto ca = c.accessor<std::int64_t, 2>();
    for (std::int64_t r = 0; r < c.size(0); ++r) rows.emplace_back(rowIds(ca, r, c.size(1)), 1);
  }
  std::int64_t length = 2;
  for (const auto& [ids, first] : rows) length = std::max<std::int64_t>(length, static_cast<std::int64_t>(ids.size()));
  const auto n = static_cast<std::int64_t>(rows.size());
  auto tokens = torch::zeros({n, length}, torch::kInt64);
  auto labels = torch::full({n, length}, kIgnore, torch::kInt64);
  auto ta = tokens.accessor<std::int64_t, 2>();
  auto la = labels.accessor<std::int64_t, 2>();
  for (std::int64_t r = 0; r < n; ++r) {
    const auto& [ids, first] = rows[static_cast<std::size_t>(r)];
    PL_CHECK(first >= 1 && first < ids.size(), "mini_blip2: example {} of the batch has no target token", r);
    for (std::size_t j = 0; j < ids.size(); ++j) ta[r][static_cast<std::int64_t>(j)] = ids[j];
    for (std::size_t j = first; j < ids.size(); ++j) la[r][static_cast<std::int64_t>(j) - 1] = ids[j];
  }
  return {tokens, labels};
}

namespace {
// Mean cross-entropy of logits [B,T,V] over the labels [B,T] that are not ignored.
torch::Tensor meanTokenLoss(const torch::Tensor& logits, const torch::Tensor& labels) {
  PL_CHECK(labels.ne(kIgnore).any().item<bool>(), "mini_blip2: a batch with no target token");
  return torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}), labels.reshape({-1}),
                                              torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnore));
}
}  // namespace

std::int64_t MiniBlip2::targetCount(const torch::Tensor& labels) { return labels.ne(kIgnore).sum().item<std::int64_t>(); }

torch::Tensor MiniBlip2::lossFromState(const model::Batch& state) {
  auto h = net_->lmLnF->forward(state.at(StackState::kHidden));
  return meanTokenLoss(torch::matmul(h, net_->lmTokEmbed->weight.t()), state.at(kLabels));
}

torch::Tensor MiniBlip2::lossesFromState(const model::Batch& state, std::int64_t parts) {
  auto h = net_->lmLnF->forward(state.at(StackState::kHidden));
  auto logits = torch::matmul(h, net_->lmTokEmbed->weight.t());
  const auto& labels = state.at(kLabels);
  PL_CHECK(parts > 0 && logits.size(0) % parts == 0, "mini_blip2: {} rows cannot be split into {} equal parts",
           logits.size(0), parts);
  const auto rows = logits.size(0) / parts;
  std::vector<torch::Tensor> out;
  // Each part is reduced exactly as a batch of its own would be.
  for (std::int64_t i = 0; i < parts; ++i)
    out.push_back(meanTokenLoss(logits.narrow(0, i * rows, rows), labels.narrow(0, i * rows, rows)));
  return torch::stack(out);
}

// ---- the Model interface ------------------------------------------------------------------------

model::Batch MiniBlip2::stackInputs(const std::string& stack, const model::Batch& batch) {
  checkBuilt();
  if (stack == kVision) {
    const auto& images = batch.at("images");
    PL_CHECK(images.dim() == 4 && images.size(2) == options_.image_size && images.size(3) == options_.image_size,
             "mini_blip2 expects images [batch, 1, {}, {}], got {}", options_.image_size, options_.image_size,
             c10::str(images.sizes()));
    model::Batch state;
    state.set(StackState::kHidden,
              net_->patchEmbed->forward(patchify(images, options_.patch_size)) + net_->visionPos);
    return state;
  }
  if (stack == kBridge) {
    const auto features = visionFeatures(batch.at("images"));
    if (!options_.qformer_reads_prompt) return softPromptInputs(features, torch::Tensor());
    auto [tokens, labels] = lmText(batch);
    return softPromptInputs(features, promptTokens(tokens, labels));
  }
  PL_CHECK(stack == kLanguage, "mini_blip2 has stacks 'vision', 'bridge' and 'language'; got '{}'", stack);
  auto [tokens, labels] = lmText(batch);
  const auto soft = softPrompt(visionFeatures(batch.at("images")), promptTokens(tokens, labels));
  return languageInputs(soft, tokens, labels);
}

model::Batch MiniBlip2::forwardBlock(const std::string& stack, int block, const model::Batch& state) {
  checkBuilt();
  if (stack == kVision) return net_->vision->forwardBlock(block, state);
  if (stack == kBridge) return net_->bridge->forwardBlock(block, state);
  PL_CHECK(stack == kLanguage, "mini_blip2 has stacks 'vision', 'bridge' and 'language'; got '{}'", stack);
  return net_->language->forwardBlock(block, state);
}

model::Batch MiniBlip2::suffixState(const std::string& stack, int block, const model::Batch& state,
                                   const model::Batch& batch) {
  checkBuilt();
  auto runFrom = [&](TransformerStack& s, model::Batch st) {
    PL_CHECK(block >= 0 && block <= s->numBlocks(), "mini_blip2: {} block {} out of range [0, {}]", stack, block,
             s->numBlocks());
    for (int b = block; b < s->numBlocks(); ++b) st = s->forwardBlock(b, st);
    return st;
  };
  if (stack == kVision) {
    auto features = net_->visionLn->forward(runFrom(net_->vision, state).at(StackState::kHidden));
    auto [tokens, labels] = lmText(batch);
    auto soft = softPrompt(features, promptTokens(tokens, labels));
    return net_->language->forward(languageInputs(soft, tokens, labels));
  }
  if (stack == kBridge) {
    auto soft = softPromptFrom(runFrom(net_->bridge, state));
    auto [tokens, labels] = lmText(batch);
    return net_->language->forward(languageInputs(soft, tokens, labels));
  }
  PL_CHECK(stack == kLanguage, "mini_blip2 has stacks 'vision', 'bridge' and 'language'; got '{}'", stack);
  return runFrom(net_->language, state);
}

torch::Tensor MiniBlip2::lossFromBlock(const std::string& stack, int block, const model::Batch& state,
                                       const model::Batch& batch) {
  return lossFromState(suffixState(stack, block, state, batch));
}

torch::Tensor MiniBlip2::lossesFromBlock(const std::string& stack, int block, const std::vector<model::Batch>& states,
                                         const model::Batch& batch) {
  PL_CHECK(!states.empty(), "mini_blip2: lossesFromBlock needs at least one state");
  const auto parts = static_cast<std::int64_t>(states.size());
  if (parts == 1) return lossFromBlock(stack, block, states.front(), batch).reshape({1});
  // The states differ, the text does not: the batch's fields repeat once per state, and the masks
  // shared by every row (an attention pattern [T,T], the cross-attention row count) stay single.
  const std::vector<std::string> shared = {StackState::kAttnMask, StackState::kCrossRows};
  for (const auto& s : states)
    PL_CHECK(!s.has(StackState::kAttnMask) || s.at(StackState::kAttnMask).dim() == 2,
             "mini_blip2: lossesFromBlock cannot join states with a per-example attention mask");
  const auto joined = model::concatBatches(states, shared);
  const auto repeated = model::concatBatches(std::vector<model::Batch>(states.size(), batch));
  return lossesFromState(suffixState(stack, block, joined, repeated), parts);
}

torch::Tensor MiniBlip2::loss(const model::Batch& batch) {
  return lossFromBlock(kVision, 0, stackInputs(kVision, batch), batch);
}

// ---- task heads ---------------------------------------------------------------------------------

std::vector<std::vector<std::int64_t>> MiniBlip2::generate(const model::Batch& images,
                                                          const std::vector<std::vector<std::int64_t>>& prompts,
                                                          const model::GenerationOptions& options) {
  checkBuilt();
  torch::NoGradGuard noGrad;
  const auto& pixels = images.at("images");
  PL_CHECK(static_cast<std::int64_t>(prompts.size()) == pixels.size(0),
           "mini_blip2: generate got {} images but {} prompts", pixels.size(0), prompts.size());
  const auto features = visionFeatures(pixels);
  const std::int64_t q = options_.num_queries;
  // Items with prompts of the same length decode together (no padding inside a prompt).
  std::map<std::size_t, std::vector<std::int64_t>> byLength;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    PL_CHECK(!prompts[i].empty() && prompts[i][0] == kBos, "mini_blip2: prompt {} must start with [BOS]", i);
    byLength[prompts[i].size()].push_back(static_cast<std::int64_t>(i));
  }
  std::vector<std::vector<std::int64_t>> out(prompts.size());
  for (const auto& [length, items] : byLength) {
    PL_CHECK(q + static_cast<std::int64_t>(length) + options.maxLength <= options_.lm_max_len,
             "mini_blip2: {} soft-prompt positions + a {}-token prompt + max_len {} exceed the LM's {} positions: lower "
             "max_len",
             q, length, options.maxLength, options_.lm_max_len);
    auto groupPrompts = torch::empty({static_cast<std::int64_t>(items.size()), static_cast<std::int64_t>(length)},
                                     torch::kInt64);
    for (std::size_t r = 0; r < items.size(); ++r)
      for (std::size_t j = 0; j < length; ++j)
        groupPrompts[static_cast<std::int64_t>(r)][static_cast<std::int64_t>(j)] =
            prompts[static_cast<std::size_t>(items[r])][j];
    // The Q-Former reads each prompt (its question), so the soft prompt is made per group.
    const auto groupSoft = softPrompt(features.index_select(0, torch::tensor(items, torch::kInt64)), groupPrompts);
    auto step = [&](const torch::Tensor& rows, const torch::Tensor& tokens) {
      const auto t = tokens.size(1);
      // The soft prompt sits where languageInputs puts it: after the prompt, or first.
      const auto at = softPromptAt(static_cast<std::int64_t>(length));
      const auto text = net_->lmTokEmbed->forward(tokens);
      model::Batch state;
      state.set(StackState::kHidden, torch::cat({text.narrow(1, 0, at), groupSoft.index_select(0, rows),
                                                 text.narrow(1, at, t - at)},
                                                1) +
                                         net_->lmPos.narrow(0, 0, q + t));
      auto h = net_->language->forward(state).at(StackState::kHidden).select(1, q + t - 1);
      return torch::log_softmax(torch::matmul(net_->lmLnF->forward(h), net_->lmTokEmbed->weight.t()), -1);
    };
    auto generated = decodeTokens(step, groupPrompts, options, kEos);
    for (std::size_t r = 0; r < items.size(); ++r) out[static_cast<std::size_t>(items[r])] = std::move(generated[r]);
  }
  return out;
}

torch::Tensor MiniBlip2::imageEmbeddings(const model::Batch& batch) {
  checkBuilt();
  return itcImage(queryOutputs(visionFeatures(batch.at("images"))));
}

torch::Tensor MiniBlip2::textEmbeddings(const torch::Tensor& tokens) {
  checkBuilt();
  return itcText(bridgeText(tokens));
}

double MiniBlip2::logitScale() const {
  checkBuilt();
  return 1.0 / net_->itcTemp.clamp(0.001, 0.5).item<double>();
}

torch::Tensor MiniBlip2::similarity(const torch::Tensor& images, const torch::Tensor& texts) {
  PL_CHECK(images.dim() == 3 && texts.dim() == 2 && images.size(2) == texts.size(1),
           "mini_blip2: similarity of image embeddings [I, Q, D] and text embeddings [T, D], got {} and {}",
           c10::str(images.sizes()), c10::str(texts.sizes()));
  return std::get<0>(torch::matmul(images, texts.t()).max(1));
}

torch::Tensor MiniBlip2::matchLogits(const model::Batch& images, const torch::Tensor& tokens) {
  checkBuilt();
  return itmLogits(visionFeatures(images.at("images")), tokens).select(1, 1);
}

}  // namespace prunelab::models
