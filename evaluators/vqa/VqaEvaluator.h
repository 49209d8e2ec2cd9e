#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evaluators/metrics/EvaluatorVersions.h"
#include "framework/core/Error.h"
#include "framework/data/StandardFormats.h"
#include "framework/run/Evaluator.h"

namespace prunelab::evaluators {

/// Open-ended VQA by generation (BLIP-2's predict_answers with inference_method "generate") for a
/// model with a GenerativeHead on a data source with text (data::TextSource): for each question of
/// split "vqa_<split>" (fields "images", "question_ids"), the prompt with the question in place of
/// "{}" is encoded as [BOS] + words (no [EOS]), the model generates an answer with beam search,
/// TextSource::decodeText turns it into words, and the answers are scored against
/// TextSource::vqaQuestions(split) (10 answers each) by vqaEval.py's rules (VqaEval.h,
/// spec-conventions-metrics.md §3a).
///
/// Defaults are LAVIS BLIP-2's VQAv2 zero-shot settings: 5 beams, max_len 10, min_len 1 and
/// length_penalty -1, the default of blip2_t5.predict_answers (LAVIS's VQA task never passes one, so
/// the Flan-T5 models behind BLIP-2's reported VQA numbers run with -1; blip2_opt defaults to 0). With
/// the HuggingFace rule (sum log p / length^penalty) -1 favours short answers, as VQA answers are.
/// The prompt is LAVIS's "Question: {} Short answer:" in the FashionScenes vocabulary ("short" is not
/// a FashionScenes word), which is also the form of the scenes' LM corpus ("question: ... answer: ...").
///
/// With `limit` N (fewer than the split's questions) only the first N questions are evaluated and
/// the split field of every key says so ("test[:N]"), so a subset never passes for the split.
///
/// Metrics under vqa/<dataset>/<split>/ (percent): acc (vqaEval overall, 2 decimals), acc_<answer
/// type> ("yes/no" -> acc_yes_no, acc_number, acc_other) as `prunelab score vqa` names them,
/// acc_qtype_<question type> (vqaEval's per-question-type accuracy), exact_match (normalised
/// prediction == normalised multiple-choice answer, GQA's rule) and the count questions.
///
/// Beside the model, the question-only prior (Goyal et al.'s "prior" baselines, VQAv2 §5): each
/// evaluated question answered by the most frequent multiple-choice answer of the same question text
/// among the questions of `prior_split` (ties: the alphabetically first), else of its question type,
/// else of the whole split; scored by the same rules as prior_acc and prior_acc_qtype_<type>. What a
/// model scores above it is what it reads from the image: a model near prior_acc answers blind.
///
/// Predictions go to `predictions_file` in the VQA result format ([{"question_id", "answer"}]), next
/// to the questions and annotations of the evaluated questions (<stem>_questions.json,
/// <stem>_annotations.json), so `prunelab score vqa` re-scores them to the same acc values.
class VqaEvaluator : public run::Evaluator {
 public:
  struct Options {
    std::string split = "test";
    std::string prompt = "question: {} answer:";
    std::int64_t num_beams = 5;
    std::int64_t max_len = 10;
    std::int64_t min_len = 1;
    double length_penalty = -1.0;
    std::int64_t batch_size = 64;
    std::int64_t limit = -1;
    std::string predictions_file = "vqa_predictions.json";
    std::string prior_split = "train";

    template <class V>
    void visit(V& v) {
      v(split, "split", "scene split whose questions are answered (batches of 'vqa_<split>')");
      v(prompt, "prompt", "prompt; '{}' is replaced by the question; every word must be in the data's vocabulary");
      v(num_beams, "num_beams", "beams of the beam search (1 = greedy)");
      v(max_len, "max_len", "most answer tokens generated ([EOS] not counted)");
      v(min_len, "min_len", "fewest answer tokens before [EOS] may be generated");
      v(length_penalty, "length_penalty",
        "beam ranking sum(log p) / length^penalty; -1 as BLIP-2 (Flan-T5) VQA, favouring short answers");
      v(batch_size, "batch_size", "questions per generate call");
      v(limit, "limit", "answer only the first N questions (-1 = all); keys then name the split 'split[:N]'");
      v(predictions_file, "predictions_file",
        "VQA results file written with the evaluated questions' annotations; relative paths are under the run's "
        "folder (not written outside a run); '' = none");
      v(prior_split, "prior_split",
        "split whose questions fit the question-only prior (prior_acc, prior_acc_qtype_*); '' = no prior");
    }
    void validate() const;
  };

  explicit VqaEvaluator(Options options);
  std::string version() const override { return kVqaEvaluatorVersion; }
  std::vector<store::MetricRecord> evaluate(run::EvalContext& ctx) override;

  /// The metrics of `answers` (answers[i] answers questions[i]), keys prefixed by `prefix`
  /// ("vqa/<dataset>/<split>/"): the part of evaluate() after generation.
  static std::vector<store::MetricRecord> score(const std::vector<data::VqaQuestion>& questions,
                                                const std::vector<std::string>& answers, const std::string& prefix);

  /// The question-only prior's answer to each of `questions`, fitted on `fit` (see the class comment).
  static std::vector<std::string> priorAnswers(const std::vector<data::VqaQuestion>& fit,
                                               const std::vector<data::VqaQuestion>& questions);

 private:
  Options options_;
};

}  // namespace prunelab::evaluators
