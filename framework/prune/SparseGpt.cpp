#include "framework/prune/SparseGpt.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <ATen/Parallel.h>

#include "framework/core/Error.h"
#include "framework/prune/Selection.h"

namespace prunelab::prune {

namespace {

std::string shapeOf(const torch::Tensor& t) {
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// A raw loop on CPU: torch::isfinite allocates three temporaries, which costs more than the check.
bool allFinite(const torch::Tensor& t) {
  if (!t.is_cpu() || t.scalar_type() != torch::kFloat32) return torch::isfinite(t).all().item<bool>();
  const auto c = t.contiguous();
  const float* p = c.data_ptr<float>();
  bool ok = true;
  for (std::int64_t i = 0; i < c.numel(); ++i) ok &= std::isfinite(p[i]);
  return ok;
}

// The reference's adaptive block mask: saliency w²/d², thresh = sorted(saliency)[int(numel·s)],
// prune every saliency <= thresh (so ties at the threshold go too). Sparsity 0 prunes nothing, as
// perMatrixThresholdMask does. Returns true = pruned.
torch::Tensor blockPruned(const torch::Tensor& w1, const torch::Tensor& hinv1, double sparsity) {
  if (sparsity == 0.0) return torch::zeros(w1.sizes(), w1.options().dtype(torch::kBool));
  if (!w1.is_cpu()) {
    const auto saliency = w1.pow(2) / hinv1.diagonal().reshape({1, -1}).pow(2);
    return perMatrixThresholdMask(saliency, sparsity).logical_not();
  }
  const std::int64_t rows = w1.size(0), count = w1.size(1), numel = rows * count;
  const float* w = w1.data_ptr<float>();
  const float* h = hinv1.data_ptr<float>();
  std::vector<float> d2(static_cast<std::size_t>(count));
  for (std::int64_t j = 0; j < count; ++j) d2[j] = h[j * count + j] * h[j * count + j];
  std::vector<float> saliency(static_cast<std::size_t>(numel));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < count; ++j) saliency[r * count + j] = (w[r * count + j] * w[r * count + j]) / d2[j];
  std::vector<float> order = saliency;
  const auto k = static_cast<std::int64_t>(static_cast<double>(numel) * sparsity);  // int(numel·s)
  std::nth_element(order.begin(), order.begin() + k, order.end());
  const float thresh = order[k];
  auto pruned = torch::empty({rows, count}, torch::TensorOptions().dtype(torch::kBool));
  bool* out = pruned.data_ptr<bool>();
  for (std::int64_t i = 0; i < numel; ++i) out[i] = saliency[i] <= thresh;
  return pruned;
}

// The Hessian with the reference's damping added, inverted, and factored as U with UᵀU = H⁻¹.
struct InverseFactor {
  torch::Tensor upper;
  double percdamp = 0;
  int retries = 0;
};

// Both factorisations are checked: in fp32 the inverse of a barely-definite H can itself fail.
bool tryInverseFactor(const torch::Tensor& h, double percdamp, torch::Tensor& upper) {
  auto damped = h.clone();
  // percdamp·mean(diag H) as an fp32 scalar tensor, like the reference's `percdamp * torch.mean(...)`.
  damped.diagonal().add_(damped.diagonal().mean() * percdamp);
  auto lower = torch::linalg_cholesky_ex(damped, /*upper=*/false, /*check_errors=*/false);
  if (std::get<1>(lower).item<std::int64_t>() != 0) return false;
  auto inverse = torch::cholesky_inverse(std::get<0>(lower));
  auto factor = torch::linalg_cholesky_ex(inverse, /*upper=*/true, /*check_errors=*/false);
  if (std::get<1>(factor).item<std::int64_t>() != 0) return false;
  upper = std::get<0>(factor);
  return allFinite(upper);
}

InverseFactor inverseFactor(const torch::Tensor& h, const SparseGptOptions& o) {
  InverseFactor f;
  f.percdamp = o.percdamp;
  while (!tryInverseFactor(h, f.percdamp, f.upper)) {
    PL_CHECK(f.retries < o.maxDampRetries,
             "SparseGPT: the Hessian of this layer is not positive definite even with damping {}·mean(diag H) "
             "(percdamp {}, raised {} times): its calibration inputs are too few, (nearly) collinear, or overflowed. "
             "Use more calibration samples, raise percdamp, or allow more retries (max_damp_retries)",
             f.percdamp, o.percdamp, f.retries);
    f.percdamp = f.percdamp > 0 ? f.percdamp * 10.0 : 0.01;
    ++f.retries;
  }
  return f;
}

// Rank-based N:M choice within one group of m saliencies: the n smallest go, equal values lowest
// index first (the reference's topk leaves the tie order unspecified).
void pruneSmallestOfGroup(const float* saliency, std::int64_t n, std::int64_t m, bool* pruned) {
  for (std::int64_t j = 0; j < m; ++j) {
    std::int64_t rank = 0;
    for (std::int64_t i = 0; i < m; ++i) rank += (saliency[i] < saliency[j]) || (saliency[i] == saliency[j] && i < j);
    pruned[j] = rank < n;
  }
}

// One block's column loop, row by row: within a block each row's updates, errors and (in N:M
// mode) mask choices depend only on that row, so rows run in parallel with scalar inner loops.
// On return w1 holds Q1 (pruned columns exactly 0).
double columnLoopRows(torch::Tensor& w1, torch::Tensor& err1, torch::Tensor& pruned1, const torch::Tensor& hinv1,
                      std::int64_t prunen, std::int64_t prunem) {
  const std::int64_t rows = w1.size(0), count = w1.size(1);
  float* w = w1.data_ptr<float>();
  float* err = err1.data_ptr<float>();
  bool* pr = pruned1.data_ptr<bool>();
  const float* hi = hinv1.data_ptr<float>();
  std::vector<double> rowLoss(static_cast<std::size_t>(rows), 0.0);
  const std::int64_t grain = std::max<std::int64_t>(1, (1 << 16) / std::max<std::int64_t>(count * count, 1));
  at::parallel_for(0, rows, grain, [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> saliency(static_cast<std::size_t>(std::max<std::int64_t>(prunem, 1)));
    for (std::int64_t r = begin; r < end; ++r) {
      float* wr = w + r * count;
      float* er = err + r * count;
      bool* pruned = pr + r * count;
      double loss = 0;
      for (std::int64_t i = 0; i < count; ++i) {
        if (prunen != 0 && i % prunem == 0) {
          for (std::int64_t j = 0; j < prunem; ++j) {
            const float d = hi[(i + j) * count + (i + j)];
            saliency[j] = (wr[i + j] * wr[i + j]) / (d * d);
          }
          pruneSmallestOfGroup(saliency.data(), prunen, prunem, pruned + i);
        }
        const float d = hi[i * count + i];
        const float q = pruned[i] ? 0.0f : wr[i];
        const float diff = wr[i] - q;
        const float e = diff / d;
        loss += static_cast<double>(diff * diff / (d * d));
        if (e != 0.0f) {
          const float* hrow = hi + i * count;
          for (std::int64_t j = i + 1; j < count; ++j) wr[j] -= e * hrow[j];
        }
        wr[i] = q;
        er[i] = e;
      }
      rowLoss[r] = loss;
    }
  });
  double total = 0;
  for (double l : rowLoss) total += l;
  return total / 2.0;
}

// The same loop as the reference's tensor ops, for devices where per-row scalar code cannot run.
double columnLoopTensor(torch::Tensor& w1, torch::Tensor& err1, torch::Tensor& pruned1, const torch::Tensor& hinv1,
                        std::int64_t prunen, std::int64_t prunem) {
  const std::int64_t count = w1.size(1);
  auto q1 = torch::zeros_like(w1);
  auto losses = torch::zeros_like(w1);
  const auto hdiag = hinv1.diagonal();
  for (std::int64_t i = 0; i < count; ++i) {
    if (prunen != 0 && i % prunem == 0) {
      const auto saliency = w1.slice(1, i, i + prunem).pow(2) / hdiag.slice(0, i, i + prunem).reshape({1, -1}).pow(2);
      // A stable ascending sort prunes equal saliencies lowest index first, as the CPU path does.
      const auto order = std::get<1>(torch::sort(saliency, /*stable=*/true, /*dim=*/1, /*descending=*/false));
      pruned1.slice(1, i, i + prunem).scatter_(1, order.slice(1, 0, prunen), true);
    }
    const auto w = w1.select(1, i);
    const auto d = hinv1[i][i];
    const auto q = w.masked_fill(pruned1.select(1, i), 0);
    q1.select(1, i).copy_(q);
    losses.select(1, i).copy_((w - q).pow(2) / d.pow(2));
    const auto e = (w - q) / d;
    w1.slice(1, i).sub_(e.unsqueeze(1).matmul(hinv1[i].slice(0, i).unsqueeze(0)));
    err1.select(1, i).copy_(e);
  }
  w1 = q1;
  return losses.sum().item<double>() / 2.0;
}

// The shared start of sparseGptPrune and sparseGptSaliency: checks, fp32 copies, dead inputs zeroed,
// and the inverse factor of the damped Hessian.
struct Prepared {
  torch::Tensor w;
  InverseFactor factor;
};

Prepared prepare(const torch::Tensor& weight, const torch::Tensor& hessian, const SparseGptOptions& options) {
  options.validate();
  PL_CHECK(weight.defined() && weight.dim() == 2 && weight.numel() > 0,
           "sparseGptPrune expects a non-empty 2-D weight [out, in], got shape {}",
           weight.defined() ? shapeOf(weight) : std::string("(undefined)"));
  const std::int64_t cols = weight.size(1);
  PL_CHECK(hessian.defined() && hessian.dim() == 2 && hessian.size(0) == cols && hessian.size(1) == cols,
           "sparseGptPrune: the Hessian has shape {} but the weight has {} input columns, so it must be [{}, {}]: "
           "was HessianAccumulator fed this layer's inputs?",
           hessian.defined() ? shapeOf(hessian) : std::string("(undefined)"), cols, cols, cols);
  // Private fp32 copies (one copy each, whatever the input dtype): both are modified below.
  auto w = weight.to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true).contiguous();
  auto h = hessian.to(w.device(), torch::kFloat32, /*non_blocking=*/false, /*copy=*/true).contiguous();
  PL_CHECK(allFinite(w),
           "sparseGptPrune: the weight holds NaN or Inf: the model was already broken before pruning this layer");
  PL_CHECK(allFinite(h),
           "sparseGptPrune: the Hessian holds NaN or Inf: the calibration activations of this layer overflowed "
           "(run calibration in fp32/bf16 or check the earlier, already-pruned blocks)");
  auto hdiag = h.diagonal();
  PL_CHECK((hdiag >= 0).all().item<bool>(),
           "sparseGptPrune: the Hessian has negative diagonal entries, so it is not 2/N·XXᵀ of any inputs: "
           "pass HessianAccumulator::h");

