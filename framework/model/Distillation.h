#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "framework/model/Batch.h"

namespace prunelab::model {

// Knowledge distillation between a teacher and a shallower student of the same family, as
// EfficientVLM trains its student (spec-ecoflap-efficientvlm.md §2.4; reference
// swaggy-TN/EfficientVLM `GeneralDistill.py`, `Eff_Retrieval.py`, `Eff_VQA.py`): what a model
// records during a forward, the layer mapping between the two depths, and the three KD terms.
// The weighted formulas of each task live with their callers.

/// What one transformer stack saw during a forward while a recording was attached (the
/// transformer library fills it; see TransformerStack::setRecording).
struct StackRecording {
  /// hidden[0] is the state entering block 0 (the embedding output for a first stack), hidden[i+1]
  /// the state leaving block i: numBlocks + 1 entries.
  std::vector<torch::Tensor> hidden;
  /// Per block, the post-softmax self-attention probabilities [B, H, T, T].
  std::vector<torch::Tensor> selfAttention;
  /// Per block with cross-attention, the post-softmax probabilities [B, H, T, S].
  std::vector<torch::Tensor> crossAttention;
  /// Whether hiddenKd compares hidden[0]: false when it merely repeats an earlier stack's output
  /// (a cross-modal encoder reading the text encoder's output), which is counted there already.
  bool compareInput = true;
  /// Whether hiddenKd compares the last entry (EfficientVLM skips the vision tower's final layer).
  bool compareOutput = true;

  /// Drops every recorded tensor (the flags stay).
  void clear();
};

/// Recordings of one forward, by stack name ("vision", "text", "cross").
using Recordings = std::map<std::string, StackRecording>;

/// k = teacherBlocks / studentBlocks; an error unless the student is shallower by a whole factor.
int depthRatio(int teacherBlocks, int studentBlocks);
/// Teacher hidden-state index of student hidden state j (0 = the embedding output): j·k.
inline int teacherHiddenIndex(int j, int k) { return j * k; }
/// Teacher block of student block i for attention maps: (i+1)·k − 1 (the last of its k blocks).
inline int teacherAttentionIndex(int i, int k) { return (i + 1) * k - 1; }

/// Σ over student blocks i of MSE(A_s[i], A_t[(i+1)k−1]) · T, with T the query length (the
/// reference multiplies the mean by seq_len). Post-softmax probabilities, as the reference
/// compares them. Empty lists give 0.
torch::Tensor attentionKd(const std::vector<torch::Tensor>& student, const std::vector<torch::Tensor>& teacher);
/// Σ over student hidden states j of MSE(h_s[j], h_t[j·k]), leaving out j = 0 unless
/// compareInput and the last unless compareOutput (the student's flags; both sides must agree).
torch::Tensor hiddenKd(const StackRecording& student, const StackRecording& teacher);
/// KL(softmax(t/T) ‖ softmax(s/T)) summed over classes and averaged over rows (PyTorch's
/// kl_div(log_softmax(s/T), softmax(t/T), reduction='batchmean'); the reference uses T = 1).
/// Logits [N, C] (or [N, ..., C], flattened to rows).
torch::Tensor logitKd(const torch::Tensor& student, const torch::Tensor& teacher, double temperature = 1.0);

/// Weights of one stack's KD terms: weight·hiddenKd + attention·(attentionKd(self) +
/// attentionKd(cross)).
struct StackKdWeights {
  double hidden = 1.0;
  double attention = 1.0;
};

/// Σ over the stacks named in `weights` of their weighted terms; a stack missing from either side
/// is an error naming it.
torch::Tensor stacksKd(const Recordings& student, const Recordings& teacher,
                       const std::map<std::string, StackKdWeights>& weights);

/// One training batch through a student and its teacher on identical inputs (the same hard
/// negatives, the same masked tokens), what task KD compares.
struct DistillStep {
  torch::Tensor taskLoss;       ///< the student's task loss (retrieval: ITC + ITM; VQA: the answer loss)
  torch::Tensor studentLogits;  ///< the logits the KL term compares (retrieval: ITM; VQA: answers)
  torch::Tensor teacherLogits;  ///< the teacher's, without gradients
  Recordings student;           ///< per stack, with gradients
  Recordings teacher;           ///< per stack, without gradients
};

/// A model trained with knowledge distillation from a dense teacher of its own family
/// (EfficientVLM's task KD during pruning). Implemented by models that have one; a training-time
/// pruner reaches it by dynamic_cast, so no pruner depends on a model plugin.
class DistilledModel {
 public:
  virtual ~DistilledModel() = default;
  /// The task the model is fine-tuned for ("vqa", "retrieval"): it picks the KD formula.
  virtual std::string distillTask() const = 0;
  /// The data split whose batches distillStep() takes (e.g. "vqa_train").
  virtual std::string distillSplit() const = 0;
  /// Makes the dense fine-tuned teacher ready (from the cache, training it first when missing).
  virtual void prepareTeacher() = 0;
  /// Frees the teacher's memory (prepareTeacher() brings it back).
  virtual void releaseTeacher() = 0;
  /// The batch through the student (this model, in its current train/eval mode, with gradients)
  /// and, with `withTeacher`, the teacher (eval mode, no gradients; prepareTeacher() first);
  /// random choices (negatives, masks) from `generator`. Without the teacher only taskLoss and
  /// studentLogits are set: the task fine-tuning step alone.
  virtual DistillStep distillStep(const Batch& batch, torch::Generator& generator, bool withTeacher) = 0;
};

}  // namespace prunelab::model
