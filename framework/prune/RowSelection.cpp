#include "framework/prune/RowSelection.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <ATen/Parallel.h>

#include "framework/core/Error.h"

namespace prunelab::prune {

namespace {

std::string shapeOf(const torch::Tensor& t) {
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

void checkSparsity(double s) {
  PL_CHECK(s >= 0.0 && s < 1.0, "sparsity must be in [0, 1), got {}: it is the fraction of weights removed", s);
}

void checkMatrix(const torch::Tensor& scores, const char* what) {
  PL_CHECK(scores.defined() && scores.dim() == 2,
           "{} expects a 2-D score matrix [out, in], got shape {}: flatten higher-rank weights to [out, -1] first",
           what, scores.defined() ? shapeOf(scores) : std::string("(undefined)"));
}

[[noreturn]] void throwNan(const torch::Tensor& scores, const char* what) {
  const auto at = torch::nonzero(torch::isnan(scores))[0];
  PL_THROW(
      "{}: score at row {}, column {} is NaN: check this layer's weights and calibration statistics "
      "(an fp16 overflow in the calibration pass is the usual cause)",
      what, at[0].item<std::int64_t>(), at[1].item<std::int64_t>());
}

// Selection reads a contiguous CPU tensor (copied only when needed) in the scores' own precision, so the order and the
// ties are those of the reference's sort (fp16/bf16 widen to fp32 exactly; fp64 stays fp64).
torch::Tensor hostScores(const torch::Tensor& scores) {
  const auto type = scores.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  return scores.to(torch::kCPU, type).contiguous();
}

// Rows per parallel task: enough work per task to amortise the scheduling.
std::int64_t rowGrain(std::int64_t width) {
  return std::max<std::int64_t>(1, (1 << 15) / std::max<std::int64_t>(width, 1));
}

// The k-th smallest (1-based) of row[0, n) and how many values lie strictly below it. Rows that are
// long enough use a sample to bracket the k-th value (Floyd-Rivest): one branch-free pass counts the
// values under the bracket and gathers the few inside it, and nth_element runs on those only. A
// bracket that misses (rare: the sample quantile is off by over 2.8 standard deviations) falls back
// to nth_element over the whole row, so the answer never depends on the sample.
template <typename T>
struct RowSelector {
  static constexpr std::int64_t kSample = 512;
  static constexpr std::int64_t kSlack = 32;  // sample positions either side of the target rank
  std::vector<T> buf, sample;

  explicit RowSelector(std::int64_t n) : buf(static_cast<std::size_t>(n)), sample(kSample) {}

  // Returns false when the row holds a NaN (then `kth` and `below` are meaningless).
  bool select(const T* row, std::int64_t n, std::int64_t k, T& kth, std::int64_t& below) {
    if (n >= 4 * kSample) {
      for (std::int64_t i = 0; i < kSample; ++i) sample[i] = row[(i * n) / kSample];
      const std::int64_t pos = ((k - 1) * kSample) / n;
      const T inf = std::numeric_limits<T>::infinity();
      T lo = -inf, hi = inf;
      std::int64_t iLo = 0;
      if (pos - kSlack > 0) {
        iLo = pos - kSlack;
        std::nth_element(sample.begin(), sample.begin() + iLo, sample.end());
        lo = sample[iLo];
      }
      if (pos + kSlack < kSample - 1) {
        const std::int64_t iHi = pos + kSlack;
        // After the first nth_element everything past iLo is >= lo, so the second search can skip it.
        const auto from = iLo > 0 ? sample.begin() + iLo + 1 : sample.begin();
        std::nth_element(from, sample.begin() + iHi, sample.end());
        hi = sample[iHi];
      }
      // NaN compares false both ways, so it is neither under nor inside the bracket.
      std::int64_t under = 0, inside = 0, nans = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        const T x = row[j];
        under += x < lo;
        nans += x != x;
        buf[inside] = x;
        inside += (x >= lo) & (x <= hi);
      }
      if (nans > 0) return false;
      if (under < k && k <= under + inside) {
        const std::int64_t r = k - under - 1;
        std::nth_element(buf.begin(), buf.begin() + r, buf.begin() + inside);
        kth = buf[r];
        below = under;
        for (std::int64_t j = 0; j < r; ++j) below += buf[j] < kth;
        return true;
      }
    } else {
      bool nan = false;
      for (std::int64_t j = 0; j < n; ++j) nan |= std::isnan(row[j]);
      if (nan) return false;
    }
    std::copy(row, row + n, buf.begin());
    // After nth_element, buf[k-1] is the k-th smallest and buf[0, k-1) holds values <= it.
    std::nth_element(buf.begin(), buf.begin() + (k - 1), buf.begin() + n);
    kth = buf[k - 1];
    below = 0;
    for (std::int64_t j = 0; j < k - 1; ++j) below += buf[j] < kth;
    return true;
  }
};

template <typename T>
bool perRowKernel(const T* scores, bool* keep, std::int64_t rows, std::int64_t width, std::int64_t k) {
  std::atomic<bool> sawNan{false};
  at::parallel_for(0, rows, rowGrain(width), [&](std::int64_t begin, std::int64_t end) {
    RowSelector<T> selector(width);
    for (std::int64_t r = begin; r < end; ++r) {
      const T* row = scores + r * width;
      bool* out = keep + r * width;
      T kth{};
      std::int64_t below = 0;
      if (!selector.select(row, width, k, kth, below)) {
        sawNan = true;
        continue;
      }
      // A stable ascending sort puts equal values in column order, so the ties at the k-th value
      // that fall inside the first k positions are the lowest-indexed ones.
      // First prune every value <= kth (a vectorisable pass), then give back the ties past the
      // first k − below of them, which only happens when the k-th value is repeated.
      std::int64_t atMost = 0;
      for (std::int64_t j = 0; j < width; ++j) {
        const bool prune = row[j] <= kth;
        out[j] = !prune;
        atMost += prune;
      }
      if (atMost > k) {
        std::int64_t ties = k - below;
        for (std::int64_t j = 0; j < width; ++j) {
          if (row[j] == kth) out[j] = ties-- <= 0;
        }
      }
    }
  });
  return !sawNan;
}

// Marks the n smallest of one group as pruned (out = false): each entry's rank under the strict
// order (value, then column index) is counted. kM > 0 fixes the group width at compile time so the
// common 2:4 and 4:8 loops unroll; kM = 0 reads it from `m`.
template <std::int64_t kM, typename T>
void rankGroup(const T* v, bool* out, std::int64_t n, std::int64_t m) {
  const std::int64_t width = kM > 0 ? kM : m;
  for (std::int64_t j = 0; j < width; ++j) {
    std::int64_t rank = 0;
    for (std::int64_t i = 0; i < width; ++i) rank += (v[i] < v[j]) | ((v[i] == v[j]) & (i < j));
    out[j] = rank >= n;
  }
}

template <std::int64_t kM, typename T>
void nmRows(const T* scores, bool* keep, std::int64_t begin, std::int64_t end, std::int64_t width, std::int64_t n,
            std::int64_t m) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(m));
  for (std::int64_t r = begin; r < end; ++r) {
    const T* row = scores + r * width;
    bool* out = keep + r * width;
    for (std::int64_t g = 0; g < width; g += m) {
      if (kM > 0 || m <= 16) {
        rankGroup<kM>(row + g, out + g, n, m);
      } else {
        const T* v = row + g;
        std::iota(idx.begin(), idx.end(), std::int64_t{0});
        std::nth_element(idx.begin(), idx.begin() + n, idx.end(),
                         [v](std::int64_t a, std::int64_t b) { return v[a] < v[b] || (v[a] == v[b] && a < b); });
        std::fill(out + g, out + g + m, true);
        for (std::int64_t j = 0; j < n; ++j) out[g + idx[j]] = false;
      }
    }
  }
}

