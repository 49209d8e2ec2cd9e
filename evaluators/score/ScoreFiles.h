#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace prunelab::evaluators {

/// What `prunelab score` found: metrics in the reference tool's units and the coverage of the annotations.
struct ScoreReport {
  /// task/dataset/split/metric -> value, e.g. vqa/vqav2/val/acc (percent, 2 decimals), vqa/vqav2/val/acc_yes_no,
  /// cap/coco/test/Bleu_4, cap/coco/test/CIDEr, cap/coco/test/ROUGE_L (0..1, as pycocoevalcap).
  std::vector<std::pair<std::string, double>> metrics;
  /// Evaluator version to store with each metric (kVqaEvaluatorVersion / kCaptionEvaluatorVersion).
  std::string version;
  /// Predicted ids absent from the annotations (only non-empty when unknown ids were allowed), ascending.
  std::vector<std::int64_t> unknownIds;
  /// Annotated ids without a prediction, ascending.
  std::vector<std::int64_t> missingIds;
  /// Predictions that were scored.
  std::size_t numScored = 0;
  /// Every annotated id had a prediction and every prediction was scored; false marks a partial score.
  bool complete = false;

  /// The value of `key`; throws, listing the keys, when there is none.
  double metric(const std::string& key) const;
  /// Human-readable lines: coverage (PARTIAL when not complete, with the first missing/unknown ids) and metrics.
  std::string summary() const;
};

/// Scores a VQA results file ([{"question_id", "answer"}]) against VQAv2-format questions and annotations files
/// with VqaAccuracyAggregator (vqaEval.py), questions in results-file order as the script does. Metrics:
/// vqa/<datasetName>/<split>/acc and acc_<answer type> ('/' and spaces in a type become '_': acc_yes_no,
/// acc_number, acc_other). Annotated questions without a prediction are left out of the score and listed in
/// missingIds (complete = false). Predictions for unknown question ids throw, listing the first ids, unless
/// allowUnknown: then they are listed in unknownIds, not scored, and the report is marked incomplete.
ScoreReport scoreVqaFiles(const std::filesystem::path& pred, const std::filesystem::path& questions,
                          const std::filesystem::path& annotations, const std::string& datasetName = "vqav2",
                          const std::string& split = "val", bool allowUnknown = false);

/// Scores a COCO caption results file ([{"image_id", "caption"}]) against a COCO captions file with
/// CaptionScorer (cocoTokenize, then BLEU-1..4, CIDEr-D, ROUGE-L). Metrics: cap/<datasetName>/<split>/Bleu_1..4,
/// CIDEr, ROUGE_L. Images with captions but no prediction throw unless allowSubset (CaptionScorer's rule: the
/// subset is scored on its own, complete = false, missingIds listed). Unknown image ids are handled as in
/// scoreVqaFiles.
ScoreReport scoreCaptionFiles(const std::filesystem::path& pred, const std::filesystem::path& ann,
                              const std::string& datasetName = "coco", const std::string& split = "test",
                              bool allowSubset = false, bool allowUnknown = false);

}  // namespace prunelab::evaluators
