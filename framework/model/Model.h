#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include <torch/torch.h>
#include <c10/util/Type.h>

#include "framework/core/Error.h"
#include "framework/model/Batch.h"
#include "framework/model/PrunableLinear.h"

namespace prunelab::data {
class DataSource;
}

namespace prunelab::model {

/// A stack of blocks run in sequence ("vision", "bridge", "language"), tagged with a modality.
struct StackInfo {
  std::string name;
  std::string modality;
  int numBlocks = 0;
};

/// What a model needs to become ready: data to train on, where cached weights live, the seed,
/// and where to report training curves.
struct ModelContext {
  data::DataSource* data = nullptr;
  std::filesystem::path cacheDir;
  std::int64_t seed = 0;
  /// Reports a training metric (key, value, step) to the run store.
  std::function<void(const std::string&, double, std::int64_t)> logMetric;
};

/// The model interface of design.md §4. Task heads are separate small interfaces
/// (e.g. ClassifierHead) that a model implements when it has them.
class Model {
 public:
  virtual ~Model() = default;

  /// Builds the network and loads its weights from the cache, training them first when missing.
  virtual void prepare(const ModelContext& ctx) = 0;
  /// The stacks in execution order.
  virtual std::vector<StackInfo> stacks() const = 0;
  /// Every prunable Linear under its canonical name, in execution order.
  virtual std::vector<LinearRef> linears() = 0;
  /// The underlying module (parameters, train/eval mode, device moves).
  virtual torch::nn::Module& module() = 0;
  /// The training/calibration loss of a batch (used by first- and zeroth-order scoring).
  virtual torch::Tensor loss(const Batch& batch) = 0;
  /// The input state of `stack`'s first block for `batch`, running all earlier stacks.
  virtual Batch stackInputs(const std::string& stack, const Batch& batch) = 0;
  /// Runs block `block` of `stack` on `state`, returning the next block's state.
  virtual Batch forwardBlock(const std::string& stack, int block, const Batch& state) = 0;
  /// Hash identifying the weights (recipe hash for trained models), recorded per run.
  virtual std::string weightsId() const = 0;
  /// What a checkpoint of this model needs besides its tensors to be loaded again (e.g. which
  /// heads and neurons a structured pruning kept, so the loader builds the smaller shapes): string
  /// metadata the Runner writes into pruned.safetensors with save_checkpoint. Default: none.
  virtual std::map<std::string, std::string> checkpointMetadata() const { return {}; }

