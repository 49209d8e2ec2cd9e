#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include <torch/torch.h>

#include "framework/core/Error.h"
#include "framework/prune/RowSelection.h"
#include "framework/prune/Selection.h"
#include "framework/prune/SparseGpt.h"

namespace prunelab::prune {
namespace {

SparseGptOptions unstructured(double sparsity, std::int64_t blocksize) {
  SparseGptOptions o;
  o.sparsity = sparsity;
  o.blocksize = blocksize;
  return o;
}

SparseGptOptions nm(std::int64_t n, std::int64_t m, std::int64_t blocksize) {
  SparseGptOptions o;
  o.prunen = n;
  o.prunem = m;
  o.blocksize = blocksize;
  return o;
}

SparseGptOptions damped(double percdamp, int maxRetries, std::int64_t blocksize) {
  SparseGptOptions o;
  o.percdamp = percdamp;
  o.maxDampRetries = maxRetries;
  o.blocksize = blocksize;
  return o;
}

// Calibration inputs [tokens, in] with correlated features of unequal scale, as LLM activations are.
torch::Tensor correlatedInputs(std::int64_t tokens, std::int64_t in, std::uint64_t seed) {
  torch::manual_seed(seed);
  const auto mixing = torch::eye(in) + torch::randn({in, in}) / std::sqrt(static_cast<double>(in)) * 1.5;
  const auto scale = torch::exp(torch::randn({in}));
  return torch::randn({tokens, in}).matmul(mixing) * scale;
}

torch::Tensor hessianOf(const torch::Tensor& x) {
  HessianAccumulator acc;
  acc.add(x.unsqueeze(0));
  return acc.h;
}

double relativeError(const torch::Tensor& w, const torch::Tensor& pruned, const torch::Tensor& x) {
  const auto ref = x.matmul(w.t());
  return ((ref - x.matmul(pruned.t())).norm() / ref.norm()).item<double>();
}

TEST(SparseGpt, HessianIsTwoOverNTimesXXtOverSequences) {
  torch::manual_seed(21);
  const auto a = torch::randn({2, 7, 6}), b = torch::randn({3, 7, 6}).to(torch::kBFloat16), c = torch::randn({4, 6});
  HessianAccumulator acc;
  acc.add(a);
  acc.add(b);
  acc.add(c);  // 2-D counts as one sequence
  EXPECT_EQ(acc.nsamples, 6);
  const auto x = torch::cat({a.reshape({-1, 6}), b.to(torch::kFloat32).reshape({-1, 6}), c});
  const auto expected = x.t().matmul(x) * (2.0 / 6.0);
  EXPECT_EQ(acc.h.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(acc.h, expected, 1e-5, 1e-5));
  EXPECT_THROW(acc.add(torch::randn({1, 2, 5})), Error);
}

// With a diagonal H there are no correlations: Hinv is diagonal, no error reaches another column,
// kept weights stay exactly as they were, and d_i² = 1/(h_i + λ) makes the saliency w²·(h_i + λ).
// With H = c·I that is magnitude selection with the per-block threshold.
TEST(SparseGpt, DiagonalHessianIsPerBlockSaliencySelectionWithoutUpdates) {
  torch::manual_seed(22);
  const auto w = torch::randn({16, 96});
  const std::int64_t block = 32;
  for (bool identity : {true, false}) {
    const auto h = identity ? torch::ones({96}) * 3.0 : torch::rand({96}) * 1.5 + 0.5;
    const double lambda = 0.01 * h.mean().item<double>();
    const auto result = sparseGptPrune(w, torch::diag(h), unstructured(0.5, block));
    EXPECT_EQ(result.dampRetries, 0);
    for (std::int64_t i1 = 0; i1 < 96; i1 += block) {
      const auto wb = w.slice(1, i1, i1 + block);
      const auto saliency = identity ? wb.abs() : wb.pow(2) * (h.slice(0, i1, i1 + block) + lambda);
      const auto expectedKeep = perMatrixThresholdMask(saliency, 0.5);
      EXPECT_TRUE(torch::equal(result.keepMask.slice(1, i1, i1 + block), expectedKeep)) << "block at " << i1;
      // int(512·0.5) + 1 weights go per block: everything <= the sorted value at index 256.
      EXPECT_EQ(expectedKeep.logical_not().sum().item<std::int64_t>(), 257);
    }
    EXPECT_TRUE(torch::equal(result.weight, w * result.keepMask)) << "kept weights must be untouched";
  }
}

TEST(SparseGpt, ReconstructsBetterThanWandaAndMagnitude) {
  const std::int64_t in = 128, out = 64;
  const auto x = correlatedInputs(1024, in, 23);
  torch::manual_seed(24);
  const auto w = torch::randn({out, in});
  const auto h = hessianOf(x);
  WandaStats stats;
  stats.add(x.unsqueeze(0));

  const auto magnitude = w * perMatrixThresholdMask(w.abs(), 0.5);
  const auto wanda = w * perRowMask(wandaScores(w, stats.scalerRow), 0.5);
  const auto sparse = sparseGptPrune(w, h, unstructured(0.5, 32));
  EXPECT_NEAR(maskSparsity(sparse.keepMask), 0.5, 0.01);
  EXPECT_TRUE(torch::equal(sparse.weight.eq(0).logical_or(sparse.keepMask), torch::ones_like(sparse.keepMask)));

  const double eMag = relativeError(w, magnitude, x), eWanda = relativeError(w, wanda, x),
               eSparse = relativeError(w, sparse.weight, x);
  EXPECT_LT(eSparse, eWanda) << "magnitude " << eMag << " wanda " << eWanda << " sparsegpt " << eSparse;
  EXPECT_LT(eWanda, eMag) << "magnitude " << eMag << " wanda " << eWanda;
  EXPECT_GT(sparse.loss, 0.0);

  const auto wanda24 = w * nmMask(wandaScores(w, stats.scalerRow), 2, 4);
  const auto sparse24 = sparseGptPrune(w, h, nm(2, 4, 32));
  EXPECT_LT(relativeError(w, sparse24.weight, x), relativeError(w, wanda24, x));
}

TEST(SparseGpt, NmModeKeepsMMinusNPerGroup) {
  const auto x = correlatedInputs(512, 64, 25);
  torch::manual_seed(26);
  const auto w = torch::randn({8, 64});
  for (auto [n, m] : {std::pair<std::int64_t, std::int64_t>{2, 4}, {4, 8}, {1, 4}}) {
    const auto r = sparseGptPrune(w, hessianOf(x), nm(n, m, 16));
    const auto kept = r.keepMask.reshape({8, -1, m}).sum(2);
    EXPECT_TRUE(torch::equal(kept, torch::full_like(kept, m - n))) << n << ":" << m;
    EXPECT_TRUE(torch::equal(r.weight.masked_select(r.keepMask.logical_not()), torch::zeros({8 * 64 / m * n})));
  }
}

TEST(SparseGpt, RowScalarAndTensorLoopsAgree) {
  const auto x = correlatedInputs(400, 48, 27);
  torch::manual_seed(28);
  const auto w = torch::randn({10, 48});
  const auto h = hessianOf(x);
  for (const auto& o : {unstructured(0.6, 16), nm(2, 4, 8)}) {
    const auto a = detail::sparseGptPruneWith(w, h, o, detail::ColumnLoop::kRowScalar);
    const auto b = detail::sparseGptPruneWith(w, h, o, detail::ColumnLoop::kTensorOps);
    EXPECT_TRUE(torch::equal(a.keepMask, b.keepMask));
    EXPECT_TRUE(torch::allclose(a.weight, b.weight, 1e-5, 1e-6));
    EXPECT_NEAR(a.loss, b.loss, 1e-6 * (1 + std::abs(a.loss)));
  }
}

TEST(SparseGpt, DampingGrowsUntilTheFactorisationSucceeds) {
  const auto w = torch::randn({3, 4});
  // Rank one with a unit diagonal: undamped Cholesky meets a zero pivot; percdamp 0 retries at 0.01.
  const auto singular = torch::ones({4, 4});
  const auto r = sparseGptPrune(w, singular, damped(0.0, 4, 4));
  EXPECT_EQ(r.dampRetries, 1);
  EXPECT_DOUBLE_EQ(r.dampUsed, 0.01);
  // Eigenvalues 3 and −1 (mean diagonal 1): fails at 0.01, 0.1 and 1 (a zero eigenvalue), works at 10.
  const auto indefinite = torch::tensor({1.f, 2.f, 2.f, 1.f}).reshape({2, 2});
  const auto w2 = torch::randn({3, 2});
  const auto r2 = sparseGptPrune(w2, indefinite, damped(0.01, 4, 2));
  EXPECT_EQ(r2.dampRetries, 3);
  EXPECT_NEAR(r2.dampUsed, 10.0, 1e-9);
  try {
    sparseGptPrune(w2, indefinite, damped(0.01, 2, 2));
    FAIL() << "an indefinite Hessian was accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("not positive definite"), std::string::npos) << what;
    EXPECT_NE(what.find("more calibration samples"), std::string::npos) << what;
  }
}

TEST(SparseGpt, DeadInputsAreZeroedAndDtypeIsKept) {
  auto x = correlatedInputs(256, 16, 29);
  x.select(1, 5).zero_();
  torch::manual_seed(30);
  const auto w = torch::randn({6, 16}).to(torch::kBFloat16);
  const auto r = sparseGptPrune(w, hessianOf(x), unstructured(0.25, 8));
  EXPECT_EQ(r.weight.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(r.weight.select(1, 5).eq(0).all().item<bool>());
  EXPECT_TRUE(w.select(1, 5).ne(0).any().item<bool>()) << "the caller's weight must not change";
}

TEST(SparseGpt, SparsityZeroPrunesNothing) {
  const auto x = correlatedInputs(256, 16, 31);
  const auto w = torch::randn({4, 16});
  const auto r = sparseGptPrune(w, hessianOf(x), unstructured(0.0, 128));
  EXPECT_TRUE(r.keepMask.all().item<bool>());
  EXPECT_TRUE(torch::equal(r.weight, w));
}

TEST(SparseGpt, RejectsBadInput) {
  const auto w = torch::randn({4, 8});
  const auto h = torch::eye(8);
  auto nanW = w.clone();
  nanW[1][2] = std::nanf("");
  EXPECT_THROW(sparseGptPrune(nanW, h, {}), Error);
  auto infH = h.clone();
  infH[3][3] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(sparseGptPrune(w, infH, {}), Error);
  EXPECT_THROW(sparseGptPrune(w, torch::eye(7), {}), Error);
  EXPECT_THROW(sparseGptPrune(w.reshape({32}), h, {}), Error);
  EXPECT_THROW(sparseGptPrune(w, -torch::eye(8), {}), Error);
  EXPECT_THROW(sparseGptPrune(w, h, unstructured(1.0, 128)), Error);
  EXPECT_THROW(sparseGptPrune(w, h, unstructured(0.5, 0)), Error);
  EXPECT_THROW(sparseGptPrune(w, h, nm(4, 4, 128)), Error);
  EXPECT_THROW(sparseGptPrune(w, h, nm(2, 4, 6)), Error);
  EXPECT_THROW(sparseGptPrune(torch::randn({4, 6}), torch::eye(6), nm(2, 4, 4)), Error);
}

}  // namespace
}  // namespace prunelab::prune
