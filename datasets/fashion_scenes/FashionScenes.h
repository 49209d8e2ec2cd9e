#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "datasets/fashion_scenes/SceneGenerator.h"
#include "datasets/fashion_scenes/WordTokenizer.h"
#include "framework/data/Dataset.h"
#include "framework/data/StandardFormats.h"
#include "framework/data/TextSource.h"

namespace prunelab::datasets {

/// FashionScenes (design.md §5): grid scenes of Fashion-MNIST items with captions and VQA questions,
/// plus the sets derived from them. Text fields are token ids of `tokenizer()` padded with [PAD]=0
/// to `max_text_len`; unless said otherwise a text is framed as [BOS] words [EOS].
///
/// Splits and their batch fields:
///  - "train", "val", "test" (one example per scene): "images" float [B,1,H,W] in [0,1];
///    "image_ids" [B]; "labels", "shades", "sizes" [B,G*G] per cell, row-major (class 0..9 /
///    0 light 1 dark / 0 large 1 small; -1 for an empty cell); "all_captions" [B,5,T];
///    "captions" [B,T], the caption number (scene index mod 5) of each scene, so every template
///    position is used equally often across a split; "caption_index" [B] says which.
///  - "calib": `calib_size` image-text pairs sampled (seeded) from train scenes only, never from
///    val/test, with the prefix-LM split of ECoFLaP (spec-ecoflap-efficientvlm.md §1.2): a caption of
///    n words is cut after k words, k uniform in [1, max(1, n/2)] (the reference cuts the string at a
///    character, which a word-level vocabulary cannot represent). "prefix_ids" = [BOS] first k words,
///    "target_ids" = remaining words [EOS], plus "captions", "caption_index", "images", "image_ids".
///  - "vqa_train", "vqa_val", "vqa_test" (one example per question): "images", "image_ids",
///    "question_ids", "questions" [B,T], "answers" [B,T] = multiple-choice answer words [EOS] (a
///    decoder target, no [BOS]), "answer_type" [B] (0 yes/no, 1 number, 2 other), "question_type" [B]
///    (QuestionType). The 10 human answers are in vqaQuestions() for the VQA metric.
///  - "lm_train", "lm_val", "lm_test": the text corpus of the scenes of that split, every caption
///    and "question: ... answer: ..." string; field "tokens" [B,T].
///  - "zeroshot": single items cut from test scenes (their cell, pixels unchanged) and centred on a
///    blank canvas of the scene size; "images", "labels" [B], "image_ids" [B] (the source scene).
///
/// As a data::TextSource it gives text tasks the tokenizer, the zero-shot class names
/// (SceneGenerator::classNames()) and the references of "train"/"val"/"test" in the forms
/// `prunelab data export` writes (SceneExport's sceneCocoCaptions / sceneVqaQuestions), so that
/// in-process scores and `prunelab score` on an export agree.
class FashionScenes : public data::DataSource, public data::TextSource {
 public:
  struct Options : SceneGenerator::Options {
    std::int64_t calib_size = 128;
    std::int64_t max_text_len = 32;
    std::int64_t zeroshot_size = 1000;
    std::string import_dir;

    template <class V>
    void visit(V& v) {
      SceneGenerator::Options::visit(v);
      v(calib_size, "calib_size", "image-text pairs in the calib split (sampled from train scenes)");
      v(max_text_len, "max_text_len", "token length T of every text field, [BOS]/[EOS] included");
      v(zeroshot_size, "zeroshot_size", "single-item images in the zeroshot split (-1 = every test item)");
      v(import_dir, "import_dir",
        "read train/val/test from this folder (written by SceneExport) instead of generating them");
    }
    void validate() const;
  };

  explicit FashionScenes(Options options);
  void prepare() override;
  std::shared_ptr<const data::Dataset> split(const std::string& name) const override;
  std::vector<std::string> splits() const override;
  /// sha256 of the generator fingerprint (IDX file hashes + generator parameters), the derived-set
  /// parameters and the tokenizer; an import of an unedited export gives the same value.
  std::string fingerprint() const override;
  std::string name() const override { return "fashion_scenes"; }

  // data::TextSource
  std::vector<std::int64_t> encodeText(const std::string& text, std::int64_t maxLen = -1, bool addBos = false,
                                       bool addEos = false) const override;
  std::string decodeText(const std::vector<std::int64_t>& ids) const override;
  bool knowsAllWords(const std::string& text) const override;
  std::int64_t maxTextLength() const override { return options_.max_text_len; }
  std::vector<std::string> classNames() const override { return SceneGenerator::classNames(); }
  /// The questions of scene split "train", "val" or "test" in VQAv2 form, in "vqa_<split>" order.
  std::vector<data::VqaQuestion> vqaQuestions(const std::string& split) const override;
  /// The images and 5 captions of scene split "train", "val" or "test" in COCO form, images in the
  /// split's order (image id = the batches' "image_ids"), as captions_<split>.json of an export.
  data::CocoCaptions captionReferences(const std::string& split) const override;

  /// The scenes of "train", "val" or "test", for evaluators (captions, 10-answer questions).
  const std::vector<Scene>& scenes(const std::string& split) const;
  /// The LM corpus strings of scene split "train", "val" or "test", in "lm_<split>" order.
  const std::vector<std::string>& lmTexts(const std::string& split) const;
  /// The tokenizer of every text field (the closed FashionScenes vocabulary).
  const WordTokenizer& tokenizer() const { return tokenizer_; }
  /// Fingerprint of the generated (or, for an unedited import, originally generated) scenes.
  const std::string& generatorFingerprint() const { return generatorFingerprint_; }
  const Options& options() const { return options_; }

 private:
  void checkPrepared(const std::string& what) const;

  Options options_;
  bool prepared_ = false;
  std::map<std::string, std::vector<Scene>> scenes_;
  std::map<std::string, std::vector<std::string>> lmTexts_;
  std::map<std::string, std::shared_ptr<const data::Dataset>> splits_;
  WordTokenizer tokenizer_;
  std::string generatorFingerprint_;
  std::string fingerprint_;
};

}  // namespace prunelab::datasets
