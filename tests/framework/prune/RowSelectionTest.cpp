#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "framework/core/Error.h"
#include "framework/prune/RowSelection.h"
#include "framework/prune/Selection.h"

namespace prunelab::prune {
namespace {

torch::Tensor boolMatrix(std::vector<std::vector<bool>> rows) {
  const auto r = static_cast<std::int64_t>(rows.size()), c = static_cast<std::int64_t>(rows[0].size());
  auto t = torch::empty({r, c}, torch::kBool);
  for (std::int64_t i = 0; i < r; ++i)
    for (std::int64_t j = 0; j < c; ++j) t[i][j] = static_cast<bool>(rows[i][j]);
  return t;
}

// The Wanda reference written out naively: per row, a stable ascending sort of the column indices,
// the first int(in·s) pruned.
torch::Tensor naiveStableSortMask(const torch::Tensor& scores, double sparsity) {
  const auto s = scores.to(torch::kFloat64).contiguous();
  const std::int64_t rows = s.size(0), cols = s.size(1);
  const auto k = static_cast<std::int64_t>(static_cast<double>(cols) * sparsity);
  auto keep = torch::ones({rows, cols}, torch::kBool);
  const double* p = s.data_ptr<double>();
  bool* out = keep.data_ptr<bool>();
  std::vector<std::int64_t> idx(static_cast<std::size_t>(cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    std::iota(idx.begin(), idx.end(), std::int64_t{0});
    const double* row = p + r * cols;
    std::stable_sort(idx.begin(), idx.end(), [row](std::int64_t a, std::int64_t b) { return row[a] < row[b]; });
    for (std::int64_t j = 0; j < k; ++j) out[r * cols + idx[j]] = false;
  }
  return keep;
}

// The reference's own expression: torch.sort(S, dim=-1, stable=True), prune the first int(in·s).
torch::Tensor torchStableSortMask(const torch::Tensor& scores, double sparsity) {
  const auto k = static_cast<std::int64_t>(static_cast<double>(scores.size(1)) * sparsity);
  auto keep = torch::ones(scores.sizes(), torch::kBool);
  const auto order = std::get<1>(torch::sort(scores, /*stable=*/true, /*dim=*/-1, /*descending=*/false));
  keep.scatter_(1, order.slice(1, 0, k), false);
  return keep;
}

// N:M written out naively: per group, a stable sort of the m indices, the first n pruned.
torch::Tensor naiveNmMask(const torch::Tensor& scores, std::int64_t n, std::int64_t m) {
  const auto s = scores.to(torch::kFloat64).contiguous();
  const std::int64_t rows = s.size(0), cols = s.size(1);
  auto keep = torch::ones({rows, cols}, torch::kBool);
  const double* p = s.data_ptr<double>();
  bool* out = keep.data_ptr<bool>();
  std::vector<std::int64_t> idx(static_cast<std::size_t>(m));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t g = 0; g < cols; g += m) {
      const double* v = p + r * cols + g;
      std::iota(idx.begin(), idx.end(), std::int64_t{0});
      std::stable_sort(idx.begin(), idx.end(), [v](std::int64_t a, std::int64_t b) { return v[a] < v[b]; });
      for (std::int64_t j = 0; j < n; ++j) out[r * cols + g + idx[j]] = false;
    }
  }
  return keep;
}

TEST(RowSelection, PerRowHandBuiltTiesGoLowestColumnFirst) {
  // Row 0: stable order 1(c1) 1(c3) 1(c4) 2(c2) 3(c0) 5(c5); k = int(6·0.5) = 3 prunes c1, c3, c4.
  // Row 1: stable order 0(c4) 2(c0) 2(c1) 2(c2) 2(c3) 9(c5); prunes c4, c0, c1 and keeps the later 2s.
  auto scores = torch::tensor({3.f, 1.f, 2.f, 1.f, 1.f, 5.f, 2.f, 2.f, 2.f, 2.f, 0.f, 9.f}).reshape({2, 6});
  EXPECT_TRUE(torch::equal(perRowMask(scores, 0.5), boolMatrix({{true, false, true, false, false, true},
                                                                {false, false, true, true, false, true}})));
  // k = int(6·0.4) = 2.
  EXPECT_TRUE(torch::equal(perRowMask(scores, 0.4), boolMatrix({{true, false, true, false, true, true},
                                                                {false, true, true, true, false, true}})));
}

TEST(RowSelection, PerRowEqualsTheStableSortReferenceOnManyTies) {
  torch::manual_seed(11);
  // Widths >= 2048 take the sampled bracket path, narrower ones the plain nth_element.
  const std::vector<std::vector<std::int64_t>> shapes = {{1, 1},    {3, 7},    {16, 33},  {64, 128},
                                                         {5, 1000}, {7, 2048}, {3, 4099}, {2, 5000}};
  for (const auto& shape : shapes) {
    for (std::int64_t levels : {2, 3, 50, 100000}) {
      const auto scores = torch::randint(0, levels, shape).to(torch::kFloat32);
      for (double s : {0.05, 0.3, 0.5, 0.77, 0.99}) {
        const auto keep = perRowMask(scores, s);
        const auto k = static_cast<std::int64_t>(static_cast<double>(shape[1]) * s);
        ASSERT_TRUE(torch::equal(keep, naiveStableSortMask(scores, s)))
            << "shape " << shape[0] << "x" << shape[1] << " levels " << levels << " s " << s;
        ASSERT_TRUE(torch::equal(keep, torchStableSortMask(scores, s)));
        ASSERT_TRUE(torch::equal(keep.logical_not().sum(1), torch::full({shape[0]}, k, torch::kLong)));
      }
    }
  }
}

TEST(RowSelection, PerRowHandlesRowsThatFoolTheSample) {
  // The bracket is drawn from every (width/512)-th column; here those columns hold the largest
  // values, so the bracket misses the k-th value and the full-row fallback must answer.
  const std::int64_t width = 4096;
  auto scores = torch::rand({4, width});
  scores.slice(1, 0, width, width / 512).add_(1000.0);
  // A row that is sorted, one reversed, one constant.
  scores[1] = torch::arange(width).to(torch::kFloat32);
  scores[2] = torch::arange(width).flip(0).to(torch::kFloat32);
  scores[3].fill_(7.0f);
  for (double s : {0.1, 0.5, 0.9}) EXPECT_TRUE(torch::equal(perRowMask(scores, s), naiveStableSortMask(scores, s)));
}

TEST(RowSelection, PerRowKeepsTheScorePrecision) {
  torch::manual_seed(5);
  // Distinct doubles that round to the same float must still be ordered as doubles.
  auto dbl = torch::rand({6, 300}, torch::kFloat64) * 1e-9 + 1.0;
  EXPECT_TRUE(torch::equal(perRowMask(dbl, 0.5), naiveStableSortMask(dbl, 0.5)));
  auto half = torch::randint(0, 20, {6, 300}).to(torch::kFloat16);
  EXPECT_TRUE(torch::equal(perRowMask(half, 0.5), naiveStableSortMask(half, 0.5)));
  auto withInf = torch::rand({2, 10});
  withInf[0][3] = std::numeric_limits<float>::infinity();
  withInf[1][4] = -std::numeric_limits<float>::infinity();
  EXPECT_TRUE(torch::equal(perRowMask(withInf, 0.3), naiveStableSortMask(withInf, 0.3)));
}

TEST(RowSelection, PerRowSparsityZeroAndBadInput) {
  auto scores = torch::rand({4, 3});
  EXPECT_TRUE(perRowMask(scores, 0.0).all().item<bool>());
  EXPECT_TRUE(perRowMask(scores, 0.3).all().item<bool>());  // int(3·0.3) = 0
  EXPECT_THROW(perRowMask(scores, 1.0), Error);
  EXPECT_THROW(perRowMask(scores, -0.5), Error);
  EXPECT_THROW(perRowMask(torch::rand({12}), 0.5), Error);
  for (std::int64_t width : {3, 5000}) {
    auto bad = torch::rand({4, width});
    bad[2][1] = std::nanf("");
    try {
      perRowMask(bad, 0.5);
      FAIL() << "NaN accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("row 2, column 1 is NaN"), std::string::npos) << e.what();
    }
    EXPECT_THROW(perRowMask(bad, 0.3), Error);  // also when nothing would be pruned
  }
}

TEST(RowSelection, NmHandBuiltTiesGoLowestIndexFirst) {
  // Group [1, 1, 0, 1]: prune 0(c2) then the first 1 (c0). Group [5, 4, 3, 2]: prune c7, c6.
  auto scores = torch::tensor({1.f, 1.f, 0.f, 1.f, 5.f, 4.f, 3.f, 2.f}).reshape({1, 8});
  EXPECT_TRUE(torch::equal(nmMask(scores, 2, 4), boolMatrix({{false, true, false, true, true, true, false, false}})));
  // All equal: the lowest indices of each group go.
  EXPECT_TRUE(torch::equal(nmMask(torch::ones({1, 8}), 1, 4),
                           boolMatrix({{false, true, true, true, false, true, true, true}})));
}

TEST(RowSelection, NmKeepsExactlyMMinusNPerGroupAndMatchesTheNaiveRule) {
  torch::manual_seed(12);
  const std::vector<std::pair<std::int64_t, std::int64_t>> patterns = {{2, 4}, {1, 4}, {3, 4}, {4, 8},
                                                                       {2, 6}, {1, 2}, {5, 32}};
  for (auto [n, m] : patterns) {
    for (std::int64_t levels : {2, 5, 1000000}) {
      const auto scores = torch::randint(0, levels, {9, 96}).to(torch::kFloat32);
      const auto keep = nmMask(scores, n, m);
      ASSERT_TRUE(torch::equal(keep, naiveNmMask(scores, n, m))) << n << ":" << m << " levels " << levels;
      const auto keptPerGroup = keep.reshape({9, -1, m}).sum(2);
      ASSERT_TRUE(torch::equal(keptPerGroup, torch::full_like(keptPerGroup, m - n)));
    }
  }
}

TEST(RowSelection, NmRejectsBadPatterns) {
  auto scores = torch::rand({2, 12});
  EXPECT_THROW(nmMask(scores, 4, 4), Error);
  EXPECT_THROW(nmMask(scores, 0, 4), Error);
  EXPECT_THROW(nmMask(scores, 5, 4), Error);
  try {
    nmMask(torch::rand({2, 10}), 2, 4);
    FAIL() << "width 10 accepted for 2:4";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("10 input columns"), std::string::npos) << e.what();
  }
  auto bad = scores.clone();
  bad[1][5] = std::nanf("");
  EXPECT_THROW(nmMask(bad, 2, 4), Error);
}

