#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/model/Model.h"
#include "models/transformer/TransformerStack.h"

namespace prunelab::models {

/// Options of mini_blip2: the architecture and the recipe of its four training stages.
struct MiniBlip2Options {
  // Vision tower (ViT).
  std::int64_t image_size = 56;
  std::int64_t patch_size = 14;
  std::int64_t vision_dim = 128;
  std::int64_t vision_depth = 4;
  std::int64_t vision_heads = 4;
  std::int64_t vision_mlp_dim = 512;
  // Q-Former bridge.
  std::int64_t num_queries = 8;
  std::int64_t bridge_dim = 128;
  std::int64_t bridge_depth = 2;
  std::int64_t bridge_heads = 4;
  std::int64_t bridge_mlp_dim = 256;
  std::int64_t embed_dim = 64;
  double bridge_context_pos_std = 0.5;
  // Language model (mini_lm's architecture and recipe, trained by mini_lm's own code and cache).
  std::int64_t vocab_size = 123;
  std::int64_t max_text_len = 32;
  std::int64_t lm_dim = 128;
  std::int64_t lm_depth = 4;
  std::int64_t lm_heads = 4;
  std::int64_t lm_mlp_dim = 512;
  std::int64_t lm_max_len = 64;
  std::int64_t lm_steps = 1000;
  std::int64_t lm_batch_size = 32;
  double lm_lr = 2e-3;
  // Data.
  std::string train_split = "train";
  std::string vqa_split = "vqa_train";
  std::string lm_split = "lm_train";
  std::string val_split = "val";
  // Stage (a): supervised per-cell attributes.
  std::int64_t vision_epochs = 4;
  std::int64_t vision_batch_size = 128;
  double vision_lr = 1e-3;
  // Stage (c): Q-Former on ITC + ITM + ITG with the vision tower frozen.
  std::int64_t qformer_epochs = 6;
  double qformer_lr = 1e-3;
  double query_cell_weight = 1.0;
  double itm_fraction = 0.5;
  std::int64_t qformer_threads = 2;
  // Stage (d): generative, soft prompt into the frozen LM.
  std::int64_t generative_steps = 2000;
  std::int64_t generative_batch_size = 64;
  double generative_lr = 1e-3;
  double vqa_fraction = 0.8;
  double generative_itc_weight = 2.0;
  bool generative_itc_on_vqa = true;
  std::int64_t generative_threads = 2;
  bool qformer_reads_prompt = true;
  std::string soft_prompt_position = "before_target";
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
    v(vision_dim, "vision_dim", "width of the vision tower");
    v(vision_depth, "vision_depth", "blocks of the 'vision' stack");
    v(vision_heads, "vision_heads", "attention heads of the vision tower");
    v(vision_mlp_dim, "vision_mlp_dim", "MLP width of the vision blocks");
    v(num_queries, "num_queries", "learned queries of the Q-Former (the soft prompt's length)");
    v(bridge_dim, "bridge_dim", "width of the Q-Former");
    v(bridge_depth, "bridge_depth", "blocks of the 'bridge' stack (self + cross-attention + MLP)");
    v(bridge_heads, "bridge_heads", "attention heads of the Q-Former");
    v(bridge_mlp_dim, "bridge_mlp_dim", "MLP width of the Q-Former blocks");
    v(embed_dim, "embed_dim", "width of the ITC space");
    v(bridge_context_pos_std, "bridge_context_pos_std",
      "init std of the Q-Former's learned position embeddings of the vision tokens it attends to (added to "
      "the frozen features; vision_ln makes them unit-scale)");
    v(vocab_size, "vocab_size", "token ids are 0..vocab_size-1; must cover the dataset's tokenizer");
    v(max_text_len, "max_text_len", "learned text positions of the Q-Former");
    v(lm_dim, "lm_dim", "width of the language model");
    v(lm_depth, "lm_depth", "blocks of the 'language' stack");
    v(lm_heads, "lm_heads", "attention heads of the language model");
    v(lm_mlp_dim, "lm_mlp_dim", "MLP width of the language blocks");
    v(lm_max_len, "lm_max_len", "positions of the LM (soft prompt + text must fit)");
    v(lm_steps, "lm_steps", "stage (b): optimizer steps of LM pretraining (mini_lm's recipe)");
    v(lm_batch_size, "lm_batch_size", "stage (b): windows per step");
    v(lm_lr, "lm_lr", "stage (b): peak learning rate");
    v(train_split, "train_split", "scene split ('images', 'all_captions', attributes) of stages (a), (c), (d)");
    v(vqa_split, "vqa_split", "question split ('questions', 'answers', 'image_ids' of train_split scenes) of stage (d)");
    v(lm_split, "lm_split", "text corpus split ('tokens') of stage (b)");
    v(val_split, "val_split", "scene split whose stage metrics are logged after each stage ('' = none)");
    v(vision_epochs, "vision_epochs", "stage (a): passes over train_split");
    v(vision_batch_size, "vision_batch_size", "stage (a): scenes per step");
    v(vision_lr, "vision_lr", "stage (a): peak learning rate");
    v(qformer_epochs, "qformer_epochs", "stage (c): passes over train_split");
    v(qformer_lr, "qformer_lr", "stage (c): peak learning rate");
    v(query_cell_weight, "query_cell_weight",
      "stages (c) and (d): weight of the per-cell loss on the query outputs (query i, for each of the grid's cells "
      "i, predicts cell i's class or empty, shade and size through query_cell_head, as stage (a) does from the "
      "patches), so that the soft prompt keeps each position apart; a choice beyond BLIP-2 (0 = off)");
    v(itm_fraction, "itm_fraction",
      "stage (c): share of each batch that ITM scores, as BLIP-2 does for the whole batch: for each of those scenes "
      "its positive pair, a hard-negative caption and a hard-negative image (ITM is the costliest of (c)'s losses: "
      "3 joint sequences per scored scene); in (0, 1]");
    v(qformer_threads, "qformer_threads",
      "stage (c): threads per step, as generative_threads for (d): each slice of the batch computes its ITG, "
      "per-cell loss and ITC embeddings, ITC and the hard negatives come from the joined embeddings, then each slice "
      "scores its share of the ITM pairs; part of the recipe");
    v(generative_steps, "generative_steps", "stage (d): optimizer steps");
    v(generative_batch_size, "generative_batch_size", "stage (d): examples per step");
    v(generative_lr, "generative_lr", "stage (d): peak learning rate");
    v(vqa_fraction, "vqa_fraction", "stage (d): share of the steps that train on VQA (the rest on captions)");
    v(generative_itc_weight, "generative_itc_weight",
      "stage (d): weight of the ITC loss kept beside the LM loss, so the shared Q-Former stays aligned for retrieval "
      "(measured on the same (c) checkpoint: 2 gives test ITC R@1 t2i 25.34, i2t 46.4, VQA 70.16, CIDEr-D 126.8; "
      "1 gives 24.92, 45.0, 72.18, 128.5; (c) alone 24.08, 41.1)");
    v(generative_itc_on_vqa, "generative_itc_on_vqa",
      "stage (d): add the ITC loss on the VQA steps too; false = on the caption steps only (measured over 2000 steps, "
      "in a variant whose prompt rows also cross-attended: 53% more steps/s, but test VQA 51.2 vs 54.9 and ITC R@1 "
      "t2i 14.7 vs 23.6, so the ITC loss helps VQA too)");
    v(generative_threads, "generative_threads",
      "stage (d): each batch splits into this many consecutive slices, each run forward and backward on a thread of "
      "its own with OpenBLAS single-threaded meanwhile; the batch-wide ITC loss joins the slices' embeddings, and the "
      "gradients sum in slice order. The loss is the whole batch's; results depend on the count only through "
      "floating-point order, so it is part of the recipe. 2 = both cores of a 2-core machine (one LibTorch thread "
      "with OpenBLAS's two leaves the second core mostly idle here); 1 = one thread");
    v(qformer_reads_prompt, "qformer_reads_prompt",
      "the Q-Former reads the LM's prompt (a VQA question) beside its queries when it makes the soft prompt, as "
      "BLIP-2's VQA fine-tuning conditions it on the question; false = queries only (BLIP-2's zero-shot form)");
    v(soft_prompt_position, "soft_prompt_position",
      "where the soft prompt enters the LM's input: 'before_target' (after the prompt text, just before the text to "
      "predict, where a small LM's mostly local attention reads it) or 'start' (before all text, as BLIP-2)");
    v(batch_size, "batch_size", "stage (c): scenes per step (the ITC negatives)");
    v(warmup_steps, "warmup_steps", "steps of linear warmup of every stage (then cosine decay to 0)");
    v(weight_decay, "weight_decay", "AdamW weight decay of the Linear weights");
    v(grad_clip, "grad_clip", "clip the global gradient norm to this (0 = off)");
    v(log_every, "log_every", "log the mean training loss every N steps");
  }
  void validate() const;
};

