#include "experiments/verbs/ScoreVerb.h"

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

namespace prunelab::app {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

// What the two subcommands share; each subcommand owns one.
struct ScoreRequest {
  fs::path pred;
  fs::path questions;  ///< vqa only
  fs::path ann;
  std::string dataset;
  std::string split;
  bool allowSubset = false;  ///< caption only
  bool allowUnknown = false;
  bool json = false;
};

void addCommonOptions(CLI::App* cmd, ScoreRequest& r) {
  cmd->add_option("--dataset", r.dataset, "dataset name in the metric keys (task/dataset/split/metric)")
      ->capture_default_str();
  cmd->add_option("--split", r.split, "split name in the metric keys")->capture_default_str();
  cmd->add_flag("--allow-unknown", r.allowUnknown,
                "score the predictions whose ids are in the annotations; list the others and mark the score partial "
                "(default: an error naming them)");
  cmd->add_flag("--json", r.json,
                "print one JSON object (metrics, version, complete, num_scored, missing_ids, unknown_ids) instead "
                "of the summary");
}

int printReport(const evaluators::ScoreReport& report, bool json) {
  if (json) {
    std::cout << scoreReportJson(report).dump(2) << "\n";
  } else {
    std::cout << report.summary();
  }
  std::cout.flush();
  return 0;
}

}  // namespace

Json scoreReportJson(const evaluators::ScoreReport& report) {
  Json j;
  Json metrics = Json::object();
  for (const auto& [key, value] : report.metrics) metrics[key] = value;
  j["metrics"] = std::move(metrics);
  j["version"] = report.version;
  j["complete"] = report.complete;
  j["num_scored"] = report.numScored;
  j["missing_ids"] = report.missingIds;
  j["unknown_ids"] = report.unknownIds;
  return j;
}

Verb addScoreVerb(CLI::App& app) {
  auto vqa = std::make_shared<ScoreRequest>();
  vqa->dataset = "vqav2";
  vqa->split = "val";
  auto caption = std::make_shared<ScoreRequest>();
  caption->dataset = "coco";
  caption->split = "test";

  auto* cmd =
      app.add_subcommand("score",
                         "score a predictions file against standard annotation files (VQAv2, COCO captions) with the "
                         "evaluators of in-process runs; nothing is written to the store");
  cmd->require_subcommand(1);

  auto* vqaCmd =
      cmd->add_subcommand("vqa", "VQAv2 accuracy (vqaEval.py): overall and per answer type, percent with 2 decimals");
  vqaCmd->add_option("--pred", vqa->pred, "results file: [{\"question_id\", \"answer\"}, ...]")->required();
  vqaCmd->add_option("--questions", vqa->questions, "VQAv2 questions file ({\"questions\": [...]})")->required();
  vqaCmd->add_option("--ann", vqa->ann, "VQAv2 annotations file ({\"annotations\": [...]}, 10 answers each)")
      ->required();
  addCommonOptions(vqaCmd, *vqa);
  vqaCmd->footer(
      "Annotated questions without a prediction are left out and listed (the score is then PARTIAL).\n"
      "Example: prunelab score vqa --pred results.json --questions vqa_test_questions.json \\\n"
      "           --ann vqa_test_annotations.json --dataset fashion_scenes --split test");

  auto* captionCmd =
      cmd->add_subcommand("caption", "COCO caption metrics (pycocoevalcap): BLEU-1..4, CIDEr-D, ROUGE-L, 0..1");
  captionCmd->add_option("--pred", caption->pred, "results file: [{\"image_id\", \"caption\"}, ...]")->required();
  captionCmd->add_option("--ann", caption->ann, "COCO captions file ({\"images\": [...], \"annotations\": [...]})")
      ->required();
  captionCmd->add_flag("--allow-subset", caption->allowSubset,
                       "score only the predicted images when some have no prediction (PARTIAL; CIDEr-D's document "
                       "frequencies then come from the subset); default: an error");
  addCommonOptions(captionCmd, *caption);
  captionCmd->footer(
      "Example: prunelab score caption --pred captions_results.json --ann captions_test.json \\\n"
      "           --dataset fashion_scenes --split test");

  return {cmd, [vqa, caption, vqaCmd](const CliGlobals&) {
            if (*vqaCmd) {
              return printReport(evaluators::scoreVqaFiles(vqa->pred, vqa->questions, vqa->ann, vqa->dataset,
                                                           vqa->split, vqa->allowUnknown),
                                 vqa->json);
            }
            return printReport(
                evaluators::scoreCaptionFiles(caption->pred, caption->ann, caption->dataset, caption->split,
                                              caption->allowSubset, caption->allowUnknown),
                caption->json);
          }};
}

}  // namespace prunelab::app