// The variant's bisection written out naively in fp32, the reference's precision.
std::vector<std::vector<bool>> naiveVariantPruned(const std::vector<std::vector<float>>& s, double target) {
  const std::size_t rows = s.size(), cols = s[0].size();
  std::vector<std::vector<float>> sorted = s, cums(rows, std::vector<float>(cols));
  std::vector<float> sums(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    std::sort(sorted[r].begin(), sorted[r].end());
    float c = 0, t = 0;
    for (std::size_t j = 0; j < cols; ++j) {
      c += sorted[r][j];
      cums[r][j] = c;
      t += s[r][j];
    }
    sums[r] = t;
  }
  std::vector<std::vector<bool>> pruned;
  double cur = 0;
  auto eval = [&](double alpha) {
    pruned.assign(rows, std::vector<bool>(cols, false));
    std::size_t total = 0;
    for (std::size_t r = 0; r < rows; ++r) {
      const float limit = sums[r] * static_cast<float>(alpha);
      std::size_t c = 0;
      for (std::size_t j = 0; j < cols; ++j) c += cums[r][j] <= limit;
      if (c == 0) continue;
      for (std::size_t j = 0; j < cols; ++j) {
        pruned[r][j] = s[r][j] <= sorted[r][c - 1];
        total += pruned[r][j];
      }
    }
    cur = static_cast<double>(total) / static_cast<double>(rows * cols);
  };
  double alpha = 0.4, lo = 0.0, hi = 0.8;
  eval(alpha);
  while (std::abs(cur - target) > 0.001 && hi - lo >= 0.001) {
    const double next = cur > target ? (alpha + lo) / 2 : (alpha + hi) / 2;
    (cur > target ? hi : lo) = alpha;
    alpha = next;
    eval(alpha);
  }
  return pruned;
}

