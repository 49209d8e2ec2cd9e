#include "evaluators/metrics/CaptionScorer.h"

#include <algorithm>

#include "evaluators/metrics/Bleu.h"
#include "evaluators/metrics/CaptionTypes.h"
#include "evaluators/metrics/Cider.h"
#include "evaluators/metrics/PtbTokenizer.h"
#include "evaluators/metrics/Rouge.h"
#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::evaluators {

namespace {

constexpr std::size_t kIdsInMessage = 5;

// "'a', 'b', 'c' and 7 more" for error messages.
std::string someIds(const std::vector<std::string>& ids) {
  std::vector<std::string> shown(ids.begin(),
                                 ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), kIdsInMessage)));
  std::string text = quotedList(shown);
  if (ids.size() > shown.size()) {
    text += " and " + std::to_string(ids.size() - shown.size()) + " more";
  }
  return text;
}

}  // namespace

CaptionScores CaptionScorer::score(const std::map<std::string, std::string>& predictions,
                                   const std::map<std::string, std::vector<std::string>>& references) const {
  PL_CHECK(!predictions.empty(), "no caption predictions to score; run the captioning model on the split first");
  PL_CHECK(!references.empty(), "no reference captions given; load the split's annotation file");
  std::vector<std::string> unknown;
  for (const auto& [id, caption] : predictions) {
    if (references.count(id) == 0) {
      unknown.push_back(id);
    }
  }
  PL_CHECK(unknown.empty(),
           "{} predicted image id(s) have no reference captions: {}; the predictions belong to another split or "
           "the ids are formatted differently (e.g. '42' vs '000000000042')",
           unknown.size(), someIds(unknown));
  std::vector<std::string> missing;
  for (const auto& [id, refs] : references) {
    if (predictions.count(id) == 0) {
      missing.push_back(id);
    }
  }
  PL_CHECK(missing.empty() || options_.allowSubset(),
           "predictions cover {} of {} reference images (missing: {}); score the whole split, or set "
           "CaptionScorerOptions().allowSubset(true) to score the subset (reported with complete = false)",
           predictions.size(), references.size(), someIds(missing));

  CaptionScores out;
  out.numImages = predictions.size();
  out.numReferenceImages = references.size();
  out.complete = missing.empty();
  std::vector<ImageCaptions> images;
  images.reserve(predictions.size());
  for (const auto& [id, caption] : predictions) {
    const std::vector<std::string>& refs = references.at(id);
    PL_CHECK(!refs.empty(), "image '{}' has no reference captions; every scored image needs at least one", id);
    ImageCaptions image;
    image.hypothesis = options_.tokenize() ? cocoTokenize(caption) : caption;
    image.references.reserve(refs.size());
    for (const std::string& ref : refs) {
      image.references.push_back(options_.tokenize() ? cocoTokenize(ref) : ref);
    }
    images.push_back(std::move(image));
    out.imageIds.push_back(id);
  }
  const BleuScore bleu = corpusBleu(images);
  const CiderScore cider = ciderD(images, options_.ciderSigma());
  const RougeScore rouge = rougeL(images);
  out.bleu = bleu.bleu;
  out.bleuPerImage = bleu.perImage;
  out.cider = cider.score;
  out.ciderPerImage = cider.perImage;
  out.rougeL = rouge.score;
  out.rougePerImage = rouge.perImage;
  return out;
}

}  // namespace prunelab::evaluators
