#include "evaluators/vqa/VqaEvaluator.h"

#include <cmath>
#include <map>
#include <unordered_map>

#include "evaluators/common/TextTask.h"
#include "evaluators/metrics/VqaEval.h"
#include "framework/core/Log.h"
#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"

namespace prunelab::evaluators {

void VqaEvaluator::Options::validate() const {
  PL_CHECK(prompt.find("{}") != std::string::npos,
           "vqa: prompt '{}' has no '{{}}' for the question, e.g. 'question: {{}} answer:'", prompt);
  generationOptions(num_beams, max_len, min_len, length_penalty);
  PL_CHECK(batch_size > 0, "batch_size must be positive, got {}", batch_size);
  PL_CHECK(limit == -1 || limit > 0, "limit must be -1 (all) or positive, got {}", limit);
}

VqaEvaluator::VqaEvaluator(Options options) : options_(std::move(options)) { options_.validate(); }

std::vector<store::MetricRecord> VqaEvaluator::evaluate(run::EvalContext& ctx) {
  auto& head = requireGenerativeHead(ctx.model, "vqa");
  const data::TextSource& text = requireTextSource(ctx.data, "vqa", "the questions with their answers and a tokenizer");
  // The template's own words first: a typo in the prompt fails before any question is read.
  const auto unknown = unknownWords(text, fillPlaceholder(options_.prompt, ""));
  PL_CHECK(unknown.empty(),
           "vqa: the word '{}' of prompt '{}' is not in the data source's vocabulary (it would be [UNK]): change "
           "eval.*.prompt",
           unknown.empty() ? "" : unknown.front(), options_.prompt);

  const std::string splitName = "vqa_" + options_.split;
  auto dataset = ctx.data.split(splitName);
  std::vector<data::VqaQuestion> questions = text.vqaQuestions(options_.split);
  PL_CHECK(dataset->size() == static_cast<std::int64_t>(questions.size()),
           "vqa: split '{}' has {} examples but the data source lists {} questions for '{}'; they must be the same "
           "questions in the same order",
           splitName, dataset->size(), questions.size(), options_.split);
  const std::int64_t n = options_.limit < 0 ? dataset->size() : std::min(options_.limit, dataset->size());
  PL_CHECK(n > 0, "split '{}' is empty: nothing to evaluate", splitName);
  questions.resize(static_cast<std::size_t>(n));
  const std::string label = limitedSplitName(options_.split, options_.limit, dataset->size());
  // The prior's questions before any generation: a missing split fails now.
  std::vector<data::VqaQuestion> priorFit;
  if (!options_.prior_split.empty()) {
    try {
      priorFit = text.vqaQuestions(options_.prior_split);
    } catch (const Error& e) {
      PL_THROW(
          "vqa: the question-only prior is fitted on the questions of split '{}', which the data source cannot give "
          "({}): set eval.<name>.prior_split to a split it has, or '' for no prior",
          options_.prior_split, e.what());
    }
    PL_CHECK(!priorFit.empty(),
             "vqa: split '{}' has no questions to fit the question-only prior on: set eval.<name>.prior_split to "
             "another split, or '' for no prior",
             options_.prior_split);
  }

  std::vector<std::vector<std::int64_t>> prompts;
  prompts.reserve(questions.size());
  for (const auto& q : questions) {
    const std::string filled = fillPlaceholder(options_.prompt, q.question);
    const auto bad = unknownWords(text, q.question);
    PL_CHECK(bad.empty(), "vqa: question {} ('{}') has the word '{}', which the data source's tokenizer does not know",
             q.questionId, q.question, bad.empty() ? "" : bad.front());
    prompts.push_back(text.encodeText(filled, -1, /*addBos=*/true, /*addEos=*/false));
    PL_CHECK(static_cast<std::int64_t>(prompts.back().size()) <= text.maxTextLength(),
             "vqa: the prompt of question {} ('{}') is {} tokens with [BOS], more than the data source's text length "
             "{}: shorten eval.*.prompt",
             q.questionId, filled, prompts.back().size(), text.maxTextLength());
  }

  const auto generation =
      generationOptions(options_.num_beams, options_.max_len, options_.min_len, options_.length_penalty);
  torch::NoGradGuard noGrad;
  ctx.model.module().eval();
  data::BatchSampler sampler(*dataset, options_.batch_size, false, 0, n);
  std::vector<std::string> answers;
  answers.reserve(questions.size());
  Progress progress("evaluate vqa/" + label, sampler.numBatches(), "batch");
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
    const auto indices = sampler.indices(b);
    const auto batch = dataset->get(indices);
    std::vector<std::vector<std::int64_t>> batchPrompts;
    for (std::int64_t i : indices) batchPrompts.push_back(prompts[static_cast<std::size_t>(i)]);
    if (batch.has("question_ids")) {
      const auto ids = batch.at("question_ids").to(torch::kInt64).contiguous();
      for (std::size_t j = 0; j < indices.size(); ++j) {
        const auto& q = questions[static_cast<std::size_t>(indices[j])];
        PL_CHECK(ids.data_ptr<std::int64_t>()[j] == q.questionId,
                 "vqa: example {} of '{}' is question {}, but the data source's question list has {} there", indices[j],
                 splitName, ids.data_ptr<std::int64_t>()[j], q.questionId);
      }
    }
    const auto generated = head.generate(batch, batchPrompts, generation);
    PL_CHECK(generated.size() == indices.size(), "vqa: generate returned {} answers for {} questions", generated.size(),
             indices.size());
    for (const auto& ids : generated) answers.push_back(text.decodeText(ids));
    progress.advance();
  }
  progress.finish();