template <typename T>
bool nmKernel(const T* scores, bool* keep, std::int64_t rows, std::int64_t width, std::int64_t n, std::int64_t m) {
  std::atomic<bool> sawNan{false};
  at::parallel_for(0, rows, rowGrain(width), [&](std::int64_t begin, std::int64_t end) {
    bool nan = false;
    for (std::int64_t i = begin * width; i < end * width; ++i) nan |= std::isnan(scores[i]);
    if (nan) {
      sawNan = true;
      return;
    }
    if (m == 4) {
      nmRows<4>(scores, keep, begin, end, width, n, m);
    } else if (m == 8) {
      nmRows<8>(scores, keep, begin, end, width, n, m);
    } else {
      nmRows<0>(scores, keep, begin, end, width, n, m);
    }
  });
  return !sawNan;
}

}  // namespace

torch::Tensor perRowMask(const torch::Tensor& scores, double sparsity) {
  checkSparsity(sparsity);
  checkMatrix(scores, "perRowMask");
  const std::int64_t rows = scores.size(0), width = scores.size(1);
  const auto k = static_cast<std::int64_t>(static_cast<double>(width) * sparsity);  // int(in·s)
  if (k == 0 || rows == 0) {
    if (scores.numel() > 0 && torch::isnan(scores).any().item<bool>()) throwNan(scores, "perRowMask");
    return torch::ones({rows, width}, scores.options().dtype(torch::kBool));
  }
  const auto host = hostScores(scores);
  // Every entry is written by the kernel, so the mask starts uninitialised.
  auto keep = torch::empty({rows, width}, torch::TensorOptions().dtype(torch::kBool));
  const bool ok = host.scalar_type() == torch::kFloat64
                      ? perRowKernel(host.data_ptr<double>(), keep.data_ptr<bool>(), rows, width, k)
                      : perRowKernel(host.data_ptr<float>(), keep.data_ptr<bool>(), rows, width, k);
  if (!ok) throwNan(host, "perRowMask");
  return keep.to(scores.device());
}