  // Inputs that never fire carry no information: the reference zeroes their weights and gives them a
  // unit diagonal so the factorisation still works.
  const auto dead = hdiag == 0;
  hdiag.masked_fill_(dead, 1.0);
  w.masked_fill_(dead.unsqueeze(0), 0.0);

  Prepared p;
  p.factor = inverseFactor(h, options);
  p.w = std::move(w);
  return p;
}

}  // namespace

torch::Tensor sparseGptSaliency(const torch::Tensor& weight, const torch::Tensor& hessian,
                                const SparseGptOptions& options) {
  const Prepared p = prepare(weight, hessian, options);
  const auto d = p.factor.upper.diagonal().unsqueeze(0);
  return p.w.square() / d.square();
}

void HessianAccumulator::add(const torch::Tensor& input) {
  PL_CHECK(input.defined() && input.dim() >= 2,
           "HessianAccumulator::add expects the Linear input as [B, L, in] or [L, in], got shape {}",
           input.defined() ? shapeOf(input) : std::string("(undefined)"));
  const std::int64_t width = input.size(-1);
  const std::int64_t sequences = input.dim() == 2 ? 1 : input.size(0);
  if (!h.defined()) {
    h = torch::zeros({width, width}, input.options().dtype(torch::kFloat32));
  } else {
    PL_CHECK(h.size(0) == width,
             "HessianAccumulator::add: this input has width {} but earlier batches had {}: one accumulator per Linear",
             width, h.size(0));
  }
  if (sequences == 0) return;
  h.mul_(static_cast<double>(nsamples) / static_cast<double>(nsamples + sequences));
  nsamples += sequences;
  const auto x = input.reshape({-1, width}).to(torch::kFloat32) * std::sqrt(2.0 / static_cast<double>(nsamples));
  h.addmm_(x.t(), x);
}

