// mini_blip2's staged training recipe (BLIP-2's stages at FashionScenes scale); see MiniBlip2.h.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <unordered_map>

#include "framework/config/Value.h"
#include "framework/core/BlasCore.h"
#include "framework/core/Log.h"
#include "framework/core/Options.h"
#include "framework/core/Progress.h"
#include "framework/core/Threads.h"
#include "framework/data/Dataset.h"
#include "framework/data/TextSource.h"
#include "framework/model/WeightCache.h"
#include "models/mini_blip2/MiniBlip2.h"
#include "models/mini_lm/MiniLm.h"
#include "models/transformer/Recipe.h"

namespace prunelab::models {

namespace {

constexpr std::int64_t kPad = 0;
constexpr std::int64_t kEmptyCell = 10;  // the class target of an empty cell

/// A module that names parts of the network (shared, not copied) so that one training stage can
/// be optimised and cached on its own.
class Part : public torch::nn::Module {
 public:
  template <class M>
  Part& add(const std::string& name, const torch::nn::ModuleHolder<M>& m) {
    register_module(name, m.ptr());
    return *this;
  }
  Part& add(const std::string& name, const torch::Tensor& t) {
    register_parameter(name, t);
    return *this;
  }
};

// Named fields of every example of `split`, read in chunks (only the fields asked for are kept).
std::map<std::string, torch::Tensor> readFields(const data::Dataset& split, const std::vector<std::string>& fields) {
  data::BatchSampler sampler(split, 1024);
  std::map<std::string, std::vector<torch::Tensor>> parts;
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
    auto batch = sampler.batch(b);
    for (const auto& f : fields) {
      PL_CHECK(batch.has(f), "mini_blip2: the training split has no field '{}'", f);
      parts[f].push_back(batch.at(f));
    }
  }
  std::map<std::string, torch::Tensor> out;
  for (auto& [f, p] : parts) out[f] = torch::cat(p);
  return out;
}

bool decays(const std::string& name, const torch::Tensor& t) {
  // Linear weights only: not biases, norms, embeddings, positions, queries or the temperature.
  return t.dim() == 2 && name.find("embed.weight") == std::string::npos && name.find("_pos") == std::string::npos &&
         name != "queries" && name.find("tok_embed") == std::string::npos;
}

void checkFinite(const std::string& label, std::int64_t step, double loss) {
  PL_CHECK(std::isfinite(loss), "mini_blip2: {} diverged at step {} (loss {}): lower the learning rate", label, step,
           loss);
}

/// One training step's work: the gradients of step `step`'s loss into the trained parameters'
/// .grad (zeroed before), returning the loss, checked finite before any gradient is taken.
using StepFn = std::function<double(std::int64_t)>;

/// The one optimisation loop of every stage: AdamW, linear warmup then cosine decay, gradient
/// clipping, a progress line and the mean loss logged every log_every steps as `metric`.
void optimizeSteps(torch::nn::Module& part, const MiniBlip2Options& o, const model::ModelContext& ctx,
                   const std::string& label, const std::string& metric, std::int64_t steps, double lr,
                   const StepFn& stepAt) {
  if (steps == 0) return;
  auto optimizer = makeAdamW(part, lr, o.weight_decay, {0.9, 0.98}, decays);
  std::vector<torch::Tensor> params;
  for (auto& p : part.parameters())
    if (p.requires_grad()) params.push_back(p);
  part.train();
  Progress progress(label, steps, "step");
  double window = 0;
  std::int64_t windowSteps = 0;
  for (std::int64_t step = 0; step < steps; ++step) {
    const double rate = warmupCosineLr(lr, step, std::min(o.warmup_steps, steps / 4), steps);
    setLearningRate(*optimizer, rate);
    optimizer->zero_grad();
    const double value = stepAt(step);
    if (o.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, o.grad_clip);
    optimizer->step();
    window += value;
    ++windowSteps;
    if (ctx.logMetric && (windowSteps == o.log_every || step + 1 == steps)) {
      ctx.logMetric(metric, window / static_cast<double>(windowSteps), step + 1);
      window = 0;
      windowSteps = 0;
    }
    progress.advance(1, fmt::format("loss {:.4f} lr {:.2e}", value, rate));
  }
  progress.finish();
  part.eval();
}

/// optimizeSteps with each step's loss from `lossAt`, its gradients by backward().
void optimize(torch::nn::Module& part, const MiniBlip2Options& o, const model::ModelContext& ctx,
              const std::string& label, const std::string& metric, std::int64_t steps, double lr,
              const std::function<torch::Tensor(std::int64_t)>& lossAt) {
  optimizeSteps(part, o, ctx, label, metric, steps, lr, [&](std::int64_t step) {
    auto loss = lossAt(step);
    const double value = loss.item<double>();
    checkFinite(label, step, value);
    loss.backward();
    return value;
  });
}

/// The consecutive slices of a batch of `rows` examples that slicedStep runs side by side.
struct Slicing {
  std::int64_t rows, count;
  Slicing(std::int64_t batchRows, std::int64_t threads) : rows(batchRows), count(std::min(threads, batchRows)) {}
  std::int64_t from(std::int64_t s) const { return s * rows / count; }
  std::int64_t length(std::int64_t s) const { return from(s + 1) - from(s); }
  torch::Tensor of(const torch::Tensor& t, std::int64_t s) const { return t.narrow(0, from(s), length(s)); }
};

/// What a slice's forward gives slicedStep: its share of the batch's per-example losses (the
/// batch's mean losses weighted by the slice's share of their items, so the shares sum to the
/// batch's loss), and optionally its rows of the ITC embeddings.
struct SliceForward {
  torch::Tensor loss, image, text;
};

/// One step's gradients with the batch in `slicing.count` slices, each forward and backward on a
/// thread of its own (with OpenBLAS single-threaded, see SingleThreadedBlas, around the stage):
///  1. forward(s) on each slice, side by side;
///  2. joint(image, text), when given and the slices gave embeddings, on the calling thread: the
///     batch-wide loss of the slices' embeddings joined (ITC needs every pair), its gradient taken
///     with respect to the joined embeddings (and any trained parameter it reads directly);
///  3. each slice, side by side again, adds late(s) (when given: its share of a loss that needs
///     what joint computed, e.g. ITM's hard negatives) and takes the gradient of its loss and of
///     its embeddings (joint's gradient, its own rows) with respect to `trained`;
///  4. the gradients sum in a fixed order (joint's, then slice 0, 1, ...) into `trained`'s .grad.
/// It is the whole batch's loss and gradient up to floating-point order; the return value is the
/// loss, checked finite.
double slicedStep(const Slicing& slicing, const std::vector<torch::Tensor>& trained, const std::string& label,
                  std::int64_t step, const std::function<SliceForward(std::int64_t)>& forward,
                  const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& joint,
                  const std::function<torch::Tensor(std::int64_t)>& late) {
  const auto k = static_cast<std::size_t>(slicing.count);
  std::vector<SliceForward> slices(k);
  runOnThreads(slicing.count, [&](std::int64_t s) {
    at::init_num_threads();  // this thread's intra-op setting: LibTorch's, not the OpenMP default
    slices[static_cast<std::size_t>(s)] = forward(s);
  });
  double value = 0;
  for (const auto& slice : slices) value += slice.loss.item<double>();
  torch::Tensor imageGrad, textGrad;
  std::vector<torch::Tensor> jointGrads;
  if (joint && slices.front().image.defined()) {
    std::vector<torch::Tensor> images, texts;
    for (const auto& slice : slices) images.push_back(slice.image.detach()), texts.push_back(slice.text.detach());
    auto image = torch::cat(images).requires_grad_(true), text = torch::cat(texts).requires_grad_(true);
    auto loss = joint(image, text);
    value += loss.item<double>();
    std::vector<torch::Tensor> inputs = {image, text};
    inputs.insert(inputs.end(), trained.begin(), trained.end());
    auto grads = torch::autograd::grad({loss}, inputs, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                       /*allow_unused=*/true);
    imageGrad = grads[0], textGrad = grads[1];
    jointGrads.assign(grads.begin() + 2, grads.end());
  }
  std::vector<std::vector<torch::Tensor>> grads(k);
  std::vector<double> lateValues(k, 0.0);
  runOnThreads(slicing.count, [&](std::int64_t s) {
    at::init_num_threads();
    const auto i = static_cast<std::size_t>(s);
    auto loss = slices[i].loss;
    if (late) {
      auto extra = late(s);
      lateValues[i] = extra.item<double>();
      loss = loss + extra;
    }
    std::vector<torch::Tensor> outputs = {loss}, outputGrads = {torch::ones_like(loss)};
    if (imageGrad.defined()) {
      outputs.insert(outputs.end(), {slices[i].image, slices[i].text});
      outputGrads.insert(outputGrads.end(), {slicing.of(imageGrad, s), slicing.of(textGrad, s)});
    }
    grads[i] = torch::autograd::grad(outputs, trained, outputGrads, /*retain_graph=*/false, /*create_graph=*/false,
                                     /*allow_unused=*/true);
  });
  for (double v : lateValues) value += v;
  checkFinite(label, step, value);
  for (std::size_t p = 0; p < trained.size(); ++p) {
    torch::Tensor sum = jointGrads.empty() ? torch::Tensor() : jointGrads[p];
    for (const auto& g : grads)
      if (g[p].defined()) sum = sum.defined() ? sum + g[p] : g[p];
    // (a view, e.g. a slice's own gradient, would break zero_grad's detach_)
    if (sum.defined()) trained[p].mutable_grad() = sum.is_view() ? sum.clone() : sum;
  }
  return value;
}

// A seeded permutation stream: batch `i` of pass `i / perPass` over n examples.
class Batches {
 public:
  Batches(std::int64_t n, std::int64_t batch, std::uint64_t seed) : n_(n), batch_(std::min(batch, n)), seed_(seed) {
    PL_CHECK(n > 0, "mini_blip2: a training split is empty");
  }
  std::int64_t perPass() const { return n_ / batch_; }
  torch::Tensor indices(std::int64_t i) {
    const std::int64_t pass = i / perPass();
    if (pass != pass_) {
      auto gen = at::detail::createCPUGenerator(mixSeed(seed_, static_cast<std::uint64_t>(pass)));
      order_ = torch::randperm(n_, gen, torch::kInt64);
      pass_ = pass;
    }
    return order_.narrow(0, (i % perPass()) * batch_, batch_);
  }
  // A seeded per-pass choice among `k` options per example (e.g. which of 5 captions).
  torch::Tensor choice(std::int64_t i, std::int64_t k) {
    const std::int64_t pass = i / perPass();
    if (pass != choicePass_) {
      auto gen = at::detail::createCPUGenerator(mixSeed(seed_ ^ 0x5bd1e995ull, static_cast<std::uint64_t>(pass)));
      choice_ = torch::randint(k, {n_}, gen, torch::kInt64);
      choicePass_ = pass;
    }
    return choice_;
  }

