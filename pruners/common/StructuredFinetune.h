#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "framework/core/Error.h"
#include "framework/model/Distillation.h"
#include "framework/prune/Pruner.h"
#include "framework/prune/StructuredModel.h"

namespace prunelab::pruners {

// The pieces the structured pruners share (modal_adaptive, structured_magnitude): EfficientVLM's
// task-KD fine-tuning loop and the bookkeeping of a structured removal. They depend on the
// framework's model::DistilledModel and prune::StructuredModel only, never on a model plugin.

/// EfficientVLM's task KD (spec-ecoflap-efficientvlm.md §2.4): L = kd·L_kd + task·L_task with
/// L_kd = logit·KL + Σ_stack (hidden·hiddenKd + attention·attentionKd). The named formulas:
///  - "retrieval" (Eff_Retrieval.py): L = 0.5·(L_kd + L_itc + L_itm), L_kd = KL_itm + 0.33·(L_text +
///    L_img + L_cross), L_text = hid + attn, L_img = 0.2·hid + attn, L_cross = 0.5·(hid + self +
///    cross) on the ITM positive and negative pairs;
///  - "vqa" (Eff_VQA.py): L = 0.4·L_kd + 0.6·L_task, L_kd = KL_answers + text(attn + hid) +
///    image(attn + 0.2·hid) + 0.5·cross(hid + self + cross) (mini_xvlm classifies answers, so the
///    reference's answer-decoder terms have no counterpart; the answer-logit KL stands for them);
///  - "none": L = L_task, no teacher (the ablations without distillation).
struct TaskKdFormula {
  double kd = 0.0;
  double task = 1.0;
  double logit = 0.0;
  std::map<std::string, model::StackKdWeights> stacks;
  /// Whether the formula needs a teacher.
  bool needsTeacher() const { return kd > 0; }
};

/// The formula called `name` ("retrieval", "vqa", "none"); an error naming the choices otherwise.
TaskKdFormula taskKdFormula(const std::string& name);

/// How the structured pruners fine-tune: steps, batches, AdamW with a linear schedule (the
/// reference's: warmup then linear decay to 0), and which KD formula.
struct FinetuneOptions {
  std::int64_t steps = 600;
  std::int64_t batch_size = 64;
  double lr = 2e-4;
  double warmup = 0.1;
  double weight_decay = 0.01;
  double grad_clip = 1.0;
  std::string kd = "auto";
  std::string split;
  std::int64_t log_every = 25;
  std::int64_t seed = -1;

  template <class V>
  void visit(V& v) {
    v(steps, "steps", "fine-tuning steps (0: none, e.g. a one-shot baseline)");
    v(batch_size, "batch_size", "examples per step");
    v(lr, "lr", "peak AdamW learning rate of the model's weights (reference: 3e-5 retrieval, 5e-5 VQA, at BERT scale)");
    v(warmup, "warmup", "share of the steps of linear warmup, then linear decay to 0 (reference: 0.1)");
    v(weight_decay, "weight_decay", "AdamW weight decay of the 2-D weights (reference: 0.01)");
    v(grad_clip, "grad_clip", "gradient norm clip of the model's weights (0: none)");
    v(kd, "kd",
      "task KD formula: auto (the model's task), vqa, retrieval, or none (task loss only, no teacher)");
    v(split, "split", "data split fine-tuned on ('' = the model's own: vqa_train for VQA, train for retrieval)");
    v(log_every, "log_every", "steps per logged mean loss");
    v(seed, "seed",
      "seed of the fine-tuning (batch order, ITM negatives, gate initialisation and samples); -1 = the run's seed. "
      "The run's seed also keys the dense model's training, so vary this one to repeat the pruning on the same "
      "dense model");
  }
  /// Throws on out-of-range values, with the fix.
  void validate() const;
  /// The seed the fine-tuning uses: `seed`, or the run's seed when it is -1.
  std::uint64_t seedFor(std::int64_t runSeed) const { return static_cast<std::uint64_t>(seed >= 0 ? seed : runSeed); }
};

/// What the structured pruners put into the loop around each step.
struct FinetuneHooks {
  /// Before the forward of step t: e.g. sample and install gates. Returns a term added to the loss
  /// (the Lagrangian), or an undefined tensor.
  std::function<torch::Tensor(std::int64_t step)> beforeForward;
  /// After backward, before the optimizer steps: e.g. reverse λ's gradients.
  std::function<void(std::int64_t step)> afterBackward;
  /// After the model's optimizer step: e.g. the gates' optimizers and clamping.
  std::function<void(std::int64_t step)> afterStep;
  /// A progress note for step t (e.g. the expected sparsity).
  std::function<std::string(std::int64_t step)> note;
};

/// Fine-tunes ctx.model (a model::DistilledModel) for o.steps steps on o.split with the KD
/// formula, calling the hooks; stage "finetune". The teacher is prepared first when the formula
/// needs one and released at the end. Metrics `<prefix>/loss`, `<prefix>/task_loss`,
/// `<prefix>/kd_loss` (means over log_every steps) and `<prefix>/final_loss`. Deterministic from
/// o.seedFor(ctx.seed).
std::vector<store::MetricRecord> finetuneWithKd(prune::PruneContext& ctx, const FinetuneOptions& o,
                                                const FinetuneHooks& hooks, const std::string& prefix,
                                                const std::string& version);

/// The model as a StructuredModel and DistilledModel, or an error naming what it lacks (`who`
/// names the pruner).
prune::StructuredModel& requireStructured(model::Model& model, const std::string& who);
model::DistilledModel& requireDistilled(model::Model& model, const std::string& who);
/// What a structured pruner checks before the model is prepared (Pruner::checkModel): that it is a
/// StructuredModel and, when it fine-tunes (`finetunes`), a DistilledModel fine-tuned for vqa or
/// retrieval; an error naming the fix otherwise.
void checkStructuredModel(const model::Model& model, const std::string& who, bool finetunes);

/// One layer record per linear of `model` for binary keep values `keep` over its gated blocks
/// `blocks` (all of StructuredModel::gatedBlocks(), undefined = keep all), taken before the
/// removal: numel = the weight count now, achieved sparsity = the share of it the removal takes
/// (block linears under the canonical names <stack>.blocks.<i>.attn.* / cross.* / mlp.*: the kept
/// share of that module's heads or neurons; every other linear 0), target = `target`. The run's
/// prune/targets/<modality>/achieved_sparsity metrics then give each modality's removed share of
/// block weights.
std::vector<store::LayerRecord> structuredLayerRecords(model::Model& model,
                                                       const std::vector<prune::GatedBlockRef>& blocks,
                                                       const prune::StructureValues& keep, double target);

/// Sparsity metrics of binary keep values over `layout` (GatedBlock accounting, spec §2.3):
/// `<prefix>/achieved_sparsity` = 1 − kept size / M and `<prefix>/<modality>/sparsity` per modality,
/// plus `<prefix>/<modality>/heads_kept` and `neurons_kept` counts.
std::vector<store::MetricRecord> structureMetrics(const std::vector<prune::GatedBlockRef>& layout,
                                                  const prune::StructureValues& keep, const std::string& prefix,
                                                  const std::string& version);

}  // namespace prunelab::pruners
