#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/core/Error.h"
#include "framework/model/Distillation.h"
#include "framework/model/Model.h"
#include "framework/prune/StructuredModel.h"
#include "models/transformer/TransformerStack.h"

namespace prunelab::models {

/// Options of mini_xvlm: the teacher's architecture, which variant and task head set to build,
/// and the recipe of every training stage.
struct MiniXvlmOptions {
  // Image encoder (ViT).
  std::int64_t image_size = 56;
  std::int64_t patch_size = 14;
  std::int64_t vision_dim = 128;
  std::int64_t vision_depth = 4;
  std::int64_t vision_heads = 4;
  std::int64_t vision_mlp_dim = 512;
  // Text and cross-modal encoders (one width, like X-VLM's BERT whose upper layers fuse).
  std::int64_t vocab_size = 123;
  std::int64_t max_text_len = 32;
  std::int64_t text_dim = 128;
  std::int64_t text_depth = 2;
  std::int64_t cross_depth = 2;
  std::int64_t text_heads = 4;
  std::int64_t text_mlp_dim = 512;
  std::int64_t embed_dim = 64;
  // What to build.
  std::string variant = "teacher";
  std::string task = "pretrain";
  std::string checkpoint;
  // Data.
  std::string train_split = "train";
  std::string vqa_split = "vqa_train";
  std::string val_split = "val";
  // Pretraining (teacher): ITC + ITM + MLM + grounding.
  std::int64_t pretrain_epochs = 4;
  double pretrain_lr = 1e-3;
  double mlm_probability = 0.15;
  double grounding_weight = 1.0;
  // General distillation (student).
  std::int64_t distill_epochs = 3;
  double distill_lr = 5e-4;
  // Task fine-tuning.
  std::int64_t retrieval_epochs = 1;
  double retrieval_lr = 2e-4;
  std::int64_t vqa_steps = 3000;
  std::int64_t vqa_batch_size = 128;
  double vqa_lr = 5e-4;
  // Shared.
  std::int64_t batch_size = 128;
  std::int64_t warmup_steps = 100;
  double weight_decay = 0.05;
  double grad_clip = 1.0;
  std::int64_t log_every = 25;

