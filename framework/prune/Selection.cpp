#include "framework/prune/Selection.h"

#include <array>
#include <cmath>
#include <cstring>

#include "framework/core/Error.h"
#include "framework/core/Hash.h"

namespace prunelab::prune {

namespace {
void checkSparsity(double s) {
  PL_CHECK(s >= 0.0 && s < 1.0, "sparsity must be in [0, 1), got {}: it is the fraction of weights removed", s);
}

torch::Tensor chunkOf(const ScoreSource& g, std::int64_t begin, std::int64_t end) {
  torch::Tensor t = g.chunk(begin, end);
  PL_CHECK(t.numel() == end - begin, "score source '{}' returned {} scores for range [{}, {})", g.name, t.numel(),
           begin, end);
  return t.to(torch::kFloat32).contiguous();
}
}  // namespace

std::uint32_t sortableKey(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

torch::Tensor perMatrixThresholdMask(const torch::Tensor& scores, double sparsity) {
  checkSparsity(sparsity);
  PL_CHECK(scores.numel() > 0, "cannot prune an empty matrix");
  PL_CHECK(torch::isfinite(scores).all().item<bool>(),
           "scores contain NaN or Inf: check the weights and calibration statistics of this layer");
  if (sparsity == 0.0) return torch::ones_like(scores, torch::kBool);
  const auto flat = scores.reshape({-1}).to(torch::kFloat32);
  const auto k = static_cast<std::int64_t>(static_cast<double>(flat.numel()) * sparsity);  // int(numel·s)
  // sorted[k] (0-based) is the (k+1)-th smallest value.
  const auto thresh = std::get<0>(torch::kthvalue(flat, k + 1));
  return scores.to(torch::kFloat32) > thresh;
}

GlobalThreshold findGlobalThreshold(const std::vector<ScoreSource>& groups, double sparsity,
                                    std::int64_t chunkSize) {
  checkSparsity(sparsity);
  GlobalThreshold th;
  for (const auto& g : groups) th.total += g.numel;
  PL_CHECK(th.total > 0, "global selection over no scores: the pruning targets matched no weights");
  th.toPrune = static_cast<std::int64_t>(std::llround(sparsity * static_cast<double>(th.total)));
  if (th.toPrune == 0) return th;

  // Pass 1: histogram of the high 16 bits of every key; pass 2: of the low 16 bits within the bin
  // that holds the k-th smallest key.
  std::vector<std::int64_t> hist(1 << 16);
  auto scan = [&](auto&& visit) {
    for (const auto& g : groups) {
      for (std::int64_t b = 0; b < g.numel; b += chunkSize) {
        const std::int64_t e = std::min(g.numel, b + chunkSize);
        torch::Tensor c = chunkOf(g, b, e);
        const float* p = c.data_ptr<float>();
        for (std::int64_t i = 0; i < e - b; ++i) {
          PL_CHECK(std::isfinite(p[i]), "score of '{}' at flat index {} is {}: scores must be finite", g.name, b + i,
                   p[i]);
          visit(sortableKey(p[i]));
        }
      }
    }
  };
  auto locate = [&](std::int64_t rank, std::int64_t& before) {
    std::int64_t cum = 0;
    for (std::size_t i = 0; i < hist.size(); ++i) {
      if (cum + hist[i] >= rank) {
        before = cum;
        return static_cast<std::uint32_t>(i);
      }
      cum += hist[i];
    }
    PL_THROW("internal error: global threshold rank {} beyond {} scores", rank, cum);
  };
  scan([&](std::uint32_t key) { ++hist[key >> 16]; });
  std::int64_t before1 = 0;
  const std::uint32_t high = locate(th.toPrune, before1);
  std::fill(hist.begin(), hist.end(), 0);
  scan([&](std::uint32_t key) {
    if ((key >> 16) == high) ++hist[key & 0xFFFFu];
  });
  std::int64_t before2 = 0;
  const std::uint32_t low = locate(th.toPrune - before1, before2);
  th.key = (high << 16) | low;
  th.countBelow = before1 + before2;
  th.tiesToPrune = th.toPrune - th.countBelow;
  std::uint32_t bits = (th.key & 0x80000000u) ? (th.key & 0x7FFFFFFFu) : ~th.key;
  std::memcpy(&th.value, &bits, sizeof bits);
  return th;
}

torch::Tensor globalThresholdMask(const ScoreSource& group, const GlobalThreshold& th, std::int64_t& tieBudget,
                                  std::int64_t chunkSize) {
  auto keep = torch::empty({group.numel}, torch::kBool);
  bool* out = keep.data_ptr<bool>();
  for (std::int64_t b = 0; b < group.numel; b += chunkSize) {
    const std::int64_t e = std::min(group.numel, b + chunkSize);
    torch::Tensor c = chunkOf(group, b, e);
    const float* p = c.data_ptr<float>();
    for (std::int64_t i = 0; i < e - b; ++i) {
      if (th.toPrune == 0) {
        out[b + i] = true;
        continue;
      }
      const std::uint32_t key = sortableKey(p[i]);
      if (key < th.key) {
        out[b + i] = false;
      } else if (key == th.key && tieBudget > 0) {
        out[b + i] = false;
        --tieBudget;
      } else {
        out[b + i] = true;
      }
    }
  }
  return keep;
}

double maskSparsity(const torch::Tensor& keepMask) {
  if (keepMask.numel() == 0) return 0.0;
  return 1.0 - keepMask.to(torch::kFloat64).mean().item<double>();
}

std::string maskHash(const torch::Tensor& keepMask) {
  auto m = keepMask.to(torch::kBool).contiguous().reshape({-1});
  Sha256 h;
  const auto shape = keepMask.sizes().vec();
  h.update(shape.data(), shape.size() * sizeof(std::int64_t));
  h.update(m.data_ptr<bool>(), static_cast<std::size_t>(m.numel()));
  return h.hex();
}

}  // namespace prunelab::prune