/// The network of mini_blip2. Parameter names (= checkpoint names):
///  - vision: "patch_embed", "vision_pos", stack "vision" (modality "vision"), "vision_ln", and the
///    stage (a) head "cell_head" (per cell: 11 class logits, 10 = empty, then 2 shade, 2 size);
///  - bridge: "queries" [Q, bridge_dim], "bridge_tok_embed", "bridge_text_pos", "bridge_context_pos"
///    (learned positions of the vision tokens, added to them for the cross-attention), stack "bridge"
///    (modality "bridge"; blocks with cross-attention to the vision tokens, on the query rows
///    only), "bridge_ln", ITC projections "itc_vision_proj" / "itc_text_proj", "itc_temp", ITM head
///    "itm_head", "query_cell_head" (query i -> cell i's 15 logits, the layout of cell_head), and
///    "llm_proj" (queries -> LM width, the soft prompt);
///  - language: "lm_tok_embed", "lm_pos", stack "language" (modality "language", causal), "lm_ln_f",
///    head tied to lm_tok_embed (mini_lm's layout, so its weights load by renaming).
class MiniBlip2NetImpl : public torch::nn::Module {
 public:
  MiniBlip2NetImpl(const MiniBlip2Options& o, std::uint64_t seed);

  torch::nn::Linear patchEmbed{nullptr};
  torch::Tensor visionPos;
  TransformerStack vision{nullptr};
  torch::nn::LayerNorm visionLn{nullptr};
  torch::nn::Linear cellHead{nullptr};

