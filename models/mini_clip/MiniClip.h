#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/model/Model.h"
#include "models/transformer/TransformerStack.h"

namespace prunelab::models {

/// The network of mini_clip, a CLIP-style dual encoder.
///  - Image tower: the [B,1,H,W] image in [0,1] is mapped to [-1,1], cut into non-overlapping
///    patch_size x patch_size patches (row-major), each patch a token through the Linear
///    "patch_embed", plus learned positions "vision_pos"; then the TransformerStack "vision"
///    (modality "vision"), LayerNorm "vision_ln", mean pooling over all patch tokens (no [CLS]:
///    every patch of a scene carries content, and mean pooling trains faster on small data), and
///    the projection "vision_proj" (no bias) into the joint space.
///  - Text tower: token embedding "tok_embed" + learned positions "text_pos"; the bidirectional
///    TransformerStack "language" (modality "language") with a padding mask; LayerNorm "text_ln",
///    mean pooling over the real tokens ([BOS], words and [EOS]; [PAD] = 0 excluded), projection
///    "text_proj" (no bias).
///  - "logit_scale": CLIP's learned temperature t (init log(1/0.07)); similarities are multiplied by
///    exp(t), t kept in [0, log(100)].
/// Only the blocks' Linears are prunable; embeddings, norms and projections are kept.
class MiniClipNetImpl : public torch::nn::Module {
 public:
  MiniClipNetImpl(std::int64_t patchPixels, std::int64_t numPatches, std::int64_t vocab, std::int64_t maxLen,
                  std::int64_t embedDim, const StackOptions& vision, const StackOptions& language);

  torch::nn::Linear patchEmbed{nullptr};
  torch::Tensor visionPos;  // [numPatches, dim]
  TransformerStack vision{nullptr};
  torch::nn::LayerNorm visionLn{nullptr};
  torch::nn::Linear visionProj{nullptr};
  torch::nn::Embedding tokEmbed{nullptr};
  torch::Tensor textPos;  // [maxLen, dim]
  TransformerStack language{nullptr};
  torch::nn::LayerNorm textLn{nullptr};
  torch::nn::Linear textProj{nullptr};
  torch::Tensor logitScale;  // scalar
};
TORCH_MODULE(MiniClipNet);

/// A small CLIP (design.md §4): image and text towers trained with the symmetric InfoNCE loss on
/// the image-caption pairs of `train_split` (fields "images" and "all_captions" [B,5,T]; each epoch
/// every scene gets one of its captions, drawn from the seed), for retrieval and zero-shot
/// classification (ContrastiveHead). AdamW (no decay on biases, norms, embeddings, positions and
/// the temperature), linear warmup then cosine decay, gradient clipping; deterministic (seeded
/// init and data order, no dropout); cached by recipe hash as
/// cache_dir/models/mini_clip-<id>.safetensors with a JSON of the model config beside it.
///
/// Stacks, in order: "vision" then "language". The loss needs both towers, so the state of the
/// language stack carries what it needs from the vision tower:
///  - stackInputs("vision", batch): {"hidden"} = embedded patches of batch "images";
///  - stackInputs("language", batch): {"hidden", "tokens", "mask" (when padding remains)} of the
///    batch text ("tokens", else "captions"; columns that are padding in every row are dropped)
///    plus, when the batch has "images", "image_embeds" [B,D] = the full (current, possibly
///    pruned) vision tower's normalised embeddings, which travel unchanged through the blocks;
///  - the loss of a final language state is InfoNCE(image_embeds, pooled text).
/// So pruning the language stack calibrates on the already-pruned vision tower's embeddings.
class MiniClip : public model::Model, public model::ContrastiveHead {
 public:
  struct Options {
    std::int64_t image_size = 56;
    std::int64_t patch_size = 14;
    std::int64_t vocab_size = 123;
    std::int64_t max_len = 32;
    std::int64_t dim = 128;
    std::int64_t heads = 4;
    std::int64_t mlp_dim = 256;
    std::int64_t vision_depth = 4;
    std::int64_t text_depth = 2;
    std::int64_t embed_dim = 64;
    std::string train_split = "train";
    std::string val_split = "val";
    bool random_caption = true;
    std::int64_t epochs = 26;
    std::int64_t batch_size = 128;
    double lr = 1e-3;
    std::int64_t warmup_steps = 100;
    double weight_decay = 0.05;
    double grad_clip = 1.0;
    std::int64_t log_every = 25;