 private:
  std::int64_t n_, batch_;
  std::uint64_t seed_;
  std::int64_t pass_ = -1, choicePass_ = -1;
  torch::Tensor order_, choice_;
};

// Vision features of every image, in chunks, without gradients.
torch::Tensor featuresOf(MiniBlip2& m, const torch::Tensor& images) {
  torch::NoGradGuard noGrad;
  m.net()->eval();
  std::vector<torch::Tensor> out;
  for (std::int64_t b = 0; b < images.size(0); b += 256)
    out.push_back(m.visionFeatures(images.narrow(0, b, std::min<std::int64_t>(256, images.size(0) - b))));
  return torch::cat(out);
}

// One caption per scene: all_captions[i, which[i]].
torch::Tensor pickCaptions(const torch::Tensor& all, const torch::Tensor& rows, const torch::Tensor& which) {
  return all.index_select(0, rows).gather(1, which.index_select(0, rows).view({-1, 1, 1}).expand({-1, 1, all.size(2)}))
      .squeeze(1);
}

}  // namespace

std::string MiniBlip2::recipeOf(const std::string& stage, const model::ModelContext& ctx) const {
  // Each stage's recipe holds the options it reads plus the earlier stage's recipe, so changing a
  // later stage's options does not retrain the earlier ones (and log_every/val_split retrain none).
  static const std::map<std::string, std::vector<std::string>> keys = {
      {"vision",
       {"image_size", "patch_size", "vision_dim", "vision_depth", "vision_heads", "vision_mlp_dim", "train_split",
        "vision_epochs", "vision_batch_size", "vision_lr", "warmup_steps", "weight_decay", "grad_clip"}},
      {"qformer",
       {"num_queries", "bridge_dim", "bridge_depth", "bridge_heads", "bridge_mlp_dim", "embed_dim", "bridge_context_pos_std", "vocab_size",
        "max_text_len", "batch_size", "qformer_epochs", "qformer_lr", "query_cell_weight", "itm_fraction",
        "qformer_threads"}},
      {"generative",
       {"lm_dim", "lm_depth", "lm_heads", "lm_mlp_dim", "lm_max_len", "lm_steps", "lm_batch_size", "lm_lr",
        "lm_split", "vqa_split", "generative_steps", "generative_batch_size", "generative_lr", "vqa_fraction",
        "generative_itc_weight", "generative_itc_on_vqa", "generative_threads", "qformer_reads_prompt",
        "soft_prompt_position"}}};
  const auto all = config::toJson(dumpOptions(options_));
  std::string recipe = fmt::format("mini_blip2-v1|{}|{}", ctx.data->fingerprint(), ctx.seed);
  for (const auto* s : {"vision", "qformer", "generative"}) {
    nlohmann::ordered_json part;
    for (const auto& k : keys.at(s)) part[k] = all.at(k);
    recipe += fmt::format("|{}:{}", s, part.dump());
    if (stage == s) break;
  }
  return recipe;
}