  template <class V>
  void visit(V& v) {
    v(image_size, "image_size", "input images are image_size x image_size, one channel");
    v(patch_size, "patch_size", "side of the ViT's square patches (must divide image_size)");
    v(vision_dim, "vision_dim", "width of the image encoder");
    v(vision_depth, "vision_depth", "blocks of the teacher's 'vision' stack (the student has half)");
    v(vision_heads, "vision_heads", "attention heads of the image encoder");
    v(vision_mlp_dim, "vision_mlp_dim", "MLP width of the vision blocks");
    v(vocab_size, "vocab_size", "token ids are 0..vocab_size-1; must cover the dataset's tokenizer");
    v(max_text_len, "max_text_len", "learned text positions");
    v(text_dim, "text_dim", "width of the text and cross-modal encoders");
    v(text_depth, "text_depth", "blocks of the teacher's 'text' stack (the student has half)");
    v(cross_depth, "cross_depth", "blocks of the teacher's 'cross' stack (the student has half)");
    v(text_heads, "text_heads", "attention heads of the text and cross-modal blocks (self and cross)");
    v(text_mlp_dim, "text_mlp_dim", "MLP width of the text and cross-modal blocks");
    v(embed_dim, "embed_dim", "width of the ITC space");
    v(variant, "variant",
      "teacher (the full depths) or student (half of every stack, initialised from the teacher's even blocks and "
      "trained by EfficientVLM's general distillation)");
    v(task, "task",
      "pretrain (ITC/ITM/MLM only), vqa (fine-tuned answer classifier) or retrieval (fine-tuned ITC + ITM): which "
      "fine-tuned head set is trained and cached");
    v(checkpoint, "checkpoint",
      "load every weight from this safetensors file (e.g. a run's pruned.safetensors, whose metadata says which "
      "heads and neurons were kept) instead of the cache; '' = train or load by recipe");
    v(train_split, "train_split", "scene split of pretraining, distillation and retrieval fine-tuning");
    v(vqa_split, "vqa_split", "question split of VQA fine-tuning; its answers form the answer vocabulary");
    v(val_split, "val_split", "scene split whose stage metrics are logged after each stage ('' = none)");
    v(pretrain_epochs, "pretrain_epochs", "teacher pretraining: passes over train_split");
    v(pretrain_lr, "pretrain_lr", "teacher pretraining: peak learning rate");
    v(mlm_probability, "mlm_probability", "share of caption words masked for MLM (BERT's 80/10/10 rule)");
    v(grounding_weight, "grounding_weight",
      "weight of the per-cell class/shade/size loss on the vision tokens (the stand-in for X-VLM's box losses)");
    v(distill_epochs, "distill_epochs", "student general distillation: passes over train_split");
    v(distill_lr, "distill_lr", "student general distillation: peak learning rate");
    v(retrieval_epochs, "retrieval_epochs", "task=retrieval: ITC + ITM fine-tuning passes over train_split");
    v(retrieval_lr, "retrieval_lr", "task=retrieval: peak learning rate");
    v(vqa_steps, "vqa_steps", "task=vqa: optimizer steps of answer-classification fine-tuning");
    v(vqa_batch_size, "vqa_batch_size", "task=vqa: questions per step");
    v(vqa_lr, "vqa_lr", "task=vqa: peak learning rate");
    v(batch_size, "batch_size", "scenes per step of pretraining, distillation and retrieval (the ITC negatives)");
    v(warmup_steps, "warmup_steps", "steps of linear warmup of every stage (then cosine decay to 0)");
    v(weight_decay, "weight_decay", "AdamW weight decay of the Linear weights");
    v(grad_clip, "grad_clip", "clip the global gradient norm to this (0 = off)");
    v(log_every, "log_every", "log the mean training loss every N steps");
  }
  void validate() const;
};

/// The network of mini_xvlm at given stack depths (the teacher's or the student's). Parameter
/// names (= checkpoint names):
///  - image encoder: "patch_embed", "vision_pos", stack "vision" (modality "vision"), "vision_ln",
///    the grounding head "cell_head" (per cell: 11 class logits, 10 = empty, then 2 shade, 2 size);
///  - text encoder: "tok_embed", "text_pos", stack "text" (modality "text", bidirectional),
///    "text_ln" (used by ITC only; the cross encoder reads the text stack's residual stream, as the
///    upper layers of one BERT do);
///  - cross-modal encoder: stack "cross" (modality "cross"; self-attention over the text rows,
///    cross-attention to the image tokens, MLP), "cross_ln";
///  - heads: "vision_proj", "text_proj", "itc_temp" (ITC), "itm_head", "mlm_dense", "mlm_ln",
///    "mlm_bias" (MLM, decoder tied to tok_embed), and with answers > 0 the VQA classifier
///    "vqa_fc1", "vqa_ln", "vqa_fc2".
class MiniXvlmNetImpl : public torch::nn::Module {
 public:
  MiniXvlmNetImpl(const MiniXvlmOptions& o, std::int64_t visionDepth, std::int64_t textDepth, std::int64_t crossDepth,
                  std::int64_t answers, std::uint64_t seed);

  torch::nn::Linear patchEmbed{nullptr};
  torch::Tensor visionPos;
  TransformerStack vision{nullptr};
  torch::nn::LayerNorm visionLn{nullptr};
  torch::nn::Linear cellHead{nullptr};

  torch::nn::Embedding tokEmbed{nullptr};
  torch::Tensor textPos;
  TransformerStack text{nullptr};
  torch::nn::LayerNorm textLn{nullptr};

  TransformerStack cross{nullptr};
  torch::nn::LayerNorm crossLn{nullptr};

  torch::nn::Linear visionProj{nullptr}, textProj{nullptr}, itmHead{nullptr}, mlmDense{nullptr};
  torch::nn::LayerNorm mlmLn{nullptr};
  torch::Tensor itcTemp, mlmBias;
  torch::nn::Linear vqaFc1{nullptr}, vqaFc2{nullptr};
  torch::nn::LayerNorm vqaLn{nullptr};

