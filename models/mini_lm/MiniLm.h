#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/model/Model.h"
#include "models/transformer/TransformerStack.h"

namespace prunelab::models {

/// The network of mini_lm: token embedding + learned positions -> causal TransformerStack
/// "language" -> final LayerNorm -> vocabulary logits. The head is tied to the token embedding by
/// default (one matrix fewer to train on a small corpus, GPT-2's choice); untied it is a plain
/// Linear "head". Neither embeddings nor head are prunable: only the block projections are.
class MiniLmNetImpl : public torch::nn::Module {
 public:
  MiniLmNetImpl(std::int64_t vocab, std::int64_t maxLen, const StackOptions& stack, bool tied);
  /// Vocabulary logits [B,T,V] from the final hidden states [B,T,dim].
  torch::Tensor logitsFromHidden(const torch::Tensor& hidden);

  torch::nn::Embedding tokEmbed{nullptr};
  torch::Tensor posEmbed;  // [maxLen, dim]
  TransformerStack language{nullptr};
  torch::nn::LayerNorm lnF{nullptr};
  torch::nn::Linear head{nullptr};  // empty when tied
};
TORCH_MODULE(MiniLmNet);

/// A small decoder-only language model over token ids ([PAD] = 0), the language tower of the zoo
/// on its own, for perplexity (design.md §4). Trained on the run's data source: the non-padding
/// tokens of `train_split` (field "tokens", rows in order) concatenated into one stream and cut into
/// windows of `max_len` tokens, at a new seeded offset and in a new seeded order every pass (how
/// GPT-style LMs are trained, and the form the perplexity evaluator scores). AdamW (no decay on
/// biases, norms and embeddings), linear warmup then cosine decay to 0, gradient clipping.
/// Deterministic: seeded init, seeded data order, no dropout. Cached by recipe hash (options +
/// data fingerprint + seed) as cache_dir/models/mini_lm-<id>.safetensors with a JSON of the model
/// config beside it.
///
/// Batches may carry their text as "tokens" (the lm_* splits) or "captions" (scene splits, e.g.
/// for calibration); "tokens" wins when both are present. stackInputs drops the trailing columns
/// that are padding in every row of the batch, so block states (and calibration statistics) hold
/// fewer padding positions; the state carries "tokens" and, when padding remains, "mask".
class MiniLm : public model::Model, public model::LanguageModelHead {
 public:
  struct Options {
    std::int64_t vocab_size = 123;
    std::int64_t dim = 128;
    std::int64_t depth = 4;
    std::int64_t heads = 4;
    std::int64_t mlp_dim = 512;
    std::int64_t max_len = 64;
    bool tie_embeddings = true;
    std::string train_split = "lm_train";
    std::string val_split = "lm_val";
    std::int64_t steps = 1000;
    std::int64_t batch_size = 32;
    double lr = 2e-3;
    std::int64_t warmup_steps = 100;
    double weight_decay = 0.01;
    double grad_clip = 1.0;
    std::int64_t log_every = 50;

