// mini_xvlm's staged training recipe and its distillation steps; see MiniXvlm.h.
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <unordered_map>

#include "framework/config/Value.h"
#include "framework/core/Log.h"
#include "framework/core/Options.h"
#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"
#include "framework/model/WeightCache.h"
#include "models/mini_xvlm/MiniXvlm.h"
#include "models/transformer/Recipe.h"

namespace prunelab::models {

namespace {

namespace F = torch::nn::functional;

constexpr std::int64_t kPad = 0, kMask = 5, kFirstWord = 6;
constexpr std::int64_t kEmptyCell = 10;  // the class target of an empty cell
constexpr std::int64_t kCellClasses = kEmptyCell + 1;  // the 10 item classes and empty

// Per-cell class targets from a split's "labels" (-1 = empty cell).
torch::Tensor cellClasses(const torch::Tensor& labels) {
  return labels.where(labels.ge(0), torch::full({}, kEmptyCell, torch::kInt64));
}

constexpr std::int64_t kIgnore = -100;

/// A module that names parts of a network (shared, not copied) so that one stage can be cached alone.
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
  Part& add(const std::string& name, const std::shared_ptr<torch::nn::Module>& m) {
    register_module(name, m);
    return *this;
  }
};

// Everything but the VQA head: what pretraining and distillation train.
std::shared_ptr<Part> trunkOf(MiniXvlmNet& net) {
  auto p = std::make_shared<Part>();
  for (const auto& item : net->named_children())
    if (item.key().rfind("vqa_", 0) != 0) p->add(item.key(), item.value());
  for (const auto& item : net->named_parameters(/*recurse=*/false)) p->add(item.key(), item.value());
  return p;
}

// Named fields of every example of `split`, read in chunks (only the fields asked for are kept).
std::map<std::string, torch::Tensor> readFields(const data::Dataset& split, const std::vector<std::string>& fields) {
  data::BatchSampler sampler(split, 1024);
  std::map<std::string, std::vector<torch::Tensor>> parts;
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
    auto batch = sampler.batch(b);
    for (const auto& f : fields) {
      PL_CHECK(batch.has(f), "mini_xvlm: the training split has no field '{}'", f);
      parts[f].push_back(batch.at(f));
    }
  }
  std::map<std::string, torch::Tensor> out;
  for (auto& [f, p] : parts) out[f] = torch::cat(p);
  return out;
}

bool decays(const std::string& name, const torch::Tensor& t) {
  // Linear weights only: not biases, norms, embeddings, positions or the temperature.
  return t.dim() == 2 && name.find("tok_embed") == std::string::npos && name.find("_pos") == std::string::npos;
}