torch::Tensor nmMask(const torch::Tensor& scores, std::int64_t n, std::int64_t m) {
  checkMatrix(scores, "nmMask");
  PL_CHECK(n >= 1 && n < m, "N:M sparsity needs 1 <= N < M (N pruned of every M), got {}:{}: use e.g. 2:4 or 4:8", n,
           m);
  const std::int64_t rows = scores.size(0), width = scores.size(1);
  PL_CHECK(width % m == 0,
           "N:M sparsity {}:{} needs the input width to be a multiple of M, but this matrix has {} input columns "
           "({} % {} = {}): choose an M that divides {} or exclude this layer from the N:M targets",
           n, m, width, width, m, width % m, width);
  if (rows == 0 || width == 0) return torch::ones({rows, width}, scores.options().dtype(torch::kBool));
  const auto host = hostScores(scores);
  // Every entry is written by the kernel, so the mask starts uninitialised.
  auto keep = torch::empty({rows, width}, torch::TensorOptions().dtype(torch::kBool));
  const bool ok = host.scalar_type() == torch::kFloat64
                      ? nmKernel(host.data_ptr<double>(), keep.data_ptr<bool>(), rows, width, n, m)
                      : nmKernel(host.data_ptr<float>(), keep.data_ptr<bool>(), rows, width, n, m);
  if (!ok) throwNan(host, "nmMask");
  return keep.to(scores.device());
}