void SparseGptOptions::validate() const {
  PL_CHECK(sparsity >= 0.0 && sparsity < 1.0, "sparsegpt sparsity must be in [0, 1), got {}", sparsity);
  PL_CHECK(blocksize >= 1, "sparsegpt blocksize must be >= 1, got {} (the reference uses 128)", blocksize);
  PL_CHECK(std::isfinite(percdamp) && percdamp >= 0.0,
           "sparsegpt percdamp must be finite and >= 0, got {} "
           "(the reference uses 0.01)",
           percdamp);
  PL_CHECK(maxDampRetries >= 0, "sparsegpt max_damp_retries must be >= 0, got {}", maxDampRetries);
  if (prunen != 0 || prunem != 0) {
    PL_CHECK(prunen >= 1 && prunen < prunem,
             "sparsegpt N:M needs 1 <= prunen < prunem (N pruned of every M), got {}:{}: use e.g. 2:4, or 0:0 for "
             "unstructured",
             prunen, prunem);
    PL_CHECK(blocksize % prunem == 0,
             "sparsegpt blocksize {} must be a multiple of prunem {} so that N:M groups never straddle blocks",
             blocksize, prunem);
  }
}

SparseGptResult sparseGptPrune(const torch::Tensor& weight, const torch::Tensor& hessian,
                               const SparseGptOptions& options) {
  return detail::sparseGptPruneWith(weight, hessian, options, detail::ColumnLoop::kAuto);
}