  torch::Tensor queries;
  torch::nn::Embedding bridgeTokEmbed{nullptr};
  torch::Tensor bridgeTextPos;
  torch::Tensor bridgeContextPos;
  TransformerStack bridge{nullptr};
  torch::nn::LayerNorm bridgeLn{nullptr};
  torch::nn::Linear itcVisionProj{nullptr}, itcTextProj{nullptr}, itmHead{nullptr}, llmProj{nullptr};
  torch::nn::Linear queryCellHead{nullptr};
  torch::Tensor itcTemp;

  torch::nn::Embedding lmTokEmbed{nullptr};
  torch::Tensor lmPos;
  TransformerStack language{nullptr};
  torch::nn::LayerNorm lmLnF{nullptr};
};
TORCH_MODULE(MiniBlip2Net);

/// A small BLIP-2 (design.md §4): ViT vision tower, Q-Former bridge, decoder LM, trained in
/// BLIP-2's stages (see MiniBlip2Train.cpp and experiments/conf/model/mini_blip2.yaml):
///  (a) vision pretraining, supervised: each scene cell's class (or empty), shade and size from the
///      mean of the cell's patch tokens (a choice: faster and more direct on 2 cores than
///      contrastive pretraining, and these attributes are what captions and questions ask about);
///  (b) LM pretraining on the text corpus: mini_lm's recipe and cache, weights copied in;
///  (c) Q-Former with the vision tower frozen on ITC (max over queries) + ITM (hard negatives
///      sampled by ITC similarity) + ITG (text decoded from the queries), plus, beyond BLIP-2, a
///      per-cell loss on the query outputs (query_cell_weight, default 1; kept in (d) through the
///      frozen query_cell_head): query i predicts cell i's class or empty, shade and size, so each
///      soft-prompt position holds one cell. Measured on the full from-nothing training of an
///      earlier, longer recipe (lm_steps 2000, itm_fraction 1, generative_steps 6000; test
///      split): VQA 72.24 vs 63.32 without it (what_at_position 80.2, attribute 99.8), CIDEr-D
///      132.4 vs 133.0, ITC R@1 i2t/t2i 45.9/26.3 vs 48.4/25.9. ITM scores itm_fraction of each
///      batch (default 0.5: (c) took 9.7 min for 4 epochs on one thread, against 2.9–3.2 min per epoch
///      with ITM on the whole batch; with qformer_threads 2 it takes 8.4 min for 6 epochs);
///  (d) generative: the Q-Former's query outputs through llm_proj as a soft prompt in front of the
///      frozen LM's input, trained on captions and on "question: {q} answer: {a}" (loss on the
///      answer only). Vision and LM stay frozen; Q-Former and llm_proj train. BLIP-2 scores
///      retrieval with its stage-1 checkpoint; here one model serves every task, so stage (d) keeps
///      the ITC loss (weight generative_itc_weight, the scene's caption per example) and the ITC
///      projections frozen: without it the Q-Former drifts and ITC retrieval falls to chance.
///      The ITM head is not trained in (d): ITM re-ranking uses the stage (d) Q-Former as it is.
///      With qformer_reads_prompt (the default) the Q-Former also reads the LM's prompt: the text
///      before the first target token ("[BOS] question {q} answer" for VQA, "[BOS]" for captions,
///      the prefix of a prefix-LM pair) joins the queries in its self-attention (bidirectional; only
///      the query rows cross-attend to the image), and the query rows become the soft prompt. This
///      is how BLIP-2 fine-tunes for VQA ("the question tokens are given as input to the Q-Former
///      and interact with the queries via the self-attention layers", BLIP-2 §4.3) and what
///      InstructBLIP makes general; the LM stays frozen. Retrieval (ITC) uses the queries alone.
///      soft_prompt_position 'before_target' (default) puts the soft prompt after that prompt text,
///      right before the text to predict ("[BOS] question q answer <soft> a", "[BOS] <soft>
///      caption"); BLIP-2 puts it before all text ('start'). The 4-block LM, pretrained on short
///      templated texts, attends mostly to nearby positions: with the soft prompt first it reads
///      it for the first words only (captions began with the right item count and then followed
///      the LM's prior; VQA stayed at 52% with train accuracy equal to test accuracy).
/// Each stage is cached on its own (by its recipe, which includes the earlier stages'), the whole
/// model as cache_dir/models/mini_blip2-<id>.safetensors with its config beside it.
///
/// Deviations from BLIP-2, by size: one MLP serves queries and text in the Q-Former (BLIP-2 has a
/// separate query FFN); [BOS] plays both [CLS] (ITC) and [DEC] (ITG); the Q-Former is trained
/// from scratch rather than from BERT.
///
/// Pruning view: stacks "vision", "bridge", "language" in that order. The calibration loss is the
/// generative path's LM loss: for batches with "prefix_ids"/"target_ids" (the calib split, the
/// prefix-LM split of ECoFLaP) on the target tokens; with "questions"/"answers" on the answer;
/// otherwise on the whole of "captions". States:
///  - "vision": {"hidden"} patch tokens;
///  - "bridge": {"hidden" queries [B,Q,bridge_dim] then (qformer_reads_prompt) the prompt text,
///    "context" vision tokens + bridge_context_pos, "cross_rows" Q and "mask" when the prompt text is padded};
///  - "language": {"hidden" soft prompt + text embeddings, "lm_labels" (next-token targets, -100 =
///    none), "mask" when padding remains}.
class MiniBlip2 : public model::Model,
                  public model::GenerativeHead,
                  public model::ContrastiveHead,
                  public model::MatchingHead {
 public:
  using Options = MiniBlip2Options;
  explicit MiniBlip2(Options options);

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
  /// All states as one forward (concatenated along the batch), then one cross-entropy per state
  /// over its own rows: the same ops per row as lossFromBlock, so each entry equals it.
  torch::Tensor lossesFromBlock(const std::string& stack, int block, const std::vector<model::Batch>& states,
                                const model::Batch& batch) override;

  std::vector<std::vector<std::int64_t>> generate(const model::Batch& images,
                                                  const std::vector<std::vector<std::int64_t>>& prompts,
                                                  const model::GenerationOptions& options) override;
  /// [B, Q, embed_dim]: one normalised ITC embedding per query.
  torch::Tensor imageEmbeddings(const model::Batch& batch) override;
  /// [B, embed_dim] from the Q-Former's text pass ([BOS] output).
  torch::Tensor textEmbeddings(const torch::Tensor& tokens) override;
  double logitScale() const override;
  /// Max over queries of the query-text cosine similarities: [I, T].
  torch::Tensor similarity(const torch::Tensor& images, const torch::Tensor& texts) override;
  torch::Tensor matchLogits(const model::Batch& images, const torch::Tensor& tokens) override;

  /// Builds the network with its seeded initial weights, without loading or training (tests).
  void build(std::int64_t seed);
  /// Token ids of the words "question" and "answer" (the VQA prompt form), from the data source's
  /// tokenizer; set by prepare(), or by tests.
  void setPromptWords(std::int64_t question, std::int64_t answer) { questionId_ = question, answerId_ = answer; }
  const Options& options() const { return options_; }
  MiniBlip2Net& net() { return net_; }
  const std::string& cacheFile() const { return cacheFile_; }

  // Pieces of the network, public for the training stages and tests.
  /// Vision tokens [B, P, vision_dim] after vision_ln, from images [B,1,S,S].
  torch::Tensor visionFeatures(const torch::Tensor& images);
  /// Per-cell logits [B, G*G, 15] of stage (a) from vision features, for a G x G grid.
  torch::Tensor cellLogits(const torch::Tensor& features, std::int64_t grid);
  /// The Q-Former's cross-attention context: the vision features plus bridge_context_pos, the
  /// position of each vision token (stage (a) never needed positions, so its tokens carry little).
  torch::Tensor bridgeContext(const torch::Tensor& features);
  /// Query outputs [B, Q, bridge_dim] (after bridge_ln) of the queries-only pass over features.
  torch::Tensor queryOutputs(const torch::Tensor& features);
  /// Q-Former text-only pass (no cross-attention): hidden [B, T, bridge_dim] after bridge_ln.
  torch::Tensor bridgeText(const torch::Tensor& tokens);
  /// Joint pass of queries and text over features: "itm" bidirectional, "itg" queries see
  /// queries and text sees the queries and earlier text. Hidden [B, Q+T, bridge_dim] after bridge_ln.
  torch::Tensor bridgeJoint(const torch::Tensor& features, const torch::Tensor& tokens, bool itg);
  /// The bridge stack's input state of a joint pass (bridgeJoint without the stack).
  model::Batch jointInputs(const torch::Tensor& features, const torch::Tensor& tokens, bool itg);
  /// The bridge stack's input state that makes the soft prompt of LM prompts `prompt` [B,P]
  /// (right padded): the queries, joined by the prompt text when qformer_reads_prompt.
  model::Batch softPromptInputs(const torch::Tensor& features, const torch::Tensor& prompt);
  /// The soft prompt [B, Q, lm_dim] from the bridge stack's final state (its query rows).
  torch::Tensor softPromptFrom(const model::Batch& bridgeState);
  /// softPromptFrom of the bridge stack run on softPromptInputs.
  torch::Tensor softPrompt(const torch::Tensor& features, const torch::Tensor& prompt);
  /// Each row's LM prompt: its tokens up to the position that predicts the first target, [B,P]
  /// right padded (with labels as lmText returns them).
  static torch::Tensor promptTokens(const torch::Tensor& tokens, const torch::Tensor& labels);
  /// Each row's prompt length (the tokens before its first target), from lmText's labels.
  static std::vector<std::int64_t> promptLengths(const torch::Tensor& labels);
  /// Where the soft prompt of a row with a `promptLength`-token prompt starts among the LM's text
  /// positions: promptLength for soft_prompt_position 'before_target', 0 for 'start'.
  std::int64_t softPromptAt(std::int64_t promptLength) const;
  /// ITM match logits [B] (mean over queries of logit 1) and the full logits [B,2] of the pairs.
  torch::Tensor itmLogits(const torch::Tensor& features, const torch::Tensor& tokens);
  /// Normalised ITC query embeddings [B, Q, E] from query outputs, and text embeddings [B, E].
  torch::Tensor itcImage(const torch::Tensor& queryOut);
  torch::Tensor itcText(const torch::Tensor& textHidden);
  /// ITG next-token logits [B, T, V] of the text part of a joint "itg" pass.
  torch::Tensor itgLogits(const torch::Tensor& jointHidden);
  /// The language stack's input state from the soft prompt [B,Q,lm_dim] and text tokens [B,T]
  /// (right padded) with next-token labels [B,T] (labels[b,i] = the target predicted at text
  /// position i, -100 = none): the soft prompt goes at each row's softPromptAt() position (its
  /// prompt's length, or 0 for 'start'), and the labels move with the positions they belong to
  /// (the last soft-prompt position predicts the first target).
  model::Batch languageInputs(const torch::Tensor& softPrompt, const torch::Tensor& tokens, const torch::Tensor& labels);
  /// The LM text and labels of a batch (prefix/target, question/answer, or captions).
  std::pair<torch::Tensor, torch::Tensor> lmText(const model::Batch& batch) const;
  /// The number of target tokens among lmText's labels (those not -100).
  static std::int64_t targetCount(const torch::Tensor& labels);
  /// Mean cross-entropy of a final language state over its labels.
  torch::Tensor lossFromState(const model::Batch& state);
  /// lossFromState of each of `parts` equal slices of a final language state along the batch
  /// (the logits are computed once for all of them): a 1-D tensor of `parts` losses.
  torch::Tensor lossesFromState(const model::Batch& state, std::int64_t parts);
  /// The final language state of the suffix from block `block` of `stack` given that block's
  /// input `state`, with the LM text of `batch` (lossFromBlock without the loss).
  model::Batch suffixState(const std::string& stack, int block, const model::Batch& state, const model::Batch& batch);

 private:
  void train(const model::ModelContext& ctx);
  void checkBuilt() const;
  std::string recipeOf(const std::string& stage, const model::ModelContext& ctx) const;

  Options options_;
  MiniBlip2Net net_{nullptr};
  std::int64_t questionId_ = -1, answerId_ = -1;
  std::string weightsId_;
  std::string cacheFile_;
};

}  // namespace prunelab::models
