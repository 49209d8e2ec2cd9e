#include "evaluators/metrics/Rouge.h"

#include <algorithm>

#include "evaluators/metrics/NumpySum.h"
#include "evaluators/metrics/Utf8.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {

std::size_t lcsLength(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  const std::vector<std::string_view>& longer = a.size() >= b.size() ? a : b;
  const std::vector<std::string_view>& shorter = a.size() >= b.size() ? b : a;
  std::vector<std::size_t> previous(shorter.size() + 1, 0);
  std::vector<std::size_t> current(shorter.size() + 1, 0);
  for (const std::string_view& x : longer) {
    for (std::size_t j = 1; j <= shorter.size(); ++j) {
      current[j] = x == shorter[j - 1] ? previous[j - 1] + 1 : std::max(previous[j], current[j - 1]);
    }
    previous.swap(current);
  }
  return previous[shorter.size()];
}

double rougeLImage(std::string_view candidate, const std::vector<std::string>& references, double beta) {
  PL_CHECK(!references.empty(), "ROUGE-L needs at least one reference caption per image; this image has none");
  const std::vector<std::string_view> tokensC = pythonSplitOnSpace(candidate);
  double precisionMax = 0.0;
  double recallMax = 0.0;
  for (const std::string& reference : references) {
    const std::vector<std::string_view> tokensR = pythonSplitOnSpace(reference);
    const auto lcs = static_cast<double>(lcsLength(tokensR, tokensC));
    precisionMax = std::max(precisionMax, lcs / static_cast<double>(tokensC.size()));
    recallMax = std::max(recallMax, lcs / static_cast<double>(tokensR.size()));
  }
  if (precisionMax == 0.0 || recallMax == 0.0) {
    return 0.0;
  }
  const double beta2 = beta * beta;
  return ((1.0 + beta2) * precisionMax * recallMax) / (recallMax + beta2 * precisionMax);
}

RougeScore rougeL(const std::vector<ImageCaptions>& images, double beta) {
  PL_CHECK(!images.empty(), "ROUGE-L of zero images is undefined; pass the predictions of the whole split");
  RougeScore out;
  out.perImage.reserve(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    PL_CHECK(!images[i].references.empty(),
             "ROUGE-L needs at least one reference caption per image, but image #{} (in input order) has none", i);
    const double score = rougeLImage(images[i].hypothesis, images[i].references, beta);
    out.perImage.push_back(score);
  }
  out.score = numpyMean(out.perImage);
  return out;
}

}  // namespace prunelab::evaluators