void MiniBlip2::prepare(const model::ModelContext& ctx) {
  PL_CHECK(ctx.data != nullptr, "mini_blip2: no data source to train on");
  const auto* text = dynamic_cast<const data::TextSource*>(ctx.data);
  PL_CHECK(text != nullptr,
           "mini_blip2 needs a data source with text (a tokenizer, captions and questions); '{}' has none: use "
           "dataset=fashion_scenes",
           ctx.data->name());
  for (const char* word : {"question", "answer"})
    PL_CHECK(text->knowsAllWords(word), "mini_blip2: the data source's vocabulary lacks the prompt word '{}'", word);
  setPromptWords(text->encodeText("question").at(0), text->encodeText("answer").at(0));
  build(ctx.seed);

  nlohmann::ordered_json config;
  config["format"] = "prunelab-mini_blip2";
  config["version"] = 1;
  config["options"] = config::toJson(dumpOptions(options_));
  config["data_fingerprint"] = ctx.data->fingerprint();
  config["seed"] = ctx.seed;
  config["pad_id"] = kPad;
  config["prompt_words"] = {{"question", questionId_}, {"answer", answerId_}};
  const auto cached =
      model::loadOrTrain(*net_, ctx.cacheDir, "mini_blip2", recipeOf("generative", ctx), [&] { train(ctx); }, config);
  weightsId_ = cached.weightsId;
  cacheFile_ = cached.file.string();
  net_->eval();
}