  const std::filesystem::path file = outputFile(options_.predictions_file, ctx.outputDir);
  if (!file.empty()) {
    std::vector<data::VqaPrediction> predictions;
    for (std::size_t i = 0; i < questions.size(); ++i) predictions.push_back({questions[i].questionId, answers[i]});
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
    const auto questionsFile = withStemSuffix(file, "_questions"),
               annotationsFile = withStemSuffix(file, "_annotations");
    data::writeVqaPredictions(file, predictions);
    data::writeVqa(questionsFile, annotationsFile, questions);
    logInfo(
        "vqa: {} answers in '{}'; re-score with: prunelab score vqa --pred {} --questions {} --ann {} --dataset {} "
        "--split '{}'",
        predictions.size(), file.string(), file.string(), questionsFile.string(), annotationsFile.string(),
        ctx.data.name(), label);
  }
  const std::string prefix = "vqa/" + ctx.data.name() + "/" + label + "/";
  auto out = score(questions, answers, prefix);
  if (!priorFit.empty()) {
    // Only the accuracies of the prior, renamed prior_<key>.
    for (auto& r : score(questions, priorAnswers(priorFit, questions), prefix)) {
      const std::string key = r.key.substr(prefix.size());
      if (key != "acc" && key.rfind("acc_qtype_", 0) != 0) continue;
      r.key = prefix + "prior_" + key;
      out.push_back(r);
    }
  }
  return out;
}

std::vector<std::string> VqaEvaluator::priorAnswers(const std::vector<data::VqaQuestion>& fit,
                                                    const std::vector<data::VqaQuestion>& questions) {
  PL_CHECK(!fit.empty(), "vqa: the question-only prior needs questions to fit on");
  // Counts of the multiple-choice answers by question text, by question type and overall; std::map
  // so that ties go to the alphabetically first answer on every platform.
  using Counts = std::map<std::string, std::int64_t>;
  std::unordered_map<std::string, Counts> byQuestion, byType;
  Counts overall;
  for (const auto& q : fit) {
    ++byQuestion[q.question][q.multipleChoiceAnswer];
    ++byType[q.questionType][q.multipleChoiceAnswer];
    ++overall[q.multipleChoiceAnswer];
  }
  auto mostFrequent = [](const Counts& counts) {
    auto best = counts.begin();
    for (auto it = counts.begin(); it != counts.end(); ++it)
      if (it->second > best->second) best = it;
    return best->first;
  };
  const std::string fallback = mostFrequent(overall);
  std::vector<std::string> out;
  out.reserve(questions.size());
  for (const auto& q : questions) {
    if (auto it = byQuestion.find(q.question); it != byQuestion.end()) {
      out.push_back(mostFrequent(it->second));
    } else if (auto t = byType.find(q.questionType); t != byType.end()) {
      out.push_back(mostFrequent(t->second));
    } else {
      out.push_back(fallback);
    }
  }
  return out;
}

std::vector<store::MetricRecord> VqaEvaluator::score(const std::vector<data::VqaQuestion>& questions,
                                                     const std::vector<std::string>& answers,
                                                     const std::string& prefix) {
  PL_CHECK(questions.size() == answers.size(), "vqa: {} answers for {} questions", answers.size(), questions.size());
  PL_CHECK(!questions.empty(), "vqa: no questions to score");
  VqaAccuracyAggregator aggregator;
  std::vector<std::string> canonical;
  for (std::size_t i = 0; i < questions.size(); ++i) {
    const auto& q = questions[i];
    aggregator.add({q.questionId, answers[i], q.answers, q.answerType, q.questionType});
    canonical.push_back(q.multipleChoiceAnswer);
  }
  const VqaAccuracy accuracy = aggregator.result();
  std::vector<store::MetricRecord> out;
  out.push_back({prefix + "acc", accuracy.overall, 0, ""});
  for (const auto& [type, value] : accuracy.perAnswerType)
    if (!type.empty()) out.push_back({prefix + "acc_" + metricKeyField(type), value, 0, ""});
  for (const auto& [type, value] : accuracy.perQuestionType)
    if (!type.empty()) out.push_back({prefix + "acc_qtype_" + metricKeyField(type), value, 0, ""});
  out.push_back({prefix + "exact_match", gqaAccuracy(answers, canonical), 0, ""});
  out.push_back({prefix + "questions", static_cast<double>(accuracy.numQuestions), 0, ""});
  return out;
}

}  // namespace prunelab::evaluators
