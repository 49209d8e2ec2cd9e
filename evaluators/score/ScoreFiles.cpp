#include "evaluators/score/ScoreFiles.h"

#include <algorithm>
#include <map>
#include <set>

#include "evaluators/metrics/CaptionScorer.h"
#include "evaluators/metrics/EvaluatorVersions.h"
#include "evaluators/metrics/VqaEval.h"
#include "framework/core/Error.h"
#include "framework/core/Suggest.h"
#include "framework/data/StandardFormats.h"

namespace prunelab::evaluators {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kIdsInMessage = 5;

// "1, 2, 3 and 7 more" for messages.
std::string someIds(const std::vector<std::int64_t>& ids) {
  std::string text;
  for (std::size_t i = 0; i < ids.size() && i < kIdsInMessage; ++i) {
    text += (i == 0 ? "" : ", ") + std::to_string(ids[i]);
  }
  if (ids.size() > kIdsInMessage) {
    text += fmt::format(" and {} more", ids.size() - kIdsInMessage);
  }
  return text;
}

// The key prefix task/dataset/split/; a '/' inside a part would shift the four fields of the key.
std::string keyPrefix(const std::string& task, const std::string& datasetName, const std::string& split) {
  for (const std::string* part : {&datasetName, &split}) {
    PL_CHECK(!part->empty() && part->find('/') == std::string::npos,
             "metric keys are task/dataset/split/metric, so the dataset name and split must be non-empty and "
             "contain no '/'; got dataset '{}', split '{}'",
             datasetName, split);
  }
  return task + "/" + datasetName + "/" + split + "/";
}

// Answer types such as "yes/no" become one key field: acc_yes_no.
std::string metricName(const std::string& text) {
  std::string out = text;
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '/' || c == ' '; }, '_');
  return out;
}

void refuseUnknown(const std::vector<std::int64_t>& unknown, const char* what, const fs::path& pred,
                   const fs::path& ann, bool allowUnknown) {
  PL_CHECK(unknown.empty() || allowUnknown,
           "{} prediction(s) in '{}' are for {} not in '{}': {}; score against the annotations of the split the "
           "predictions were made on, or allow unknown ids to score the rest (they are then listed in the report "
           "and it is marked partial)",
           unknown.size(), pred.string(), what, ann.string(), someIds(unknown));
}

}  // namespace

double ScoreReport::metric(const std::string& key) const {
  std::vector<std::string> keys;
  for (const auto& [name, value] : metrics) {
    if (name == key) {
      return value;
    }
    keys.push_back(name);
  }
  PL_THROW("no metric '{}' in the score report{}; it has {}", key, didYouMean(key, keys), quotedList(keys));
}

std::string ScoreReport::summary() const {
  std::string text = fmt::format("scored {} prediction(s)", numScored);
  if (complete) {
    text += ", complete\n";
  } else {
    text += ", PARTIAL";
    if (!missingIds.empty()) {
      text += fmt::format("; {} annotated id(s) without a prediction: {}", missingIds.size(), someIds(missingIds));
    }
    if (!unknownIds.empty()) {
      text += fmt::format("; {} prediction(s) for unknown ids, not scored: {}", unknownIds.size(), someIds(unknownIds));
    }
    text += "\n";
  }
  for (const auto& [key, value] : metrics) {
    text += fmt::format("  {} = {}\n", key, value);
  }
  text += fmt::format("evaluator version {}\n", version);
  return text;
}

ScoreReport scoreVqaFiles(const fs::path& pred, const fs::path& questions, const fs::path& annotations,
                          const std::string& datasetName, const std::string& split, bool allowUnknown) {
  const std::string prefix = keyPrefix("vqa", datasetName, split);
  const std::vector<data::VqaQuestion> gt = data::readVqa(questions, annotations);
  const std::vector<data::VqaPrediction> predictions = data::readVqaPredictions(pred);
  PL_CHECK(!predictions.empty(), "'{}' holds no predictions; expected a list of {{\"question_id\", \"answer\"}}",
           pred.string());

  std::map<std::int64_t, const data::VqaQuestion*> byId;
  for (const data::VqaQuestion& question : gt) {
    byId.emplace(question.questionId, &question);
  }
  ScoreReport report;
  report.version = kVqaEvaluatorVersion;
  std::set<std::int64_t> predicted;
  VqaAccuracyAggregator aggregator;
  try {
    // Results-file order, like vqaEval.py (its sums run over the result's question ids).
    for (const data::VqaPrediction& prediction : predictions) {
      const auto it = byId.find(prediction.questionId);
      if (it == byId.end()) {
        report.unknownIds.push_back(prediction.questionId);
        continue;
      }
      predicted.insert(prediction.questionId);
      const data::VqaQuestion& question = *it->second;
      aggregator.add(
          {question.questionId, prediction.answer, question.answers, question.answerType, question.questionType});
    }
  } catch (const Error& e) {
    PL_THROW("scoring '{}' against '{}': {}", pred.string(), annotations.string(), e.what());
  }
  std::sort(report.unknownIds.begin(), report.unknownIds.end());
  refuseUnknown(report.unknownIds, "question ids", pred, annotations, allowUnknown);
  PL_CHECK(aggregator.size() > 0, "none of the {} predictions in '{}' is for a question in '{}'; nothing to score",
           predictions.size(), pred.string(), annotations.string());
  for (const auto& [id, question] : byId) {
    if (predicted.count(id) == 0) {
      report.missingIds.push_back(id);
    }
  }

  const VqaAccuracy accuracy = aggregator.result();
  report.metrics.emplace_back(prefix + "acc", accuracy.overall);
  for (const auto& [type, value] : accuracy.perAnswerType) {
    if (!type.empty()) {
      report.metrics.emplace_back(prefix + "acc_" + metricName(type), value);
    }
  }
  report.numScored = accuracy.numQuestions;
  report.complete = report.missingIds.empty() && report.unknownIds.empty();
  return report;
}