TEST(RowSelection, WandaVariantEqualsTheNaiveBisection) {
  torch::manual_seed(13);
  // Integer scores keep every cumulative sum exact in fp32.
  const auto scores = torch::randint(0, 40, {12, 64}).to(torch::kFloat32);
  std::vector<std::vector<float>> s(12, std::vector<float>(64));
  for (int r = 0; r < 12; ++r)
    for (int j = 0; j < 64; ++j) s[r][j] = scores[r][j].item<float>();
  for (double target : {0.2, 0.5, 0.6}) {
    const auto expected = naiveVariantPruned(s, target);
    const auto keep = wandaVariantMask(scores, target);
    for (int r = 0; r < 12; ++r)
      for (int j = 0; j < 64; ++j)
        ASSERT_EQ(keep[r][j].item<bool>(), !expected[r][j]) << target << " " << r << "," << j;
  }
}

TEST(RowSelection, WandaVariantHitsTheSparsityWithUnequalRows) {
  torch::manual_seed(14);
  // Rows of different scale and spread, as Wanda scores are.
  const auto scores = torch::rand({64, 512}).pow(torch::rand({64, 1}) * 3 + 0.5) * torch::rand({64, 1});
  for (double s : {0.3, 0.5, 0.7}) {
    const auto r = wandaVariantSelect(scores, s);
    EXPECT_NEAR(maskSparsity(r.keepMask), s, 0.001) << s;
    EXPECT_NEAR(r.sparsity, maskSparsity(r.keepMask), 1e-12);
    EXPECT_GT(r.alpha, 0.0);
    EXPECT_LT(r.alpha, 0.8);
    EXPECT_GE(r.iterations, 1);
    const auto perRow = r.keepMask.logical_not().sum(1);
    EXPECT_GT(perRow.max().item<std::int64_t>(), perRow.min().item<std::int64_t>()) << "counts should differ per row";
  }
  EXPECT_TRUE(wandaVariantMask(scores, 0.0).all().item<bool>());
  auto bad = scores.clone();
  bad[3][3] = std::nanf("");
  EXPECT_THROW(wandaVariantMask(bad, 0.5), Error);
}