  /// The calibration loss of `batch` when block `block` of `stack` receives `state` (the state
  /// forwardBlock would get there): runs that block, the rest of the stack, every later stack
  /// and the loss. `block` may equal the stack's numBlocks: `state` is then the stack's output.
  /// It must run exactly the ops of loss() from that point, so that
  /// lossFromBlock(s, b, <state of the unchanged chain>, batch) == loss(batch) bit for bit: the
  /// zeroth-order fast mode re-runs only the suffix after a perturbed block and relies on it.
  /// Default: an error, so a model without it still works with zeroth mode=reference.
  virtual torch::Tensor lossFromBlock(const std::string& stack, int block, const Batch& state, const Batch& batch) {
    PL_THROW("model '{}' cannot resume from a block (no lossFromBlock): use zeroth mode=reference "
             "(pruner.coarse.mode=reference), or implement Model::lossFromBlock for it",
             c10::demangle(typeid(*this).name()));
  }
  /// lossFromBlock for several states entering the same block with the same `batch` (the +eps
  /// and -eps outputs of a perturbed block): a 1-D tensor, entry i the loss for states[i]. A
  /// model may run all states as one forward (concatenated along the batch) and reduce the loss
  /// per part; each entry must then be the same reduction loss() applies to one batch. Its values
  /// may differ from lossFromBlock in the last bits (a larger matrix product may round
  /// differently). Default: one lossFromBlock call per state.
  virtual torch::Tensor lossesFromBlock(const std::string& stack, int block, const std::vector<Batch>& states,
                                        const Batch& batch) {
    std::vector<torch::Tensor> out;
    for (const auto& s : states) out.push_back(lossFromBlock(stack, block, s, batch).reshape({}));
    return torch::stack(out);
  }
};

/// A model that predicts class logits (image classification, zero-shot heads).
class ClassifierHead {
 public:
  virtual ~ClassifierHead() = default;
  /// Logits [batch, numClasses] for a batch holding the model's inputs.
  virtual torch::Tensor classLogits(const Batch& batch) = 0;
  /// Number of classes.
  virtual int numClasses() const = 0;
};

/// A model that predicts the next token of a sequence (decoder LMs): perplexity, text scoring.
class LanguageModelHead {
 public:
  virtual ~LanguageModelHead() = default;
  /// Natural-log next-token probabilities [B, T, V] for token ids [B, T]: row t scores token t+1.
  /// Right padding ([PAD] = 0) does not change the rows of the tokens before it.
  virtual torch::Tensor nextTokenLogProbs(const torch::Tensor& tokens) = 0;
  /// Vocabulary size V (token ids are 0..V-1).
  virtual std::int64_t vocabSize() const = 0;
  /// Longest sequence one call accepts (the learned positions).
  virtual std::int64_t maxLength() const = 0;
};

/// A dual encoder's joint embedding space (CLIP-style): retrieval by ITC similarity, zero-shot
/// classification by prompt embeddings.
class ContrastiveHead {
 public:
  virtual ~ContrastiveHead() = default;
  /// L2-normalised image embeddings [B, D] of a batch holding "images" ([B, Q, D] for a model
  /// that overrides similarity()).
  virtual torch::Tensor imageEmbeddings(const Batch& batch) = 0;
  /// L2-normalised text embeddings [B, D] of token ids [B, T] (right-padded with [PAD] = 0).
  virtual torch::Tensor textEmbeddings(const torch::Tensor& tokens) = 0;
  /// The learned multiplier of the cosine similarities in the contrastive loss (CLIP's exp(t)).
  virtual double logitScale() const = 0;
  /// ITC similarities [I, T] of image embeddings (as imageEmbeddings returns them) and text
  /// embeddings [T, D]. Default: their dot products. A model whose image side is several vectors
  /// overrides it (BLIP-2: imageEmbeddings gives [I, Q, D], one per query, and the similarity is
  /// the max over the queries).
  virtual torch::Tensor similarity(const torch::Tensor& images, const torch::Tensor& texts) {
    return torch::matmul(images, texts.t());
  }
};

/// Settings of text generation (BLIP-2's generate): greedy when numBeams == 1, else beam search
/// keeping numBeams hypotheses, finished ones ranked by sum(log p) / length^lengthPenalty (the
/// HuggingFace rule; length counts generated tokens, [EOS] included).
struct GenerationOptions {
  std::int64_t numBeams = 1;
  /// [EOS] cannot be chosen before this many tokens were generated.
  std::int64_t minLength = 1;
  /// Generated tokens at most ([EOS] not counted); a hypothesis reaching it is finished.
  std::int64_t maxLength = 20;
  double lengthPenalty = 1.0;
};

/// A model that writes text about an image after a prompt (captioning, VQA): BLIP-2's generate.
class GenerativeHead {
 public:
  virtual ~GenerativeHead() = default;
  /// For image i of `images` (field "images") and prompts[i] (token ids starting with [BOS] = 2,
  /// no [EOS], no padding; just {[BOS]} for captioning), the generated continuation's token ids,
  /// without the prompt and without [EOS]. Deterministic; batches its model calls.
  virtual std::vector<std::vector<std::int64_t>> generate(const Batch& images,
                                                          const std::vector<std::vector<std::int64_t>>& prompts,
                                                          const GenerationOptions& options) = 0;
};

/// Image-text matching (BLIP's ITM head), for re-ranking retrieval candidates.
class MatchingHead {
 public:
  virtual ~MatchingHead() = default;
  /// The raw "match" logit (itm_logit[:,1], BLIP-2: averaged over its queries) of each pair
  /// (image i of `images`, text row i of `tokens` [N,T], right-padded with [PAD] = 0): [N].
  virtual torch::Tensor matchLogits(const Batch& images, const torch::Tensor& tokens) = 0;
};

}  // namespace prunelab::model