ScoreReport scoreCaptionFiles(const fs::path& pred, const fs::path& ann, const std::string& datasetName,
                              const std::string& split, bool allowSubset, bool allowUnknown) {
  const std::string prefix = keyPrefix("cap", datasetName, split);
  const data::CocoCaptions gt = data::readCocoCaptions(ann);
  const std::vector<data::CaptionPrediction> predictions = data::readCaptionPredictions(pred);
  PL_CHECK(!predictions.empty(), "'{}' holds no predictions; expected a list of {{\"image_id\", \"caption\"}}",
           pred.string());

  std::set<std::int64_t> images;
  for (const data::CocoImage& image : gt.images) {
    images.insert(image.id);
  }
  // Annotation-file order, as pycocotools' imgToAnns keeps it.
  std::map<std::int64_t, std::vector<std::string>> captionsOf;
  for (const data::CocoCaption& caption : gt.annotations) {
    captionsOf[caption.imageId].push_back(caption.caption);
  }

  ScoreReport report;
  report.version = kCaptionEvaluatorVersion;
  std::map<std::string, std::string> scoredPredictions;
  std::map<std::string, std::vector<std::string>> references;
  std::set<std::int64_t> predicted;
  for (const data::CaptionPrediction& prediction : predictions) {
    if (images.count(prediction.imageId) == 0) {
      report.unknownIds.push_back(prediction.imageId);
      continue;
    }
    predicted.insert(prediction.imageId);
    const std::string id = std::to_string(prediction.imageId);
    scoredPredictions[id] = prediction.caption;
    // An image listed without captions still goes in, so CaptionScorer names it if it is predicted.
    const auto captions = captionsOf.find(prediction.imageId);
    references[id] = captions == captionsOf.end() ? std::vector<std::string>() : captions->second;
  }
  std::sort(report.unknownIds.begin(), report.unknownIds.end());
  refuseUnknown(report.unknownIds, "image ids", pred, ann, allowUnknown);
  PL_CHECK(!scoredPredictions.empty(), "none of the {} predictions in '{}' is for an image in '{}'; nothing to score",
           predictions.size(), pred.string(), ann.string());
  // The reference set is the images that have captions; images listed without any cannot be scored.
  for (const auto& [imageId, captions] : captionsOf) {
    if (predicted.count(imageId) == 0) {
      report.missingIds.push_back(imageId);
      references[std::to_string(imageId)] = captions;
    }
  }
  PL_CHECK(report.missingIds.empty() || allowSubset,
           "'{}' has captions for {} of the {} images with references in '{}' (missing: {}); score the whole "
           "split, or allow a subset to score only the predicted images (reported as partial; CIDEr-D's document "
           "frequencies then come from the subset)",
           pred.string(), scoredPredictions.size(), captionsOf.size(), ann.string(), someIds(report.missingIds));

  CaptionScores scores;
  try {
    scores = CaptionScorer(CaptionScorerOptions().allowSubset(allowSubset)).score(scoredPredictions, references);
  } catch (const Error& e) {
    PL_THROW("scoring '{}' against '{}': {}", pred.string(), ann.string(), e.what());
  }
  for (std::size_t n = 0; n < scores.bleu.size(); ++n) {
    report.metrics.emplace_back(fmt::format("{}Bleu_{}", prefix, n + 1), scores.bleu[n]);
  }
  report.metrics.emplace_back(prefix + "CIDEr", scores.cider);
  report.metrics.emplace_back(prefix + "ROUGE_L", scores.rougeL);
  report.numScored = scores.numImages;
  report.complete = scores.complete && report.unknownIds.empty();
  return report;
}

}  // namespace prunelab::evaluators