void MiniBlip2::train(const model::ModelContext& ctx) {
  const auto& o = options_;
  const auto seed = static_cast<std::uint64_t>(ctx.seed);
  auto scenes = readFields(*ctx.data->split(o.train_split),
                           {"images", "image_ids", "labels", "shades", "sizes", "all_captions"});
  const std::int64_t n = scenes["images"].size(0);
  const auto grid = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(scenes["labels"].size(1)))));
  PL_CHECK(grid * grid == scenes["labels"].size(1), "mini_blip2: 'labels' has {} cells, not a square grid",
           scenes["labels"].size(1));
  PL_CHECK(scenes["all_captions"].max().item<std::int64_t>() < o.vocab_size,
           "mini_blip2: the captions hold token id {} but vocab_size is {}: set model.vocab_size to the tokenizer's size",
           scenes["all_captions"].max().item<std::int64_t>(), o.vocab_size);
  PL_CHECK(o.query_cell_weight == 0 || grid * grid <= o.num_queries,
           "mini_blip2: query_cell_weight needs a query per cell, but the {}x{} grid has {} cells and num_queries is "
           "{}: raise num_queries or set query_cell_weight=0",
           grid, grid, grid * grid, o.num_queries);
  // The per-cell targets of stages (a) and (c)/(d): logits [B, cells, 15] of scenes `idx`.
  const auto cellClasses = [](const torch::Tensor& labels) {  // an empty cell (-1) is class kEmptyCell
    return labels.where(labels.ge(0), torch::full({}, kEmptyCell, torch::kInt64));
  };
  const auto classes = cellClasses(scenes["labels"]);
  // Its three terms (class, shade, size), each a mean over its cells (shade and size: non-empty ones).
  const auto cellTerms = [&](const torch::Tensor& logits, const torch::Tensor& idx) {
    namespace F = torch::nn::functional;
    const auto ignore = F::CrossEntropyFuncOptions().ignore_index(-1);
    auto flat = [&](std::int64_t from, std::int64_t k) { return logits.narrow(2, from, k).reshape({-1, k}); };
    return std::array<torch::Tensor, 3>{
        F::cross_entropy(flat(0, 11), classes.index_select(0, idx).reshape({-1})),
        F::cross_entropy(flat(11, 2), scenes["shades"].index_select(0, idx).reshape({-1}), ignore),
        F::cross_entropy(flat(13, 2), scenes["sizes"].index_select(0, idx).reshape({-1}), ignore)};
  };
  const auto cellLoss = [&](const torch::Tensor& logits, const torch::Tensor& idx) {
    const auto t = cellTerms(logits, idx);
    return t[0] + t[1] + t[2];
  };
  // The share of the rows' cellLoss that the slice `part` (a subset of `rows`) carries: each term
  // weighted by the slice's share of that term's cells, so the slices' shares sum to cellLoss(rows).
  const auto cellLossShare = [&](const torch::Tensor& logits, const torch::Tensor& part, const torch::Tensor& rows) {
    const auto t = cellTerms(logits, part);
    const auto counted = [&](const std::string& field, const torch::Tensor& idx) {
      return static_cast<double>(scenes[field].index_select(0, idx).ne(-1).sum().item<std::int64_t>());
    };
    auto share = t[0] * (static_cast<double>(part.size(0)) / static_cast<double>(rows.size(0)));
    for (const auto& [term, field] : {std::pair{1, "shades"}, std::pair{2, "sizes"}}) {
      const double mine = counted(field, part);
      if (mine > 0) share = share + t[term] * (mine / counted(field, rows));  // none: its mean is NaN, its share 0
    }
    return share;
  };
  // Query i's logits for cell i.
  const auto queryCellLogits = [&](const torch::Tensor& queryOut) {
    return net_->queryCellHead->forward(queryOut.narrow(1, 0, grid * grid));
  };
  std::map<std::string, torch::Tensor> val;
  if (!o.val_split.empty()) val = readFields(*ctx.data->split(o.val_split), {"images", "labels", "captions"});
  // Percent of val cells whose class (empty included) the per-cell logits [B, cells, 15] get right.
  const auto valCellClassAcc = [&](const torch::Tensor& logits) {
    auto predicted = logits.narrow(2, 0, 11).argmax(2);
    return 100.0 * predicted.eq(cellClasses(val["labels"])).to(torch::kFloat64).mean().item<double>();
  };

  // (a) Vision pretraining: per-cell class (or empty), shade and size.
  Part visionPart;
  visionPart.add("patch_embed", net_->patchEmbed)
      .add("vision_pos", net_->visionPos)
      .add("vision", net_->vision)
      .add("vision_ln", net_->visionLn)
      .add("cell_head", net_->cellHead);
  model::loadOrTrain(visionPart, ctx.cacheDir, "mini_blip2_vision", recipeOf("vision", ctx), [&] {
    Batches batches(n, o.vision_batch_size, mixSeed(seed, 10));
    optimize(visionPart, o, ctx, "train mini_blip2 (a) vision", "train/mini_blip2/vision/loss",
             o.vision_epochs * batches.perPass(), o.vision_lr, [&](std::int64_t step) {
               auto idx = batches.indices(step);
               return cellLoss(cellLogits(visionFeatures(scenes["images"].index_select(0, idx)), grid), idx);
             });
  });
  if (!val.empty()) {
    torch::NoGradGuard noGrad;
    const double acc = valCellClassAcc(cellLogits(featuresOf(*this, val["images"]), grid));
    logInfo("mini_blip2 (a): val per-cell class accuracy {:.2f}% (empty cells included)", acc);
    if (ctx.logMetric) ctx.logMetric("train/mini_blip2/val/cell_class_acc", acc, 0);
  }
  const auto features = featuresOf(*this, scenes["images"]);
  const auto valFeatures = val.empty() ? torch::Tensor() : featuresOf(*this, val["images"]);
  for (auto& p : visionPart.parameters()) p.set_requires_grad(false);

  // (b) LM pretraining: mini_lm's own recipe and cache; its weights are copied in.
  {
    MiniLm::Options lmOptions;
    lmOptions.vocab_size = o.vocab_size;
    lmOptions.dim = o.lm_dim;
    lmOptions.depth = o.lm_depth;
    lmOptions.heads = o.lm_heads;
    lmOptions.mlp_dim = o.lm_mlp_dim;
    lmOptions.max_len = o.lm_max_len;
    lmOptions.train_split = o.lm_split;
    lmOptions.steps = o.lm_steps;
    lmOptions.batch_size = o.lm_batch_size;
    lmOptions.lr = o.lm_lr;
    MiniLm lm(lmOptions);
    lm.prepare(ctx);
    auto params = lm.module().named_parameters();
    torch::NoGradGuard noGrad;
    net_->lmTokEmbed->weight.copy_(params["tok_embed.weight"]);
    net_->lmPos.copy_(params["pos_embed"]);
    for (auto& p : net_->language->named_parameters()) p.value().copy_(params["language." + p.key()]);
    for (auto& p : net_->lmLnF->named_parameters()) p.value().copy_(params["ln_f." + p.key()]);
  }

  // (c) Q-Former on ITC + ITM + ITG, vision frozen (its features computed once above).
  Part qformer;
  qformer.add("queries", net_->queries)
      .add("bridge_tok_embed", net_->bridgeTokEmbed)
      .add("bridge_text_pos", net_->bridgeTextPos)
      .add("bridge_context_pos", net_->bridgeContextPos)
      .add("bridge", net_->bridge)
      .add("bridge_ln", net_->bridgeLn)
      .add("itc_vision_proj", net_->itcVisionProj)
      .add("itc_text_proj", net_->itcTextProj)
      .add("itm_head", net_->itmHead)
      .add("query_cell_head", net_->queryCellHead)
      .add("itc_temp", net_->itcTemp);
  model::loadOrTrain(qformer, ctx.cacheDir, "mini_blip2_qformer", recipeOf("qformer", ctx), [&] {
    Batches batches(n, o.batch_size, mixSeed(seed, 20));
    auto negatives = at::detail::createCPUGenerator(mixSeed(seed, 21));
    namespace F = torch::nn::functional;
    const std::vector<torch::Tensor> trained = qformer.parameters();
    // qformer_threads slices of each batch run side by side, each calling BLAS on its own.
    SingleThreadedBlas oneBlasThread(o.qformer_threads > 1);
    const std::string label = "train mini_blip2 (c) Q-Former";
    optimizeSteps(qformer, o, ctx, label, "train/mini_blip2/qformer/loss", o.qformer_epochs * batches.perPass(),
                  o.qformer_lr, [&](std::int64_t step) {
      auto idx = batches.indices(step);
      auto feats = features.index_select(0, idx);
      auto tokens = pickCaptions(scenes["all_captions"], idx, batches.choice(step, 5));
      {
        torch::NoGradGuard noGrad;
        net_->itcTemp.clamp_(0.001, 0.5);
      }
      const auto b = idx.size(0);
      const Slicing slicing(b, o.qformer_threads);
      // ITG's text: the captions up to the longest (at least 2 tokens); its targets, tokens 1.. .
      const auto trimmed = [](const torch::Tensor& text) {
        return text.narrow(1, 0, std::max<std::int64_t>(2, text.ne(kPad).sum(1).max().item<std::int64_t>()));
      };
      const auto itgTargets = [](const torch::Tensor& text) {
        return static_cast<double>(text.narrow(1, 1, text.size(1) - 1).ne(kPad).sum().item<std::int64_t>());
      };
      const double allItgTargets = itgTargets(tokens);
      // Per slice: ITC embeddings, ITG (text decoded from the queries) and the per-cell loss.
      const auto forward = [&](std::int64_t s) {
        SliceForward out;
        const auto part = slicing.of(idx, s), sliceFeats = slicing.of(feats, s), sliceTokens = slicing.of(tokens, s);
        const auto sliceText = trimmed(sliceTokens);
        const auto t = sliceText.size(1);
        auto queryOut = queryOutputs(sliceFeats);
        out.image = itcImage(queryOut);
        out.text = itcText(bridgeText(sliceTokens));
        auto itgOut = itgLogits(bridgeJoint(sliceFeats, sliceText, true));
        out.loss = F::cross_entropy(itgOut.narrow(1, 0, t - 1).reshape({-1, itgOut.size(2)}),
                                    sliceText.narrow(1, 1, t - 1).reshape({-1}),
                                    F::CrossEntropyFuncOptions().ignore_index(kPad)) *
                   (itgTargets(sliceText) / allItgTargets);
        if (o.query_cell_weight > 0)
          out.loss = out.loss + o.query_cell_weight * cellLossShare(queryCellLogits(queryOut), part, idx);
        return out;
      };
      // ITC over the whole batch; then hard negatives for ITM, sampled by ITC similarity (never the
      // positive itself), for the batch's first m scenes (the batch is already a random draw).
      const auto m = std::max<std::int64_t>(1, std::llround(o.itm_fraction * static_cast<double>(b)));
      torch::Tensor itmFeats, itmText, itmTargets;
      const auto itcThenNegatives = [&](const torch::Tensor& image, const torch::Tensor& text) {
        auto sim = similarity(image, text) / net_->itcTemp;
        auto truth = torch::arange(b, torch::kInt64);
        auto itc = (F::cross_entropy(sim, truth) + F::cross_entropy(sim.t(), truth)) / 2;
        torch::NoGradGuard noGrad;
        auto eye = torch::eye(b, torch::kBool).narrow(0, 0, m);
        auto wI2t = torch::softmax(sim.detach().narrow(0, 0, m), 1).masked_fill(eye, 0) + 1e-9;
        auto wT2i = torch::softmax(sim.detach().t().narrow(0, 0, m), 1).masked_fill(eye, 0) + 1e-9;
        wI2t.masked_fill_(eye, 0);
        wT2i.masked_fill_(eye, 0);
        auto negText = torch::multinomial(wI2t, 1, false, negatives).squeeze(1);
        auto negImage = torch::multinomial(wT2i, 1, false, negatives).squeeze(1);
        auto posFeats = feats.narrow(0, 0, m);
        auto posText = tokens.narrow(0, 0, m);
        itmFeats = torch::cat({posFeats, posFeats, feats.index_select(0, negImage)});
        itmText = torch::cat({posText, tokens.index_select(0, negText), posText});
        itmTargets = torch::cat({torch::ones({m}, torch::kInt64), torch::zeros({2 * m}, torch::kInt64)});
        return itc;
      };
      // ITM's 3m pairs in slices of their own, each slice's share of the mean.
      const Slicing itmSlicing(3 * m, slicing.count);
      const auto itmShare = [&](std::int64_t s) {
        if (s >= itmSlicing.count) return torch::zeros({});
        return F::cross_entropy(itmLogits(itmSlicing.of(itmFeats, s), itmSlicing.of(itmText, s)),
                                itmSlicing.of(itmTargets, s)) *
               (static_cast<double>(itmSlicing.length(s)) / static_cast<double>(3 * m));
      };
      return slicedStep(slicing, trained, label, step, forward, itcThenNegatives, itmShare);
    });
  });
  if (!val.empty()) {
    torch::NoGradGuard noGrad;
    const auto valQueries = queryOutputs(valFeatures);
    auto sim = similarity(itcImage(valQueries), itcText(bridgeText(val["captions"])));
    auto truth = torch::arange(sim.size(0), torch::kInt64);
    const double i2t = 100.0 * sim.argmax(1).eq(truth).to(torch::kFloat64).mean().item<double>();
    const double t2i = 100.0 * sim.argmax(0).eq(truth).to(torch::kFloat64).mean().item<double>();
    logInfo("mini_blip2 (c): val ITC R@1 (one caption per scene) i2t {:.1f} t2i {:.1f}", i2t, t2i);
    if (o.query_cell_weight > 0) {
      const double acc = valCellClassAcc(queryCellLogits(valQueries));
      logInfo("mini_blip2 (c): val per-cell class accuracy from the queries {:.2f}%", acc);
      if (ctx.logMetric) ctx.logMetric("train/mini_blip2/val/query_cell_class_acc", acc, 0);
    }
    if (ctx.logMetric) {
      ctx.logMetric("train/mini_blip2/val/itc_i2t_r1", i2t, 0);
      ctx.logMetric("train/mini_blip2/val/itc_t2i_r1", t2i, 0);
    }
  }

  // (d) Generative: the Q-Former's queries as a soft prompt of the frozen LM.
  auto questions = readFields(*ctx.data->split(o.vqa_split), {"questions", "answers", "image_ids"});
  std::unordered_map<std::int64_t, std::int64_t> rowOfImage;
  {
    auto ids = scenes["image_ids"].contiguous();
    auto a = ids.accessor<std::int64_t, 1>();
    for (std::int64_t i = 0; i < ids.size(0); ++i) rowOfImage[a[i]] = i;
  }
  auto vqaRows = torch::empty({questions["image_ids"].size(0)}, torch::kInt64);
  {
    auto ids = questions["image_ids"].contiguous();
    auto a = ids.accessor<std::int64_t, 1>();
    for (std::int64_t i = 0; i < ids.size(0); ++i) {
      auto it = rowOfImage.find(a[i]);
      PL_CHECK(it != rowOfImage.end(), "mini_blip2: question {} of '{}' is about image {}, which is not in '{}'", i,
               o.vqa_split, a[i], o.train_split);
      vqaRows[i] = it->second;
    }
  }
  for (auto& p : net_->parameters()) p.set_requires_grad(false);
  Part generative;
  generative.add("queries", net_->queries)
      .add("bridge", net_->bridge)
      .add("bridge_ln", net_->bridgeLn)
      .add("bridge_context_pos", net_->bridgeContextPos)
      .add("llm_proj", net_->llmProj);
  for (auto& p : generative.parameters()) p.set_requires_grad(true);
  {
    Batches captionBatches(n, o.generative_batch_size, mixSeed(seed, 30));
    Batches vqaBatches(questions["image_ids"].size(0), o.generative_batch_size, mixSeed(seed, 31));
    std::int64_t captionStep = 0, vqaStep = 0;
    net_->language->eval();
    std::vector<torch::Tensor> trained = generative.parameters();
    // generative_threads slices of each batch run side by side, each calling BLAS on its own.
    SingleThreadedBlas oneBlasThread(o.generative_threads > 1);
    const std::string label = "train mini_blip2 (d) generative";
    optimizeSteps(generative, o, ctx, label, "train/mini_blip2/generative/loss", o.generative_steps, o.generative_lr,
                  [&](std::int64_t step) {
      // Deterministic interleaving: VQA on the steps where floor(step * fraction) advances.
      const bool vqa = std::floor(static_cast<double>(step + 1) * o.vqa_fraction) >
                       std::floor(static_cast<double>(step) * o.vqa_fraction);
      model::Batch text;
      torch::Tensor rows, captions;
      if (vqa) {
        auto idx = vqaBatches.indices(vqaStep);
        text.set("questions", questions["questions"].index_select(0, idx));
        text.set("answers", questions["answers"].index_select(0, idx));
        rows = vqaRows.index_select(0, idx);
        // The ITC text of a question's scene: the caption the current caption pass picks for it.
        captions = pickCaptions(scenes["all_captions"], rows, captionBatches.choice(captionStep, 5));
        ++vqaStep;
      } else {
        rows = captionBatches.indices(captionStep);
        captions = pickCaptions(scenes["all_captions"], rows, captionBatches.choice(captionStep, 5));
        text.set("captions", captions);
        ++captionStep;
      }
      auto [tokens, labels] = lmText(text);
      // The LM loss; then from the queries alone (as retrieval scores them) ITC, and the per-cell
      // loss through the frozen query_cell_head that keeps query i about cell i.
      const bool fromQueries = (o.generative_itc_weight > 0 || o.query_cell_weight > 0) && (!vqa || o.generative_itc_on_vqa);
      const bool itc = fromQueries && o.generative_itc_weight > 0;
      const bool cells = fromQueries && o.query_cell_weight > 0;
      const Slicing slicing(rows.size(0), o.generative_threads);
      const double targets = static_cast<double>(targetCount(labels));
      const auto forward = [&](std::int64_t s) {
        SliceForward out;
        const auto part = slicing.of(rows, s), sliceTokens = slicing.of(tokens, s), sliceLabels = slicing.of(labels, s);
        auto feats = features.index_select(0, part);
        auto soft = softPrompt(feats, promptTokens(sliceTokens, sliceLabels));
        out.loss = lossFromState(net_->language->forward(languageInputs(soft, sliceTokens, sliceLabels))) *
                   (static_cast<double>(targetCount(sliceLabels)) / targets);
        if (!fromQueries) return out;
        auto queryOut = queryOutputs(feats);
        if (itc) {
          out.image = itcImage(queryOut);
          out.text = itcText(bridgeText(slicing.of(captions, s)));
        }
        if (cells) out.loss = out.loss + o.query_cell_weight * cellLossShare(queryCellLogits(queryOut), part, rows);
        return out;
      };
      const auto itcLoss = [&](const torch::Tensor& image, const torch::Tensor& text) {
        namespace F = torch::nn::functional;
        auto sim = similarity(image, text) / net_->itcTemp;
        auto truth = torch::arange(sim.size(0), torch::kInt64);
        return o.generative_itc_weight * (F::cross_entropy(sim, truth) + F::cross_entropy(sim.t(), truth)) / 2;
      };
      return slicedStep(slicing, trained, label, step, forward, itcLoss, nullptr);
    });
  }
  for (auto& p : net_->parameters()) p.set_requires_grad(true);
  if (!val.empty()) {
    torch::NoGradGuard noGrad;
    const std::int64_t k = std::min<std::int64_t>(256, valFeatures.size(0));
    auto [tokens, labels] = lmText(model::Batch().set("captions", val["captions"].narrow(0, 0, k)));
    auto soft = softPrompt(valFeatures.narrow(0, 0, k), promptTokens(tokens, labels));
    const double loss = lossFromState(net_->language->forward(languageInputs(soft, tokens, labels))).item<double>();
    logInfo("mini_blip2 (d): val caption loss {:.4f}", loss);
    if (ctx.logMetric) ctx.logMetric("train/mini_blip2/val/caption_loss", loss, 0);
  }
}

}  // namespace prunelab::models