  /// The stacks in execution order.
  std::vector<TransformerStack*> stacks() { return {&vision, &text, &cross}; }
};
TORCH_MODULE(MiniXvlmNet);

/// A small X-VLM (design.md §4; the EfficientVLM setting, spec-ecoflap-efficientvlm.md Part 2):
/// an image encoder (ViT), a text encoder and a cross-modal encoder whose blocks self-attend over
/// the text and cross-attend to the image tokens. Trained on FashionScenes in stages, each cached
/// by its recipe (see MiniXvlmTrain.cpp and experiments/conf/model/mini_xvlm.yaml):
///  1. teacher pretraining on train_split: ITC (mean-pooled image tokens vs the text's [BOS]
///     output), ITM on the cross encoder's [BOS] output with hard negatives sampled by ITC
///     similarity (ALBEF/BLIP; one negative per scene, text or image on alternate rows, where ALBEF
///     draws both — the cross encoder dominates a step's cost), MLM on the captions of the first half
///     of each batch through the cross encoder (15% of the words, BERT's 80/10/10), and a grounding loss (each cell's class, shade and size from its patch tokens,
///     FashionScenes' stand-in for X-VLM's box losses);
///  2. variant=student: half of every stack, block i initialised from teacher block 2i (the even
///     blocks; all other weights copied), trained by EfficientVLM's general distillation (§2.4):
///     0.6·(itc + itm + mlm + grounding) + 0.4·(KL_itm + KL_mlm + text(attn + hid) + image(attn +
///     0.1·hid) + cross(attn + hid, for the ITM pairs and for MLM)), layer mapping j ↔ 2j for
///     hidden states and i ↔ 2i+1 for attention maps;
///  3. task fine-tuning, chosen by `task`: retrieval = ITC + ITM on train_split (the same losses);
///     vqa = answer classification over the answer vocabulary (every distinct multiple-choice
///     answer of vqa_split, sorted) by an MLP on the cross encoder's [BOS] output, the input text
///     being "[BOS] question <words> answer" (the vqa evaluator's default prompt). task=pretrain
///     stops after stage 1 (or 2).
/// Stage 3 trains every weight with the task loss alone (the "X-VLM_small" row); task KD from the
/// dense fine-tuned teacher is the modal_adaptive pruner's (model::DistilledModel).
///
/// Heads: model::GenerativeHead answers VQA prompts with the predicted answer's token ids
/// (task=vqa); ContrastiveHead + MatchingHead serve the retrieval evaluator (ITC, ITM re-rank).
///
/// Pruning view: stacks "vision", "text", "cross". Model::loss is, for batches with "questions" and
/// "answers", the answer cross-entropy (task=vqa), else ITC + ITM of the batch's "captions" (the
/// ITM negatives of image i are caption i+1 mod B, so the loss is deterministic). States:
///  - "vision": {"hidden"} patch tokens;
///  - "text": {"hidden", "mask"} + the carried "image_tokens" (vision output after vision_ln) and
///    "image_embeds" (normalised ITC embeddings);
///  - "cross": {"hidden" the text hidden states of each (image, text) pair, "mask", "context" the
///    pair's image tokens} + "text_embeds", "image_embeds" and "itm_labels" (retrieval) or
///    "answer_labels" (VQA).
/// It is also a prune::StructuredModel (heads and neurons of every block of the three stacks can be
/// gated and removed) and a model::DistilledModel (task KD from the dense fine-tuned teacher).
class MiniXvlm : public model::Model,
                 public model::GenerativeHead,
                 public model::ContrastiveHead,
                 public model::MatchingHead,
                 public model::DistilledModel,
                 public prune::StructuredModel {
 public:
  using Options = MiniXvlmOptions;
  explicit MiniXvlm(Options options);
  ~MiniXvlm() override;

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
  /// {"format", "options", "structure"}: the kept heads and neurons of every removal so far, so that
  /// `checkpoint=` rebuilds the shapes before loading.
  std::map<std::string, std::string> checkpointMetadata() const override;

  std::vector<std::vector<std::int64_t>> generate(const model::Batch& images,
                                                  const std::vector<std::vector<std::int64_t>>& prompts,
                                                  const model::GenerationOptions& options) override;
  torch::Tensor imageEmbeddings(const model::Batch& batch) override;
  torch::Tensor textEmbeddings(const torch::Tensor& tokens) override;
  double logitScale() const override;
  torch::Tensor matchLogits(const model::Batch& images, const torch::Tensor& tokens) override;

  // model::DistilledModel
  std::string distillTask() const override { return options_.task; }
  std::string distillSplit() const override;
  void prepareTeacher() override;
  void releaseTeacher() override;
  model::DistillStep distillStep(const model::Batch& batch, torch::Generator& generator, bool withTeacher) override;

  // prune::StructuredModel
  std::vector<prune::GatedBlockRef> gatedBlocks() override;
  void setStructureGates(const prune::StructureValues& gates) override;
  prune::StructureValues structureMagnitudes() override;
  void removeStructures(const prune::StructureValues& keep) override;

  /// Builds the network with its seeded initial weights at this variant's depths, without loading
  /// or training (tests); `answers` sizes the VQA head (0 = none).
  void build(std::int64_t seed, std::int64_t answers = 0);
  /// Sets the prompt words and the answer vocabulary (token ids of each answer) as prepare() takes
  /// them from the data source; for tests.
  void setVocabulary(std::int64_t questionWord, std::int64_t answerWord, std::vector<std::vector<std::int64_t>> answers);
  /// Copies `teacher` into this (student) network: block i of every stack from teacher block 2i,
  /// every other weight as it is. The student must have half the teacher's depths.
  void initFromTeacher(MiniXvlmNet& teacher);
  /// Rebuilds the shapes of the removals in `structure` (the "structure" of checkpointMetadata:
  /// a list of {stack: kept heads/neurons per block}) on the freshly built network, in order.
  void applyStructure(const nlohmann::ordered_json& structure);
  const Options& options() const { return options_; }
  MiniXvlmNet& net() { return net_; }
  const std::string& cacheFile() const { return cacheFile_; }
  /// The answer vocabulary (token ids per class), empty unless task=vqa.
  const std::vector<std::vector<std::int64_t>>& answers() const { return answers_; }

  // Pieces of the network (any MiniXvlmNet of this model's options), public for training and tests.
  /// Vision tokens [B, P, vision_dim] after vision_ln; records the stack when `rec` is set.
  static torch::Tensor visionTokens(MiniXvlmNet& net, const Options& o, const torch::Tensor& images,
                                    model::StackRecording* rec = nullptr);
  /// Normalised ITC image embeddings [B, E] of vision tokens (mean over the tokens).
  static torch::Tensor imageEmbeds(MiniXvlmNet& net, const torch::Tensor& tokens);
  /// Text encoder output (residual stream, before text_ln) [B, T, text_dim] of right-padded
  /// token ids [B, T].
  static torch::Tensor textHidden(MiniXvlmNet& net, const Options& o, const torch::Tensor& tokens,
                                  model::StackRecording* rec = nullptr);
  /// Normalised ITC text embeddings [B, E] from the [BOS] position of text hidden states.
  static torch::Tensor textEmbeds(MiniXvlmNet& net, const torch::Tensor& hidden);
  /// Cross encoder output after cross_ln [N, T, text_dim] of text hidden states [N,T,d] (with
  /// their token ids [N,T] for the padding mask) over image tokens [N,P,vision_dim].
  static torch::Tensor crossOutput(MiniXvlmNet& net, const torch::Tensor& textHidden, const torch::Tensor& tokens,
                                   const torch::Tensor& imageTokens, model::StackRecording* rec = nullptr);
  /// The ITC temperature, kept in [0.001, 0.5] as ALBEF/X-VLM do: a parameter an optimizer step
  /// moved out of the range is clamped in place (without gradient) first. Clamping only in the
  /// forward would let Adam push it below 0.001, where the clamp has no gradient and the logits
  /// stay scaled by 1000 for good.
  static torch::Tensor itcTemperature(MiniXvlmNet& net);
  /// ITM logits [N, 2] from cross outputs.
  static torch::Tensor itmLogits(MiniXvlmNet& net, const torch::Tensor& crossOut);
  /// MLM vocabulary logits [N, T, V] from cross outputs.
  static torch::Tensor mlmLogits(MiniXvlmNet& net, const torch::Tensor& crossOut);
  /// VQA answer logits [N, answers] from cross outputs.
  static torch::Tensor vqaLogits(MiniXvlmNet& net, const torch::Tensor& crossOut);
  /// Per-cell grounding logits [B, G*G, 15] from vision tokens, for a G x G grid.
  static torch::Tensor cellLogits(MiniXvlmNet& net, const Options& o, const torch::Tensor& tokens, std::int64_t grid);

  /// The VQA text of a question batch field ([B,T] [BOS] words [EOS]): [BOS] question <words> answer,
  /// right-padded.
  torch::Tensor vqaText(const torch::Tensor& questions) const;
  /// The answer class of each row of an "answers" field ([B,T] words [EOS]); -100 when the answer
  /// is not in the vocabulary.
  torch::Tensor answerLabels(const torch::Tensor& answers) const;

 private:
  void checkBuilt() const;
  std::string recipeOf(const std::string& stage, const std::string& variant, const model::ModelContext& ctx) const;
  void trainStages(const model::ModelContext& ctx);
  void loadCheckpoint(const std::string& path);
  torch::Tensor lossFromState(const model::Batch& state);
  model::Batch suffixState(const std::string& stack, int block, const model::Batch& state, const model::Batch& batch);
  model::Batch textState(const model::Batch& batch, const torch::Tensor& imageTokens);
  model::Batch crossState(const model::Batch& textFinal);

  Options options_;
  MiniXvlmNet net_{nullptr};
  std::int64_t questionId_ = -1, answerId_ = -1;
  std::vector<std::vector<std::int64_t>> answers_;
  std::map<std::vector<std::int64_t>, std::int64_t> answerIndex_;
  nlohmann::ordered_json structure_ = nlohmann::ordered_json::array();
  model::ModelContext context_;
  bool hasContext_ = false;
  std::unique_ptr<MiniXvlm> teacher_;
  std::string weightsId_;
  std::string cacheFile_;
};

}  // namespace prunelab::models
