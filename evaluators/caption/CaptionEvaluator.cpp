#include "evaluators/caption/CaptionEvaluator.h"

#include <cmath>

#include "evaluators/common/TextTask.h"
#include "evaluators/metrics/CaptionScorer.h"
#include "framework/core/Log.h"
#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"

namespace prunelab::evaluators {

void CaptionEvaluator::Options::validate() const {
  PL_CHECK(prompt.find("{}") == std::string::npos,
           "caption: prompt '{}' has a '{{}}', but a caption prompt is the same text for every image", prompt);
  generationOptions(num_beams, max_len, min_len, length_penalty);
  PL_CHECK(batch_size > 0, "batch_size must be positive, got {}", batch_size);
  PL_CHECK(limit == -1 || limit > 0, "limit must be -1 (all) or positive, got {}", limit);
}

CaptionEvaluator::CaptionEvaluator(Options options) : options_(std::move(options)) { options_.validate(); }

std::vector<store::MetricRecord> CaptionEvaluator::evaluate(run::EvalContext& ctx) {
  auto& head = requireGenerativeHead(ctx.model, "caption");
  const data::TextSource& text = requireTextSource(ctx.data, "caption", "reference captions and a tokenizer");
  const std::vector<std::int64_t> prompt = encodePrompt(text, options_.prompt, "caption", "prompt");

  auto dataset = ctx.data.split(options_.split);
  const data::CocoCaptions coco = text.captionReferences(options_.split);
  PL_CHECK(dataset->size() == static_cast<std::int64_t>(coco.images.size()),
           "caption: split '{}' has {} examples but the data source lists {} images with references for it; they "
           "must be the same images in the same order",
           options_.split, dataset->size(), coco.images.size());
  const std::int64_t n = options_.limit < 0 ? dataset->size() : std::min(options_.limit, dataset->size());
  PL_CHECK(n > 0, "split '{}' is empty: nothing to evaluate", options_.split);
  const std::string label = limitedSplitName(options_.split, options_.limit, dataset->size());

  // The references of the evaluated images, in annotation-file order (pycocotools' imgToAnns).
  std::map<std::string, std::vector<std::string>> references;
  data::CocoCaptions evaluated;
  evaluated.images.assign(coco.images.begin(), coco.images.begin() + n);
  for (const auto& image : evaluated.images) references[std::to_string(image.id)];
  for (const auto& caption : coco.annotations) {
    const auto it = references.find(std::to_string(caption.imageId));
    if (it == references.end()) continue;
    it->second.push_back(caption.caption);
    evaluated.annotations.push_back(caption);
  }

  const auto generation =
      generationOptions(options_.num_beams, options_.max_len, options_.min_len, options_.length_penalty);
  torch::NoGradGuard noGrad;
  ctx.model.module().eval();
  data::BatchSampler sampler(*dataset, options_.batch_size, false, 0, n);
  std::map<std::string, std::string> captions;
  std::vector<data::CaptionPrediction> predictions;
  Progress progress("evaluate caption/" + label, sampler.numBatches(), "batch");
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
    const auto indices = sampler.indices(b);
    const auto batch = dataset->get(indices);
    if (batch.has("image_ids")) {
      const auto ids = batch.at("image_ids").to(torch::kInt64).contiguous();
      for (std::size_t j = 0; j < indices.size(); ++j) {
        const std::int64_t expected = coco.images[static_cast<std::size_t>(indices[j])].id;
        PL_CHECK(ids.data_ptr<std::int64_t>()[j] == expected,
                 "caption: example {} of '{}' is image {}, but the data source's reference list has image {} there",
                 indices[j], options_.split, ids.data_ptr<std::int64_t>()[j], expected);
      }
    }
    const std::vector<std::vector<std::int64_t>> prompts(indices.size(), prompt);
    const auto generated = head.generate(batch, prompts, generation);
    PL_CHECK(generated.size() == indices.size(), "caption: generate returned {} captions for {} images",
             generated.size(), indices.size());
    for (std::size_t j = 0; j < indices.size(); ++j) {
      const std::int64_t id = coco.images[static_cast<std::size_t>(indices[j])].id;
      predictions.push_back({id, text.decodeText(generated[j])});
      captions[std::to_string(id)] = predictions.back().caption;
    }
    progress.advance();
  }
  progress.finish();

  const std::filesystem::path file = outputFile(options_.predictions_file, ctx.outputDir);
  if (!file.empty()) {
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
    const auto referencesFile = withStemSuffix(file, "_references");
    data::writeCaptionPredictions(file, predictions);
    data::writeCocoCaptions(referencesFile, evaluated);
    logInfo(
        "caption: {} captions in '{}'; re-score with: prunelab score caption --pred {} --ann {} --dataset {} "
        "--split '{}'",
        predictions.size(), file.string(), file.string(), referencesFile.string(), ctx.data.name(), label);
  }
  return score(captions, references, "cap/" + ctx.data.name() + "/" + label + "/");
}

std::vector<store::MetricRecord> CaptionEvaluator::score(
    const std::map<std::string, std::string>& captions,
    const std::map<std::string, std::vector<std::string>>& references, const std::string& prefix) {
  const CaptionScores scores = CaptionScorer().score(captions, references);
  std::vector<store::MetricRecord> out;
  for (std::size_t k = 0; k < scores.bleu.size(); ++k)
    out.push_back({fmt::format("{}Bleu_{}", prefix, k + 1), scores.bleu[k], 0, ""});
  out.push_back({prefix + "CIDEr", scores.cider, 0, ""});
  out.push_back({prefix + "ROUGE_L", scores.rougeL, 0, ""});
  out.push_back({prefix + "images", static_cast<double>(scores.numImages), 0, ""});
  return out;
}

}  // namespace prunelab::evaluators