WandaVariantResult wandaVariantSelect(const torch::Tensor& scores, double sparsity) {
  checkSparsity(sparsity);
  checkMatrix(scores, "wandaVariantSelect");
  PL_CHECK(scores.numel() > 0, "wandaVariantSelect: cannot prune an empty matrix of shape {}", shapeOf(scores));
  // The reference's Wanda metric is fp32 (fp16 |W| times an fp32 norm).
  const auto s = scores.scalar_type() == torch::kFloat64 ? scores : scores.to(torch::kFloat32);
  if (torch::isnan(s).any().item<bool>()) throwNan(s, "wandaVariantSelect");
  WandaVariantResult result;
  if (sparsity == 0.0) {
    result.keepMask = torch::ones(s.sizes(), s.options().dtype(torch::kBool));
    return result;
  }
  const auto sorted = std::get<0>(torch::sort(s, /*stable=*/false, /*dim=*/1, /*descending=*/false));
  const auto cumulative = sorted.cumsum(1);
  const auto rowSum = s.sum(1);
  const auto numel = static_cast<double>(s.numel());

  torch::Tensor pruned;
  double achieved = 0;
  auto evaluate = [&](double alpha) {
    const auto count = (cumulative <= (rowSum * alpha).unsqueeze(1)).sum(1, /*keepdim=*/true);
    const auto thresh = sorted.gather(1, (count - 1).clamp_min(0));
    pruned = (s <= thresh).logical_and_(count > 0);
    achieved = static_cast<double>(pruned.sum().item<std::int64_t>()) / numel;
    ++result.iterations;
  };

  double alpha = 0.4, lo = 0.0, hi = 0.8;
  evaluate(alpha);
  while (std::abs(achieved - sparsity) > 0.001 && hi - lo >= 0.001) {
    double next;
    if (achieved > sparsity) {
      next = (alpha + lo) / 2.0;
      hi = alpha;
    } else {
      next = (alpha + hi) / 2.0;
      lo = alpha;
    }
    alpha = next;
    evaluate(alpha);
  }
  result.keepMask = pruned.logical_not();
  result.alpha = alpha;
  result.sparsity = achieved;
  return result;
}

torch::Tensor wandaVariantMask(const torch::Tensor& scores, double sparsity) {
  return wandaVariantSelect(scores, sparsity).keepMask;
}

torch::Tensor wandaScores(const torch::Tensor& weight, const torch::Tensor& inputSqNormMean) {
  PL_CHECK(weight.defined() && weight.dim() == 2, "wandaScores expects a 2-D weight [out, in], got shape {}",
           weight.defined() ? shapeOf(weight) : std::string("(undefined)"));
  PL_CHECK(inputSqNormMean.defined() && inputSqNormMean.numel() == weight.size(1),
           "wandaScores: the input statistic has {} entries but the weight has {} input columns: "
           "was WandaStats fed this layer's inputs (and at least one batch)?",
           inputSqNormMean.defined() ? inputSqNormMean.numel() : 0, weight.size(1));
  const auto scaler = inputSqNormMean.to(weight.device(), torch::kFloat32).reshape({1, -1});
  PL_CHECK(torch::isfinite(scaler).all().item<bool>() && (scaler >= 0).all().item<bool>(),
           "wandaScores: the input statistic holds NaN, Inf or negative entries: check the calibration pass "
           "of this layer for overflow (run calibration in fp32 or bf16)");
  return weight.abs().to(torch::kFloat32) * scaler.sqrt();
}

void WandaStats::add(const torch::Tensor& input) {
  PL_CHECK(input.defined() && input.dim() >= 2,
           "WandaStats::add expects the Linear input as [B, L, in] or [L, in], got shape {}",
           input.defined() ? shapeOf(input) : std::string("(undefined)"));
  const std::int64_t width = input.size(-1);
  const std::int64_t sequences = input.dim() == 2 ? 1 : input.size(0);
  if (!scalerRow.defined()) {
    scalerRow = torch::zeros({width}, input.options().dtype(torch::kFloat32));
  } else {
    PL_CHECK(scalerRow.size(0) == width,
             "WandaStats::add: this input has width {} but earlier batches had {}: one WandaStats per Linear", width,
             scalerRow.size(0));
  }
  if (sequences == 0) return;
  const auto x = input.reshape({-1, width}).to(torch::kFloat32);
  scalerRow.mul_(static_cast<double>(nsamples) / static_cast<double>(nsamples + sequences));
  nsamples += sequences;
  scalerRow.add_(torch::norm(x, 2, {0}, false).pow(2) / static_cast<double>(nsamples));
}

}  // namespace prunelab::prune
