#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace prunelab::evaluators {

// VQA accuracy exactly as the official VQAv2 script computes it (GT-Vision-Lab/VQA
// PythonEvaluationTools/vqaEvaluation/vqaEval.py at a013f00; LAVIS vqa_tools/vqa_eval.py is the same):
//
//  1. clean: "\n" and "\t" become spaces, then Python strip();
//  2. normalise the GTs and the prediction only when the GT answers are not all identical
//     (len(set(gts)) > 1); otherwise raw string equality decides, so "Yes" != "yes";
//  3. score = mean over i of min(1, #{j != i : gt_j == pred} / 3): 0, 0.3, 0.6, 0.9, 1 for 0..4+ matches;
//  4. aggregate: round(100 * mean, 2) overall, per answer type and per question type.
//
// Known differences from Python 3 (all outside realistic VQA answers): `\d` in the two regexes
// matches ASCII digits only (Python also accepts other Unicode decimal digits), and lower() uses
// toLowerCodePoint() (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic). round() follows Python 3
// (ties to even on the exact binary value); the Python 2 original rounds exact ties away from zero.

/// Step 1: replaces "\n" and "\t" with " ", then strips Unicode whitespace at both ends.
std::string vqaCleanAnswer(std::string_view answer);

/// processPunctuation: each of ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! is deleted when it occurs
/// next to a space in the input (or the input contains digit,digit), else replaced by a space; then
/// at most 32 periods not followed by a digit are deleted (the re.UNICODE-as-count quirk).
std::string vqaProcessPunctuation(std::string_view text);

/// processDigitArticle: lower(), split(), number words none/zero..ten -> digits, drop a/an/the,
/// apply the 120-entry contraction map (dont -> don't), join with single spaces.
std::string vqaProcessDigitArticle(std::string_view text);

/// vqaProcessDigitArticle(vqaProcessPunctuation(text)): the full answer normaliser.
std::string vqaNormalizeAnswer(std::string_view text);

/// Accuracy in [0, 1] of one prediction against its GT answers (usually 10), steps 1-3 above.
/// Throws when `gtAnswers` is empty.
double vqaQuestionAccuracy(std::string_view prediction, const std::vector<std::string>& gtAnswers);

/// Python 3 round(value, digits): correctly rounded, exact ties to even.
double pythonRound(double value, int digits);

/// One scored question: the fields vqaEval.py reads from the annotation and result files.
struct VqaQuestion {
  std::int64_t questionId = 0;
  std::string prediction;
  std::vector<std::string> answers;  // the GT answers (10 for VQAv2)
  std::string answerType;            // "yes/no", "number", "other"
  std::string questionType;          // e.g. "what color is the"
};

/// Aggregated VQAv2 accuracies, in the reference's units (percent, rounded to 2 decimals).
struct VqaAccuracy {
  double overall = 0.0;
  std::map<std::string, double> perAnswerType;
  std::map<std::string, double> perQuestionType;
  std::map<std::int64_t, double> perQuestion;  // round(100 * acc, 2), like vqaEval.evalQA
  std::size_t numQuestions = 0;
};

/// Accumulates questions one at a time (e.g. batch by batch) and aggregates like vqaEval.evaluate().
class VqaAccuracyAggregator {
 public:
  /// Scores one question; throws on a repeated questionId or an empty answer list.
  double add(const VqaQuestion& question);
  /// Number of questions added so far.
  std::size_t size() const { return perQuestion_.size(); }
  /// Overall / per-type accuracies; throws when nothing was added.
  VqaAccuracy result() const;

 private:
  struct Sum {
    double total = 0.0;
    std::size_t count = 0;
  };
  Sum overall_;
  std::map<std::string, Sum> perAnswerType_;
  std::map<std::string, Sum> perQuestionType_;
  std::map<std::int64_t, double> perQuestion_;
};

/// Convenience wrapper around VqaAccuracyAggregator for a complete question list.
VqaAccuracy evaluateVqa(const std::vector<VqaQuestion>& questions);

/// GQA accuracy (LAVIS GQATask): 100 * mean(normalise(pred) == normalise(gt)), with both normalisers
/// applied to prediction and GT. Throws when the lists are empty or differ in length.
double gqaAccuracy(const std::vector<std::string>& predictions, const std::vector<std::string>& answers);

}  // namespace prunelab::evaluators