/// The optimisation loop of every stage: AdamW, linear warmup then cosine decay, gradient
/// clipping, a progress line and the mean loss logged every log_every steps as `metric`.
void optimize(torch::nn::Module& part, const MiniXvlmOptions& o, const model::ModelContext& ctx,
              const std::string& label, const std::string& metric, std::int64_t steps, double lr,
              const std::function<torch::Tensor(std::int64_t)>& lossAt) {
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
    auto loss = lossAt(step);
    const double value = loss.item<double>();
    PL_CHECK(std::isfinite(value), "mini_xvlm: {} diverged at step {} (loss {}): lower the learning rate", label,
             step, value);
    loss.backward();
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

// A seeded permutation stream: batch `i` of pass `i / perPass` over n examples.
class Batches {
 public:
  Batches(std::int64_t n, std::int64_t batch, std::uint64_t seed) : n_(n), batch_(std::min(batch, n)), seed_(seed) {
    PL_CHECK(n > 0, "mini_xvlm: a training split is empty");
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
  // A seeded per-pass choice among `k` options per example (which of the 5 captions).
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

// One caption per scene: all[rows[i], which[i]] (which indexed like rows).
torch::Tensor pickCaptions(const torch::Tensor& all, const torch::Tensor& rows, const torch::Tensor& which) {
  return all.index_select(0, rows).gather(1, which.view({-1, 1, 1}).expand({-1, 1, all.size(2)})).squeeze(1);
}

torch::Tensor trimPadding(const torch::Tensor& tokens) {
  const auto used = tokens.ne(kPad).any(0).nonzero();
  const std::int64_t length = used.numel() > 0 ? used.max().item<std::int64_t>() + 1 : 0;
  return tokens.narrow(1, 0, std::min(tokens.size(1), std::max<std::int64_t>(length, 1)));
}

// BERT's masking of caption words: each word (not a special token) is picked with probability p;
// a picked word becomes [MASK] (80%), a random word (10%) or stays (10%). Labels: the original id
// where picked, -100 elsewhere. At least one word of the batch is picked.
std::pair<torch::Tensor, torch::Tensor> maskWords(const torch::Tensor& tokens, double p, std::int64_t vocab,
                                                  torch::Generator& gen) {
  const auto words = tokens.ge(kFirstWord);
  auto picked = torch::rand(tokens.sizes(), gen).lt(p).logical_and(words);
  if (!picked.any().item<bool>()) {
    const auto first = words.reshape({-1}).nonzero();
    PL_CHECK(first.numel() > 0, "mini_xvlm: a caption batch without a single word to mask");
    picked.view({-1})[first[0][0].item<std::int64_t>()] = true;
  }
  const auto choice = torch::rand(tokens.sizes(), gen);
  const auto random = torch::randint(kFirstWord, vocab, tokens.sizes(), gen, torch::kInt64);
  auto masked = tokens.where(picked.logical_not(), torch::full({}, kMask, torch::kInt64));
  masked = masked.where(picked.logical_not().logical_or(choice.lt(0.8)).logical_or(choice.ge(0.9)), random);
  masked = masked.where(picked.logical_not().logical_or(choice.lt(0.9)), tokens);
  const auto labels = tokens.where(picked, torch::full({}, kIgnore, torch::kInt64));
  return {masked, labels};
}

// ALBEF's hard negatives: for each image a text and for each text an image, drawn in proportion to
// softmax(ITC similarity), never the positive itself.
std::pair<torch::Tensor, torch::Tensor> sampleNegatives(const torch::Tensor& sim, torch::Generator& gen) {
  torch::NoGradGuard noGrad;
  const auto b = sim.size(0);
  const auto eye = torch::eye(b, torch::kBool);
  auto wI2t = torch::softmax(sim.detach(), 1).masked_fill(eye, 0) + 1e-9;
  auto wT2i = torch::softmax(sim.detach().t(), 1).masked_fill(eye, 0) + 1e-9;
  wI2t.masked_fill_(eye, 0);
  wT2i.masked_fill_(eye, 0);
  return {torch::multinomial(wI2t, 1, false, gen).squeeze(1), torch::multinomial(wT2i, 1, false, gen).squeeze(1)};
}

/// What one pretraining-style forward gives (ITC, ITM on hard negatives, optionally MLM and the
/// grounding logits).
struct PairForward {
  torch::Tensor sim;                // [B, B] ITC logits (similarities / temperature)
  torch::Tensor itm, itmTargets;    // [2B, 2] and [2B]: positives, then one negative per scene
  torch::Tensor negText, negImage;  // [B] the negatives used
  torch::Tensor mlm, mlmTargets;    // [M, V] logits at the masked words and their ids (MLM only)
  torch::Tensor cells;              // [B, G*G, 15] grounding logits (grid > 0 only)
};

struct PairInputs {
  torch::Tensor images, tokens;           // [B,1,S,S], trimmed captions [B,T]
  torch::Tensor maskedTokens, mlmLabels;  // MLM inputs (undefined: no MLM)
  std::int64_t grid = 0;                  // > 0: grounding logits
};

// The forward of pretraining, general distillation and retrieval fine-tuning on one network.
// Negatives: the given ones, or sampled from this network's ITC similarities with `gen`. With
// `rec`, records "vision", "text", "cross" (ITM pairs) and "cross_mlm".
PairForward pairForward(MiniXvlmNet& net, const MiniXvlmOptions& o, const PairInputs& in, torch::Tensor negText,
                        torch::Tensor negImage, torch::Generator* gen, model::Recordings* rec) {
  auto slot = [&](const char* name) -> model::StackRecording* {
    if (rec == nullptr) return nullptr;
    auto& r = (*rec)[name];
    // EfficientVLM skips the vision tower's last hidden state; a cross encoder's input is the text
    // encoder's output, compared there already.
    r.compareOutput = std::string(name) != "vision";
    r.compareInput = std::string(name).rfind("cross", 0) != 0;
    return &r;
  };
  PairForward out;
  const auto vt = MiniXvlm::visionTokens(net, o, in.images, slot("vision"));
  const auto th = MiniXvlm::textHidden(net, o, in.tokens, slot("text"));
  out.sim = torch::matmul(MiniXvlm::imageEmbeds(net, vt), MiniXvlm::textEmbeds(net, th).t()) /
            MiniXvlm::itcTemperature(net);
  if (!negText.defined()) {
    PL_CHECK(gen != nullptr, "mini_xvlm: ITM negatives need a generator");
    std::tie(negText, negImage) = sampleNegatives(out.sim, *gen);
  }
  out.negText = negText;
  out.negImage = negImage;
  // One negative per scene (ALBEF draws two): even rows pair the image with a hard negative text,
  // odd rows the text with a hard negative image; the cross encoder is the dearest part of a step.
  const auto b = in.tokens.size(0);
  const auto rows = torch::arange(b, torch::kInt64);
  const auto even = rows.remainder(2).eq(0);
  const auto textIdx = torch::cat({rows, torch::where(even, negText, rows)});
  const auto imageIdx = torch::cat({rows, torch::where(even, rows, negImage)});
  const auto crossOut = MiniXvlm::crossOutput(net, th.index_select(0, textIdx), in.tokens.index_select(0, textIdx),
                                              vt.index_select(0, imageIdx), slot("cross"));
  out.itm = MiniXvlm::itmLogits(net, crossOut);
  out.itmTargets = torch::cat({torch::ones({b}, torch::kInt64), torch::zeros({b}, torch::kInt64)});
  if (in.maskedTokens.defined()) {
    // MLM on the first half of the scenes (cost), each with its own image.
    const auto m = std::max<std::int64_t>(1, b / 2);
    const auto masked = trimPadding(in.maskedTokens.narrow(0, 0, m));
    const auto labels = in.mlmLabels.narrow(0, 0, m).narrow(1, 0, masked.size(1));
    const auto mth = MiniXvlm::textHidden(net, o, masked);
    const auto mout = MiniXvlm::crossOutput(net, mth, masked, vt.narrow(0, 0, m), slot("cross_mlm"));
    const auto where = labels.ne(kIgnore);
    out.mlm = MiniXvlm::mlmLogits(net, mout).index({where});
    out.mlmTargets = labels.index({where});
  }
  if (in.grid > 0) out.cells = MiniXvlm::cellLogits(net, o, vt, in.grid);
  return out;
}

torch::Tensor itcLoss(const torch::Tensor& sim) {
  const auto targets = torch::arange(sim.size(0), torch::kInt64);
  return (F::cross_entropy(sim, targets) + F::cross_entropy(sim.t(), targets)) / 2;
}

// Per-cell class (or empty), shade and size from grounding logits.
torch::Tensor groundingLoss(const torch::Tensor& cells, const torch::Tensor& classes, const torch::Tensor& shades,
                            const torch::Tensor& sizes) {
  auto flat = [&](std::int64_t from, std::int64_t k) { return cells.narrow(2, from, k).reshape({-1, k}); };
  const auto ignore = F::CrossEntropyFuncOptions().ignore_index(-1);
  return F::cross_entropy(flat(0, kCellClasses), classes.reshape({-1})) +
         F::cross_entropy(flat(kCellClasses, 2), shades.reshape({-1}), ignore) +
         F::cross_entropy(flat(kCellClasses + 2, 2), sizes.reshape({-1}), ignore);
}

// ITC R@1 (one caption per scene, both directions) on up to 1000 scenes, without gradients.
std::pair<double, double> itcRecall(MiniXvlmNet& net, const MiniXvlmOptions& o, const torch::Tensor& images,
                                    const torch::Tensor& captions) {
  torch::NoGradGuard noGrad;
  net->eval();
  const std::int64_t n = std::min<std::int64_t>(1000, images.size(0));
  std::vector<torch::Tensor> ie, te;
  for (std::int64_t b = 0; b < n; b += 250) {
    const auto k = std::min<std::int64_t>(250, n - b);
    ie.push_back(MiniXvlm::imageEmbeds(net, MiniXvlm::visionTokens(net, o, images.narrow(0, b, k))));
    te.push_back(MiniXvlm::textEmbeds(net, MiniXvlm::textHidden(net, o, trimPadding(captions.narrow(0, b, k)))));
  }
  const auto sim = torch::matmul(torch::cat(ie), torch::cat(te).t());
  const auto truth = torch::arange(n, torch::kInt64);
  return {100.0 * sim.argmax(1).eq(truth).to(torch::kFloat64).mean().item<double>(),
          100.0 * sim.argmax(0).eq(truth).to(torch::kFloat64).mean().item<double>()};
}

// Share (percent) of the cells of up to 1000 scenes whose class (or empty) the grounding head gets
// right from the vision tokens, without gradients: how well the image encoder tells the items apart.
double cellClassAccuracy(MiniXvlmNet& net, const MiniXvlmOptions& o, const torch::Tensor& images,
                         const torch::Tensor& classes, std::int64_t grid) {
  torch::NoGradGuard noGrad;
  net->eval();
  const std::int64_t n = std::min<std::int64_t>(1000, images.size(0));
  double right = 0;
  for (std::int64_t b = 0; b < n; b += 250) {
    const auto k = std::min<std::int64_t>(250, n - b);
    const auto cells = MiniXvlm::cellLogits(net, o, MiniXvlm::visionTokens(net, o, images.narrow(0, b, k)), grid);
    right += cells.narrow(2, 0, kCellClasses).argmax(2).eq(classes.narrow(0, b, k)).sum().item<double>();
  }
  return 100.0 * right / static_cast<double>(n * classes.size(1));
}

// Row of each question's scene in the scene split.
torch::Tensor sceneRows(const torch::Tensor& sceneIds, const torch::Tensor& questionImageIds, const std::string& what) {
  std::unordered_map<std::int64_t, std::int64_t> rowOf;
  const auto ids = sceneIds.contiguous();
  for (std::int64_t i = 0; i < ids.size(0); ++i) rowOf[ids[i].item<std::int64_t>()] = i;
  const auto q = questionImageIds.contiguous();
  auto rows = torch::empty({q.size(0)}, torch::kInt64);
  auto qa = q.accessor<std::int64_t, 1>();
  auto ra = rows.accessor<std::int64_t, 1>();
  for (std::int64_t i = 0; i < q.size(0); ++i) {
    auto it = rowOf.find(qa[i]);
    PL_CHECK(it != rowOf.end(), "mini_xvlm: question {} is about image {}, which is not in {}", i, qa[i], what);
    ra[i] = it->second;
  }
  return rows;
}

// General distillation's KD weights (spec §2.4, GeneralDistill.py): text attn + hid, image
// attn + 0.1·hid, cross attn + hid for the ITM pairs and for MLM.
const std::map<std::string, model::StackKdWeights> kGeneralDistillKd = {
    {"vision", {0.1, 1.0}}, {"text", {1.0, 1.0}}, {"cross", {1.0, 1.0}}, {"cross_mlm", {1.0, 1.0}}};

}  // namespace

std::string MiniXvlm::recipeOf(const std::string& stage, const std::string& variant,
                               const model::ModelContext& ctx) const {
  // Each stage's recipe holds the options it reads plus the earlier stages' recipe, so changing a
  // later stage's options does not retrain the earlier ones (log_every/val_split retrain none).
  static const std::map<std::string, std::vector<std::string>> keys = {
      {"pretrain",
       {"image_size", "patch_size", "vision_dim", "vision_depth", "vision_heads", "vision_mlp_dim", "vocab_size",
        "max_text_len", "text_dim", "text_depth", "cross_depth", "text_heads", "text_mlp_dim", "embed_dim",
        "train_split", "pretrain_epochs", "pretrain_lr", "mlm_probability", "grounding_weight", "batch_size",
        "warmup_steps", "weight_decay", "grad_clip"}},
      {"student", {"distill_epochs", "distill_lr"}},
      {"retrieval", {"retrieval_epochs", "retrieval_lr"}},
      {"vqa", {"vqa_split", "vqa_steps", "vqa_batch_size", "vqa_lr"}}};
  const auto all = config::toJson(dumpOptions(options_));
  auto part = [&](const std::string& s) {
    nlohmann::ordered_json j;
    for (const auto& k : keys.at(s)) j[k] = all.at(k);
    return j.dump();
  };
  std::string recipe =
      fmt::format("mini_xvlm-v2|{}|{}|pretrain:{}", ctx.data->fingerprint(), ctx.seed, part("pretrain"));
  if (stage == "pretrain") return recipe;
  if (variant == "student") recipe += "|student:" + part("student");
  if (stage == "student") return recipe;
  if (options_.task != "pretrain") recipe += "|" + options_.task + ":" + part(options_.task);
  return recipe + "|final:" + variant + ":" + options_.task;
}

void MiniXvlm::trainStages(const model::ModelContext& ctx) {
  const auto& o = options_;
  const auto seed = static_cast<std::uint64_t>(ctx.seed);
  const bool student = o.variant == "student";
  const std::string who = o.variant;
  auto scenes = readFields(*ctx.data->split(o.train_split),
                           {"images", "image_ids", "labels", "shades", "sizes", "all_captions"});
  const std::int64_t n = scenes["images"].size(0);
  const auto grid = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(scenes["labels"].size(1)))));
  PL_CHECK(grid * grid == scenes["labels"].size(1), "mini_xvlm: 'labels' has {} cells, not a square grid",
           scenes["labels"].size(1));
  PL_CHECK(scenes["all_captions"].max().item<std::int64_t>() < o.vocab_size,
           "mini_xvlm: the captions hold token id {} but vocab_size is {}: set model.vocab_size to the tokenizer's size",
           scenes["all_captions"].max().item<std::int64_t>(), o.vocab_size);
  const auto classes = cellClasses(scenes["labels"]);
  std::map<std::string, torch::Tensor> val;
  if (!o.val_split.empty()) {
    val = readFields(*ctx.data->split(o.val_split), {"images", "captions", "labels"});
    val["classes"] = cellClasses(val["labels"]);
  }
  auto logRecall = [&](MiniXvlmNet& net, const std::string& network, const std::string& stage) {
    if (val.empty()) return;
    const auto [i2t, t2i] = itcRecall(net, o, val["images"], val["captions"]);
    const double cells = cellClassAccuracy(net, o, val["images"], val["classes"], grid);
    logInfo("mini_xvlm ({} {}): val ITC R@1 (one caption per scene) i2t {:.1f} t2i {:.1f}, cell class accuracy {:.1f}%",
            network, stage, i2t, t2i, cells);
    if (ctx.logMetric) {
      ctx.logMetric("train/mini_xvlm/" + network + "/" + stage + "/val_itc_i2t_r1", i2t, 0);
      ctx.logMetric("train/mini_xvlm/" + network + "/" + stage + "/val_itc_t2i_r1", t2i, 0);
      ctx.logMetric("train/mini_xvlm/" + network + "/" + stage + "/val_cell_class_acc", cells, 0);
    }
  };
  // The inputs of pretraining-style step `step`: its scenes, a caption each, and the MLM masking.
  auto pairInputs = [&](Batches& batches, std::int64_t step, torch::Generator& gen, bool mlm) {
    const auto idx = batches.indices(step);
    PairInputs in;
    in.images = scenes["images"].index_select(0, idx);
    in.tokens = trimPadding(pickCaptions(scenes["all_captions"], idx, batches.choice(step, 5).index_select(0, idx)));
    if (mlm) {
      // Only the first half is used (pairForward); masking it alone keeps at least one word there.
      const auto m = std::max<std::int64_t>(1, in.tokens.size(0) / 2);
      std::tie(in.maskedTokens, in.mlmLabels) =
          maskWords(in.tokens.narrow(0, 0, m), o.mlm_probability, o.vocab_size, gen);
    }
    in.grid = o.grounding_weight > 0 ? grid : 0;
    return std::make_pair(in, idx);
  };
  auto pretrainLoss = [&](const PairForward& f, const torch::Tensor& idx) {
    auto loss = itcLoss(f.sim) + F::cross_entropy(f.itm, f.itmTargets) + F::cross_entropy(f.mlm, f.mlmTargets);
    if (f.cells.defined())
      loss = loss + o.grounding_weight * groundingLoss(f.cells, classes.index_select(0, idx),
                                                       scenes["shades"].index_select(0, idx),
                                                       scenes["sizes"].index_select(0, idx));
    return loss;
  };

  // 1. Teacher pretraining: ITC + ITM + MLM + grounding (the student's teacher is a separate network).
  MiniXvlmNet teacher = student ? MiniXvlmNet(o, o.vision_depth, o.text_depth, o.cross_depth, 0, seed) : net_;
  {
    auto trunk = trunkOf(teacher);
    model::loadOrTrain(*trunk, ctx.cacheDir, "mini_xvlm_pretrain", recipeOf("pretrain", "teacher", ctx), [&] {
      Batches batches(n, o.batch_size, mixSeed(seed, 10));
      auto gen = at::detail::createCPUGenerator(mixSeed(seed, 11));
      optimize(*trunk, o, ctx, "train mini_xvlm pretraining", "train/mini_xvlm/teacher/pretrain/loss",
               o.pretrain_epochs * batches.perPass(), o.pretrain_lr, [&](std::int64_t step) {
                 const auto [in, idx] = pairInputs(batches, step, gen, true);
                 return pretrainLoss(pairForward(teacher, o, in, {}, {}, &gen, nullptr), idx);
               });
      logRecall(teacher, "teacher", "pretrain");
    });
  }

  // 2. Student: the teacher's even blocks, then general distillation (spec §2.4).
  if (student) {
    initFromTeacher(teacher);
    teacher->eval();
    for (auto& p : teacher->parameters()) p.set_requires_grad(false);
    auto trunk = trunkOf(net_);
    model::loadOrTrain(*trunk, ctx.cacheDir, "mini_xvlm_student", recipeOf("student", "student", ctx), [&] {
      Batches batches(n, o.batch_size, mixSeed(seed, 20));
      auto gen = at::detail::createCPUGenerator(mixSeed(seed, 21));
      optimize(*trunk, o, ctx, "train mini_xvlm general distillation", "train/mini_xvlm/student/distill/loss",
               o.distill_epochs * batches.perPass(), o.distill_lr, [&](std::int64_t step) {
                 const auto [in, idx] = pairInputs(batches, step, gen, true);
                 model::Recordings s, t;
                 const auto fs = pairForward(net_, o, in, {}, {}, &gen, &s);
                 PairForward ft;
                 {
                   torch::NoGradGuard noGrad;
                   ft = pairForward(teacher, o, in, fs.negText, fs.negImage, nullptr, &t);
                 }
                 const auto kd = model::logitKd(fs.itm, ft.itm) + model::logitKd(fs.mlm, ft.mlm) +
                                 model::stacksKd(s, t, kGeneralDistillKd);
                 return 0.6 * pretrainLoss(fs, idx) + 0.4 * kd;
               });
      logRecall(net_, who, "distill");
    });
  }

  // 3. Task fine-tuning of every weight with the task loss.
  if (o.task == "retrieval") {
    Batches batches(n, o.batch_size, mixSeed(seed, 30));
    auto gen = at::detail::createCPUGenerator(mixSeed(seed, 31));
    optimize(*net_, o, ctx, "train mini_xvlm retrieval", "train/mini_xvlm/" + who + "/retrieval/loss",
             o.retrieval_epochs * batches.perPass(), o.retrieval_lr, [&](std::int64_t step) {
               auto [in, idx] = pairInputs(batches, step, gen, false);
               in.grid = 0;
               const auto f = pairForward(net_, o, in, {}, {}, &gen, nullptr);
               return itcLoss(f.sim) + F::cross_entropy(f.itm, f.itmTargets);
             });
    logRecall(net_, who, "retrieval");
  } else if (o.task == "vqa") {
    auto questions = readFields(*ctx.data->split(o.vqa_split), {"questions", "answers", "image_ids"});
    const auto rows = sceneRows(scenes["image_ids"], questions["image_ids"], "'" + o.train_split + "'");
    const auto labels = answerLabels(questions["answers"]);
    Batches batches(rows.size(0), o.vqa_batch_size, mixSeed(seed, 40));
    optimize(*net_, o, ctx, "train mini_xvlm vqa", "train/mini_xvlm/" + who + "/vqa/loss", o.vqa_steps, o.vqa_lr,
             [&](std::int64_t step) {
               const auto idx = batches.indices(step);
               const auto tokens = vqaText(questions["questions"].index_select(0, idx));
               const auto vt = visionTokens(net_, o, scenes["images"].index_select(0, rows.index_select(0, idx)));
               const auto out = crossOutput(net_, textHidden(net_, o, tokens), tokens, vt);
               return F::cross_entropy(vqaLogits(net_, out), labels.index_select(0, idx),
                                       F::CrossEntropyFuncOptions().ignore_index(kIgnore));
             });
    if (!o.val_split.empty()) {
      torch::NoGradGuard noGrad;
      const auto split = ctx.data->split("vqa_" + o.val_split);
      data::BatchSampler sampler(*split, 500, false, 0, 2000);
      double right = 0, total = 0;
      for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
        const auto batch = split->get(sampler.indices(b));
        const auto tokens = vqaText(batch.at("questions"));
        const auto out = crossOutput(net_, textHidden(net_, o, tokens), tokens,
                                     visionTokens(net_, o, batch.at("images")));
        right += vqaLogits(net_, out).argmax(1).eq(answerLabels(batch.at("answers"))).sum().item<double>();
        total += static_cast<double>(tokens.size(0));
      }
      const double acc = 100.0 * right / std::max(1.0, total);
      logInfo("mini_xvlm ({} vqa): val answer accuracy (multiple-choice answer) {:.2f}%", who, acc);
      if (ctx.logMetric) ctx.logMetric("train/mini_xvlm/" + who + "/vqa/val_answer_acc", acc, 0);
    }
  }
}