    template <class V>
    void visit(V& v) {
      v(vocab_size, "vocab_size", "token ids are 0..vocab_size-1; must cover the dataset's tokenizer");
      v(dim, "dim", "model width");
      v(depth, "depth", "blocks of the 'language' stack");
      v(heads, "heads", "attention heads (dim must be a multiple)");
      v(mlp_dim, "mlp_dim", "hidden width of each block's MLP");
      v(max_len, "max_len", "learned positions; also the length of the training windows");
      v(tie_embeddings, "tie_embeddings", "output head shares the token embedding matrix");
      v(train_split, "train_split", "split whose 'tokens' train the model");
      v(val_split, "val_split", "split whose loss is logged after training ('' = none)");
      v(steps, "steps", "optimizer steps");
      v(batch_size, "batch_size", "windows per step");
      v(lr, "lr", "peak AdamW learning rate (linear warmup, cosine decay to 0)");
      v(warmup_steps, "warmup_steps", "steps of linear warmup (0 = none)");
      v(weight_decay, "weight_decay", "AdamW weight decay of the Linear weights");
      v(grad_clip, "grad_clip", "clip the global gradient norm to this (0 = off)");
      v(log_every, "log_every", "log the mean training loss every N steps");
    }
    void validate() const {
      PL_CHECK(vocab_size > 6, "vocab_size must exceed the 6 special tokens, got {}", vocab_size);
      PL_CHECK(dim > 0 && depth > 0 && heads > 0 && mlp_dim > 0, "dim, depth, heads and mlp_dim must be positive");
      PL_CHECK(dim % heads == 0, "dim ({}) must be a multiple of heads ({})", dim, heads);
      PL_CHECK(max_len >= 2, "max_len must be at least 2, got {}", max_len);
      PL_CHECK(steps >= 0, "steps must be >= 0, got {}", steps);
      PL_CHECK(batch_size > 0, "batch_size must be positive, got {}", batch_size);
      PL_CHECK(lr > 0, "lr must be positive, got {}", lr);
      PL_CHECK(warmup_steps >= 0, "warmup_steps must be >= 0, got {}", warmup_steps);
      PL_CHECK(weight_decay >= 0, "weight_decay must be >= 0, got {}", weight_decay);
      PL_CHECK(grad_clip >= 0, "grad_clip must be >= 0, got {}", grad_clip);
      PL_CHECK(log_every > 0, "log_every must be positive, got {}", log_every);
    }
  };

  explicit MiniLm(Options options);

  void prepare(const model::ModelContext& ctx) override;
  std::vector<model::StackInfo> stacks() const override;
  std::vector<model::LinearRef> linears() override;
  torch::nn::Module& module() override;
  torch::Tensor loss(const model::Batch& batch) override;
  model::Batch stackInputs(const std::string& stack, const model::Batch& batch) override;
  model::Batch forwardBlock(const std::string& stack, int block, const model::Batch& state) override;
  std::string weightsId() const override { return weightsId_; }
  /// Runs blocks block..depth-1 of "language" on `state`, then the head and the loss: the same ops
  /// as loss() from there (the state carries the tokens, so `batch` is not read).
  torch::Tensor lossFromBlock(const std::string& stack, int block, const model::Batch& state,
                              const model::Batch& batch) override;
  /// lossFromBlock of every state in one forward (states concatenated along the batch), each entry
  /// reduced like loss(): the mean over that state's non-padding targets.
  torch::Tensor lossesFromBlock(const std::string& stack, int block, const std::vector<model::Batch>& states,
                                const model::Batch& batch) override;

  torch::Tensor nextTokenLogProbs(const torch::Tensor& tokens) override;
  std::int64_t vocabSize() const override { return options_.vocab_size; }
  std::int64_t maxLength() const override { return options_.max_len; }

  /// Next-token logits [B,T,V] of token ids [B,T].
  torch::Tensor logits(const torch::Tensor& tokens);
  /// Mean next-token cross-entropy of the final state of the "language" stack (fields "hidden"
  /// and "tokens"), ignoring [PAD] targets.
  torch::Tensor lossFromState(const model::Batch& state);
  /// Builds the network with its seeded initial weights, without loading or training (tests).
  void build(std::int64_t seed);
  /// Path of the cached weights for the recipe of the last prepare() (empty before).
  const std::string& cacheFile() const { return cacheFile_; }

 private:
  void train(const model::ModelContext& ctx);
  void checkStack(const std::string& stack) const;
  void checkBuilt() const;
  /// The stack's input state for token ids [B,T], all T positions kept.
  model::Batch embed(const torch::Tensor& tokens);
  torch::Tensor checkedTokens(const torch::Tensor& tokens) const;
  /// `state` after blocks block..depth-1.
  model::Batch runFrom(int block, model::Batch state);

  Options options_;
  MiniLmNet net_{nullptr};
  std::string weightsId_;
  std::string cacheFile_;
};

}  // namespace prunelab::models
