#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "evaluators/metrics/EvaluatorVersions.h"
#include "framework/core/Error.h"
#include "framework/run/Evaluator.h"

namespace prunelab::evaluators {

/// Image captioning by generation (BLIP-2's generate) for a model with a GenerativeHead on a data
/// source with text (data::TextSource): every image of scene split `split` ("images", "image_ids")
/// gets a caption generated after the prompt ([BOS] + the prompt's words, no [EOS]; "" = just
/// [BOS]); the caption is the continuation alone (BLIP drops its prompt too), decoded with
/// TextSource::decodeText. The captions of all evaluated images are scored in one CaptionScorer
/// call (cocoTokenize, BLEU-1..4, CIDEr-D, ROUGE-L; spec-conventions-metrics.md §3b) against
/// TextSource::captionReferences(split), since CIDEr-D's document frequencies depend on the set.
///
/// Defaults follow LAVIS BLIP-2 COCO captioning (5 beams, max_len 30, length_penalty 1: the task
/// passed none when BLIP-2 was evaluated, so generate's default applied) except min_len: BLIP-2 uses
/// 8, but the shortest FashionScenes captions have 5 words ("A picture of one bag.", "A bag at the
/// center."; SceneGenerator's caption templates), so min_len 5 is the largest value every template
/// permits; 8 would force the model past the end of a correct short caption.
///
/// With `limit` N (fewer than the split's images) only the first N images are captioned and scored
/// among themselves (CIDEr-D's df from their references), and the split field of every key says so
/// ("test[:N]").
///
/// Metrics under cap/<dataset>/<split>/ (0..1, as pycocoevalcap and `prunelab score caption`):
/// Bleu_1..Bleu_4, CIDEr, ROUGE_L, and the count images.
///
/// Predictions go to `predictions_file` in the COCO result format ([{"image_id", "caption"}]), next to
/// the COCO references of the evaluated images (<stem>_references.json), so `prunelab score caption`
/// re-scores them to the same values.
class CaptionEvaluator : public run::Evaluator {
 public:
  struct Options {
    std::string split = "test";
    std::string prompt = "";
    std::int64_t num_beams = 5;
    std::int64_t max_len = 30;
    std::int64_t min_len = 5;
    double length_penalty = 1.0;
    std::int64_t batch_size = 64;
    std::int64_t limit = -1;
    std::string predictions_file = "caption_predictions.json";

    template <class V>
    void visit(V& v) {
      v(split, "split", "scene split whose images are captioned (fields 'images', 'image_ids')");
      v(prompt, "prompt", "text the caption continues ('' = just [BOS]); words must be in the data's vocabulary");
      v(num_beams, "num_beams", "beams of the beam search (1 = greedy)");
      v(max_len, "max_len", "most caption tokens generated ([EOS] not counted)");
      v(min_len, "min_len",
        "fewest caption tokens before [EOS] may be generated (BLIP-2: 8; 5 = the shortest FashionScenes caption)");
      v(length_penalty, "length_penalty", "beam ranking sum(log p) / length^penalty");
      v(batch_size, "batch_size", "images per generate call");
      v(limit, "limit", "caption only the first N images (-1 = all); keys then name the split 'split[:N]'");
      v(predictions_file, "predictions_file",
        "COCO caption results file written with the evaluated images' references; relative paths are under the "
        "run's folder (not written outside a run); '' = none");
    }
    void validate() const;
  };

  explicit CaptionEvaluator(Options options);
  std::string version() const override { return kCaptionEvaluatorVersion; }
  std::vector<store::MetricRecord> evaluate(run::EvalContext& ctx) override;

  /// The metrics of `captions` (image id -> caption) against `references` (image id -> reference
  /// captions; the same ids), keys prefixed by `prefix` ("cap/<dataset>/<split>/"): the part of
  /// evaluate() after generation.
  static std::vector<store::MetricRecord> score(const std::map<std::string, std::string>& captions,
                                                const std::map<std::string, std::vector<std::string>>& references,
                                                const std::string& prefix);

 private:
  Options options_;
};

}  // namespace prunelab::evaluators
