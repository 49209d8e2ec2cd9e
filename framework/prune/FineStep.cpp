#include "framework/prune/FineStep.h"

#include <algorithm>
#include <vector>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"
#include "framework/profile/MemoryTracker.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/Selection.h"

namespace prunelab::prune {

namespace {
void checkOneOf(const std::string& key, const std::string& value, const std::vector<std::string>& allowed,
                const std::string& context = "") {
  PL_CHECK(std::find(allowed.begin(), allowed.end(), value) != allowed.end(), "{} '{}' is not supported{}{}; use {}",
           key, value, context, didYouMean(value, allowed), quotedList(allowed));
}
}  // namespace

void FineStepOptions::validate() const {
  checkOneOf("reconstruction", reconstruction, {"none", "obs"});
  if (reconstruction == "obs") {
    checkOneOf("selection", selection, {"adaptive", "nm"}, " with reconstruction=obs (SparseGPT picks its own mask)");
    sparseGpt().validate();
  } else {
    checkOneOf("score", score, {"magnitude", "wanda"});
    checkOneOf("selection", selection, {"per_row", "per_matrix", "nm", "variant"});
  }
  PL_CHECK(sparsity >= 0.0 && sparsity < 1.0, "sparsity must be in [0, 1), got {}: it is the fraction removed",
           sparsity);
  if (selection == "nm")
    PL_CHECK(nm.n >= 1 && nm.n < nm.m, "N:M needs 1 <= nm.n < nm.m (n pruned of every m), got {}:{}; e.g. nm.n=2 nm.m=4",
             nm.n, nm.m);
}

void FineStepOptions::checkShape(std::int64_t out, std::int64_t in) const {
  if (selection == "nm")
    PL_CHECK(in % nm.m == 0,
             "N:M with nm.m={} needs the input width to be a multiple of m, but the matrix is {}x{}: pick an m that "
             "divides {} or exclude this matrix",
             nm.m, out, in, in);
}

double FineStepOptions::targetSparsity() const {
  return selection == "nm" ? static_cast<double>(nm.n) / static_cast<double>(nm.m) : sparsity;
}

SparseGptOptions FineStepOptions::sparseGpt() const {
  SparseGptOptions o;
  o.sparsity = sparsity;
  o.blocksize = blocksize;
  o.percdamp = percdamp;
  o.maxDampRetries = max_damp_retries;
  if (selection == "nm") {
    o.prunen = nm.n;
    o.prunem = nm.m;
  }
  return o;
}

InputStatsCollector::InputStatsCollector(const FineStepOptions& options)
    : sqNorms_(options.needsSqNorms()), hessian_(options.needsHessian()) {}

void InputStatsCollector::add(const torch::Tensor& input) {
  profile::MemoryScope tag(profile::MemoryCategory::Statistics);
  if (sqNorms_) wanda_.add(input);
  if (hessian_) h_.add(input);
}

InputStats InputStatsCollector::stats(const std::string& what) const {
  InputStats s;
  if (sqNorms_) {
    PL_CHECK(wanda_.scalerRow.defined(), "'{}' saw no calibration input, but the wanda score needs its input norms",
             what);
    s.sqNorms = wanda_.scalerRow;
    s.nsamples = wanda_.nsamples;
  }
  if (hessian_) {
    PL_CHECK(h_.h.defined(), "'{}' saw no calibration input, but reconstruction=obs needs its Hessian", what);
    s.hessian = h_.h;
    s.nsamples = h_.nsamples;
  }
  return s;
}

FineStepResult pruneMatrix(const torch::Tensor& weight, const InputStats& stats, const FineStepOptions& options) {
  options.validate();
  PL_CHECK(weight.defined() && weight.dim() == 2 && weight.numel() > 0,
           "the weight must be a non-empty 2-D matrix [out, in], got {} dimensions", weight.defined() ? weight.dim() : 0);
  PL_CHECK(weight.is_floating_point(), "the weight must be a float tensor, got {}", std::string(c10::toString(weight.scalar_type())));
  options.checkShape(weight.size(0), weight.size(1));
  FineStepResult result;
  result.targetSparsity = options.targetSparsity();
  if (options.reconstruction == "obs") {
    PL_CHECK(stats.hessian.defined(), "reconstruction=obs needs the inputs' Hessian (inputs or a 'hessian' tensor)");
    auto r = sparseGptPrune(weight, stats.hessian, options.sparseGpt());
    result.keepMask = r.keepMask;
    result.weight = r.weight;
    result.dampUsed = r.dampUsed;
    result.dampRetries = r.dampRetries;
    return result;
  }
  torch::Tensor scores;
  if (options.score == "wanda") {
    PL_CHECK(stats.sqNorms.defined(), "score=wanda needs the inputs' squared norms (inputs or a 'sq_norms' tensor)");
    scores = wandaScores(weight.detach(), stats.sqNorms);
  } else {
    scores = weight.detach().abs().to(torch::kFloat32);
  }
  if (options.selection == "per_row") result.keepMask = perRowMask(scores, options.sparsity);
  if (options.selection == "per_matrix") result.keepMask = perMatrixThresholdMask(scores, options.sparsity);
  if (options.selection == "variant") result.keepMask = wandaVariantMask(scores, options.sparsity);
  if (options.selection == "nm") result.keepMask = nmMask(scores, options.nm.n, options.nm.m);
  result.keepMask = result.keepMask.to(weight.device());
  result.weight = weight.detach().masked_fill(result.keepMask.logical_not(), 0);
  return result;
}

store::LayerRecord pruneLayer(const model::LinearRef& layer, const InputStats& stats, const FineStepOptions& options) {
  // Score matrices, masks and SparseGPT's working copies are what the fine step adds.
  profile::MemoryScope tag(profile::MemoryCategory::Scores);
  FineStepResult r;
  try {
    r = pruneMatrix(layer.layer->weight.detach(), stats, options);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", layer.name, e.what()), e.file(), e.line());
  }
  {
    torch::NoGradGuard noGrad;
    layer.layer->weight.copy_(r.weight);
  }
  return applyMask(layer, r.keepMask, r.targetSparsity);
}

}  // namespace prunelab::prune