TEST(RowSelection, WandaScoresAreAbsWeightTimesInputNorm) {
  auto w = torch::tensor({1.f, -2.f, 3.f, -4.f}).reshape({2, 2}).to(torch::kFloat16);
  auto scores = wandaScores(w, torch::tensor({4.f, 9.f}));
  EXPECT_EQ(scores.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(scores, torch::tensor({2.f, 6.f, 6.f, 12.f}).reshape({2, 2})));
  EXPECT_THROW(wandaScores(w, torch::tensor({4.f, 9.f, 1.f})), Error);
  EXPECT_THROW(wandaScores(w, torch::tensor({-4.f, 9.f})), Error);
  EXPECT_THROW(wandaScores(w.reshape({4}), torch::tensor({4.f})), Error);
}

TEST(RowSelection, WandaStatsIsAMeanOverSequences) {
  torch::manual_seed(15);
  const auto a = torch::randn({2, 3, 5}), b = torch::randn({1, 3, 5}).to(torch::kFloat16), c = torch::randn({4, 5});
  WandaStats stats;
  stats.add(a);
  stats.add(b);
  stats.add(c);  // 2-D counts as one sequence, as the reference's unsqueeze(0) does
  EXPECT_EQ(stats.nsamples, 4);
  const auto all = torch::cat({a.reshape({-1, 5}), b.to(torch::kFloat32).reshape({-1, 5}), c});
  const auto expected = all.pow(2).sum(0) / 4.0;
  EXPECT_EQ(stats.scalerRow.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(stats.scalerRow, expected, 1e-5, 1e-6)) << stats.scalerRow << expected;
  EXPECT_THROW(stats.add(torch::randn({2, 3, 6})), Error);
  EXPECT_THROW(stats.add(torch::randn({5})), Error);
}

}  // namespace
}  // namespace prunelab::prune