namespace detail {

SparseGptResult sparseGptPruneWith(const torch::Tensor& weight, const torch::Tensor& hessian,
                                   const SparseGptOptions& options, ColumnLoop loop) {
  Prepared p = prepare(weight, hessian, options);
  const std::int64_t rows = weight.size(0), cols = weight.size(1);
  const bool nm = options.prunen != 0;
  if (nm) {
    PL_CHECK(cols % options.prunem == 0,
             "sparsegpt N:M {}:{} needs the input width to be a multiple of M, but this layer has {} input columns: "
             "choose an M that divides {} or exclude this layer from the N:M targets",
             options.prunen, options.prunem, cols, cols);
  }

  auto& w = p.w;
  const InverseFactor& factor = p.factor;
  const torch::Tensor& hinv = factor.upper;

  const bool rowScalar = loop == ColumnLoop::kRowScalar || (loop == ColumnLoop::kAuto && w.is_cpu());
  PL_CHECK(!rowScalar || w.is_cpu(), "sparseGptPrune: the per-row column loop runs on CPU tensors only");
  auto keep = torch::ones({rows, cols}, w.options().dtype(torch::kBool));
  double loss = 0;
  for (std::int64_t i1 = 0; i1 < cols; i1 += options.blocksize) {
    const std::int64_t i2 = std::min(i1 + options.blocksize, cols);
    auto w1 = w.slice(1, i1, i2).clone().contiguous();
    auto err1 = torch::zeros_like(w1);
    const auto hinv1 = hinv.slice(0, i1, i2).slice(1, i1, i2).contiguous();
    torch::Tensor pruned1;
    if (nm) {
      pruned1 = torch::zeros(w1.sizes(), w1.options().dtype(torch::kBool));
    } else {
      // Adaptive mask: chosen per block on the already-updated weights, over all rows at once.
      pruned1 = blockPruned(w1, hinv1, options.sparsity);
    }
    loss += rowScalar ? columnLoopRows(w1, err1, pruned1, hinv1, options.prunen, options.prunem)
                      : columnLoopTensor(w1, err1, pruned1, hinv1, options.prunen, options.prunem);
    w.slice(1, i1, i2).copy_(w1);
    keep.slice(1, i1, i2).copy_(pruned1.logical_not());
    // W[:, i2:] -= Err1 · Hinv[i1:i2, i2:], accumulated in place (no [out, in − i2] temporary).
    if (i2 < cols) w.slice(1, i2).addmm_(err1, hinv.slice(0, i1, i2).slice(1, i2), /*beta=*/1, /*alpha=*/-1);
  }
  PL_CHECK(allFinite(w),
           "sparseGptPrune: the updated weight holds NaN or Inf (damping {}·mean(diag H) was too weak for this "
           "Hessian): raise percdamp or use more calibration samples",
           factor.percdamp);

  SparseGptResult result;
  result.weight = w.to(weight.device(), weight.scalar_type());
  result.keepMask = keep.to(weight.device());
  result.dampUsed = factor.percdamp;
  result.dampRetries = factor.retries;
  result.loss = loss;
  return result;
}

}  // namespace detail

}  // namespace prunelab::prune