    template <class V>
    void visit(V& v) {
      v(image_size, "image_size", "input images are image_size x image_size, one channel");
      v(patch_size, "patch_size", "side of the square patches (must divide image_size)");
      v(vocab_size, "vocab_size", "token ids are 0..vocab_size-1; must cover the dataset's tokenizer");
      v(max_len, "max_len", "learned text positions (the longest text)");
      v(dim, "dim", "width of both towers");
      v(heads, "heads", "attention heads (dim must be a multiple)");
      v(mlp_dim, "mlp_dim", "hidden width of each block's MLP");
      v(vision_depth, "vision_depth", "blocks of the 'vision' stack");
      v(text_depth, "text_depth", "blocks of the 'language' stack");
      v(embed_dim, "embed_dim", "width of the joint image-text space");
      v(train_split, "train_split", "split of scenes ('images', 'all_captions') that trains the model");
      v(val_split, "val_split", "split whose loss is logged after training ('' = none)");
      v(random_caption, "random_caption",
        "each epoch pair every scene with a seeded random one of its captions (false: the split's 'captions')");
      v(epochs, "epochs", "passes over the train split");
      v(batch_size, "batch_size", "image-caption pairs per step (the InfoNCE negatives)");
      v(lr, "lr", "peak AdamW learning rate (linear warmup, cosine decay to 0)");
      v(warmup_steps, "warmup_steps", "steps of linear warmup (0 = none)");
      v(weight_decay, "weight_decay", "AdamW weight decay of the Linear weights");
      v(grad_clip, "grad_clip", "clip the global gradient norm to this (0 = off)");
      v(log_every, "log_every", "log the mean training loss every N steps");
    }
    void validate() const {
      PL_CHECK(image_size > 0 && patch_size > 0 && image_size % patch_size == 0,
               "patch_size ({}) must divide image_size ({})", patch_size, image_size);
      PL_CHECK(vocab_size > 6, "vocab_size must exceed the 6 special tokens, got {}", vocab_size);
      PL_CHECK(max_len >= 1, "max_len must be positive, got {}", max_len);
      PL_CHECK(dim > 0 && heads > 0 && mlp_dim > 0 && embed_dim > 0,
               "dim, heads, mlp_dim and embed_dim must be positive");
      PL_CHECK(dim % heads == 0, "dim ({}) must be a multiple of heads ({})", dim, heads);
      PL_CHECK(vision_depth > 0 && text_depth > 0, "vision_depth and text_depth must be positive");
      PL_CHECK(epochs >= 0, "epochs must be >= 0, got {}", epochs);
      PL_CHECK(batch_size > 1, "batch_size must be at least 2 (InfoNCE needs negatives), got {}", batch_size);
      PL_CHECK(lr > 0, "lr must be positive, got {}", lr);
      PL_CHECK(warmup_steps >= 0, "warmup_steps must be >= 0, got {}", warmup_steps);
      PL_CHECK(weight_decay >= 0, "weight_decay must be >= 0, got {}", weight_decay);
      PL_CHECK(grad_clip >= 0, "grad_clip must be >= 0, got {}", grad_clip);
      PL_CHECK(log_every > 0, "log_every must be positive, got {}", log_every);
    }
  };

  explicit MiniClip(Options options);

  void prepare(const model::ModelContext& ctx) override;
  std::vector<model::StackInfo> stacks() const override;
  std::vector<model::LinearRef> linears() override;
  torch::nn::Module& module() override;
  torch::Tensor loss(const model::Batch& batch) override;
  model::Batch stackInputs(const std::string& stack, const model::Batch& batch) override;
  model::Batch forwardBlock(const std::string& stack, int block, const model::Batch& state) override;
  std::string weightsId() const override { return weightsId_; }
  torch::Tensor lossFromBlock(const std::string& stack, int block, const model::Batch& state,
                              const model::Batch& batch) override;

  torch::Tensor imageEmbeddings(const model::Batch& batch) override;
  torch::Tensor textEmbeddings(const torch::Tensor& tokens) override;
  double logitScale() const override;

  /// Normalised image embeddings [B,D] from the final state of the "vision" stack.
  torch::Tensor imageEmbeddingsFromState(const model::Batch& state);
  /// Normalised text embeddings [B,D] from the final state of the "language" stack.
  torch::Tensor textEmbeddingsFromState(const model::Batch& state);
  /// Symmetric InfoNCE of the final "language" state (needs "image_embeds").
  torch::Tensor lossFromState(const model::Batch& state);
  /// Builds the network with its seeded initial weights, without loading or training (tests).
  void build(std::int64_t seed);
  /// Path of the cached weights for the recipe of the last prepare() (empty before).
  const std::string& cacheFile() const { return cacheFile_; }

 private:
  void train(const model::ModelContext& ctx);
  void checkBuilt() const;
  model::Batch visionInputs(const torch::Tensor& images);
  model::Batch textInputs(const torch::Tensor& tokens);
  torch::Tensor checkedTokens(const torch::Tensor& tokens) const;

  Options options_;
  MiniClipNet net_{nullptr};
  std::string weightsId_;
  std::string cacheFile_;
};

}  // namespace prunelab::models