model::DistillStep MiniXvlm::distillStep(const model::Batch& batch, torch::Generator& generator, bool withTeacher) {
  checkBuilt();
  PL_CHECK(!withTeacher || teacher_ != nullptr, "mini_xvlm: distillStep needs the teacher: call prepareTeacher() first");
  PL_CHECK(options_.task == "vqa" || options_.task == "retrieval",
           "mini_xvlm: task KD is defined for task=vqa and task=retrieval, not '{}'", options_.task);
  model::DistillStep out;
  if (options_.task == "retrieval") {
    PairInputs in;
    in.images = batch.at("images");
    if (batch.has("all_captions")) {
      const auto& all = batch.at("all_captions");
      const auto which = torch::randint(all.size(1), {all.size(0)}, generator, torch::kInt64);
      in.tokens = trimPadding(pickCaptions(all, torch::arange(all.size(0), torch::kInt64), which));
    } else {
      in.tokens = trimPadding(batch.at("captions"));
    }
    const auto fs = pairForward(net_, options_, in, {}, {}, &generator, withTeacher ? &out.student : nullptr);
    if (withTeacher) {
      torch::NoGradGuard noGrad;
      const auto ft = pairForward(teacher_->net_, options_, in, fs.negText, fs.negImage, nullptr, &out.teacher);
      out.teacherLogits = ft.itm;
    }
    out.taskLoss = itcLoss(fs.sim) + F::cross_entropy(fs.itm, fs.itmTargets);
    out.studentLogits = fs.itm;
    return out;
  }
  const auto tokens = vqaText(batch.at("questions"));
  const auto labels = answerLabels(batch.at("answers"));
  PL_CHECK(labels.ne(kIgnore).any().item<bool>(), "mini_xvlm: no answer of this batch is in the answer vocabulary");
  auto forward = [&](MiniXvlmNet& net, model::Recordings* rec) {
    auto slot = [&](const char* name) { return rec ? &(*rec)[name] : nullptr; };
    if (rec) {
      (*rec)["vision"].compareOutput = false;
      (*rec)["cross"].compareInput = false;
    }
    const auto vt = visionTokens(net, options_, batch.at("images"), slot("vision"));
    const auto th = textHidden(net, options_, tokens, slot("text"));
    return vqaLogits(net, crossOutput(net, th, tokens, vt, slot("cross")));
  };
  out.studentLogits = forward(net_, withTeacher ? &out.student : nullptr);
  if (withTeacher) {
    torch::NoGradGuard noGrad;
    out.teacherLogits = forward(teacher_->net_, &out.teacher);
  }
  out.taskLoss = F::cross_entropy(out.studentLogits, labels, F::CrossEntropyFuncOptions().ignore_index(kIgnore));
  return out;
}

}  // namespace prunelab::models
