#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "framework/model/Model.h"
#include "framework/prune/Allocation.h"
#include "framework/prune/FineStep.h"

namespace prunelab::prune {

// ECoFLaP's coarse step (spec-ecoflap-efficientvlm.md §1.2–§1.3): one importance scalar per target
// matrix, measured on the model's calibration loss (Model::loss), then gathered into allocation
// groups (blocks or matrices) for allocateEcoflap.

/// The coarse-step settings a pruner exposes (pruner.coarse.*).
struct CoarseOptions {
  std::string order = "zeroth";
  double eps = 1e-3;
  std::string mode = "fast";
  bool pair = true;
  std::int64_t group = 1;
  std::int64_t threads = 1;
  std::int64_t nsamples = 32;
  std::int64_t batch_size = 8;

  template <class V>
  void visit(V& v) {
    v(order, "order",
      "zeroth (Σ|L(W+εz)−L(W−εz)|/2ε per matrix, forward passes only), first (Σ|W|·mean|∇L|) or local (Σ of the "
      "fine step's own saliency on the dense model: the paper's local-score ablation)");
    v(eps, "eps", "zeroth: perturbation size ε (reference: 1e-3)");
    v(mode, "mode",
      "zeroth: fast (re-run only from the perturbed block, needs Model::lossFromBlock) or reference (a full "
      "forward per perturbation); both give the same scores");
    v(pair, "pair", "zeroth fast: evaluate the +ε and −ε suffixes as one forward (Model::lossesFromBlock)");
    v(group, "group",
      "zeroth fast with pair: the ±ε outputs of up to this many matrices of one block share one suffix forward "
      "(1 = one matrix's pair; more = wider, faster matrix products, and that many times the suffix's activations)");
    v(threads, "threads",
      "zeroth fast with pair: the unperturbed suffix forwards of one block run side by side on this many threads "
      "(OpenBLAS on one thread meanwhile); faster, but each thread holds one suffix's activations, which can lift "
      "the coarse step's peak above the fine step's (on mini_blip2, 2 threads: 18.3 vs 13.6 MB); 1 = one after another");
    v(nsamples, "nsamples", "calibration samples of the coarse step (reference: 32)");
    v(batch_size, "batch_size", "samples per coarse-step forward (reference: 8); one perturbation per batch");
  }
  /// Throws on unknown names and non-positive sizes, with the fix.
  void validate() const;
};

/// Zeroth-order settings, as plain values.
struct ZerothOrderOptions {
  double eps = 1e-3;
  bool fast = true;  ///< re-run only the suffix after the perturbed block (Model::lossFromBlock)
  bool pair = true;  ///< fast: +ε and −ε suffixes in one forward (Model::lossesFromBlock)
  std::int64_t group = 1;  ///< pair: the pairs of up to this many matrices of a block in one suffix forward
  std::int64_t threads = 1;  ///< pair: suffix forwards of one block side by side on this many threads
  std::uint64_t seed = 0;
};

/// The Gaussian direction z ~ N(0, I) (fp32, CPU, shape `shape`) of the perturbation of matrix
/// `name` on calibration batch `batch`. It is regenerated from (seed, name, batch) whenever it is
/// needed, so no z is ever stored beyond the matrix being perturbed. Keyed by the canonical name
/// rather than a position so that a matrix keeps its noise when the target list changes.
torch::Tensor zerothOrderNoise(const std::string& name, at::IntArrayRef shape, std::uint64_t seed, std::int64_t batch);

/// ECoFLaP's zeroth-order score per target (`MEZO-GradOnly`): for each target W and each batch b,
/// L± = loss(b) at W ± ε·z(seed, W, b) under no-grad, score = Σ_b |L+ − L−| / (2ε), an estimate of
/// √(2/π)·Σ_b ‖∇_W L_b‖_F. One matrix is perturbed at a time, in fp32 (fp64 for fp64 weights), and
/// restored bit-exactly from a copy of that one matrix.
///
/// Reference mode is the plain loop (two full forwards per matrix and batch). Fast mode walks each
/// batch through the stacks once, keeping only the current block's input state; for a target in
/// block k it runs block k at W+εz and at W−εz from that cached state and continues from block k+1
/// (Model::lossFromBlock / lossesFromBlock); blocks before k are never re-run. With `pair` both
/// suffixes run as one forward on the two outputs concatenated along the batch and the model
/// reduces the loss per half; with `group` > 1 the pairs of up to that many matrices of the same
/// block (each perturbed and restored in turn) share that forward; without it the suffix ops are exactly those of loss(), so fast equals
/// reference bit for bit. With `pair` and `threads` > 1, the groups of block k are shared among
/// that many threads (each takes every threads-th group): running block k at W ± εz is done by one
/// thread at a time, each matrix restored before the lock is released, while the suffixes, which
/// read only the blocks after k, run side by side, with OpenBLAS on one thread meanwhile; the next
/// block starts when all have finished. The scores are summed in the same order as with one
/// thread, so only the suffixes' rounding can differ (from the BLAS thread count), never which
/// terms are added. A target outside any block is scored with full forwards in both modes.
/// A non-finite loss is an error naming the matrix and the batch. Memory tag: the cached block
/// input states and every forward are Activations.
std::vector<double> zerothOrderScores(model::Model& model, const std::vector<model::Batch>& batches,
                                      const std::vector<model::LinearRef>& targets, const ZerothOrderOptions& options);

/// Which per-element gradient statistics firstOrderGradients keeps. Each one is an fp32 tensor the
/// size of every target, so a caller asks only for what it reads (ECoFLaP's reference keeps Σ|g|
/// only).
struct FirstOrderOptions {
  bool meanAbs = true;  ///< mean_b |g_b| (ECoFLaP `GradMagAbs`, the global pruner's `gradient`)
  bool meanSq = false;  ///< mean_b g_b² (`GradMagSquare`, the global pruner's `fisher`)
};

/// Per-element gradient statistics of every target over the calibration batches.
struct FirstOrderGradients {
  std::vector<torch::Tensor> meanAbs;  ///< per target mean_b |g_b| (fp32, weight's shape and device), if asked for
  std::vector<torch::Tensor> meanSq;   ///< per target mean_b g_b² (same layout), if asked for
  std::vector<double> gradNorm;        ///< per target Σ_b ‖g_b‖_F (always)
};

/// One backward per batch (torch::autograd::grad of Model::loss with respect to the target weights
/// only, in eval mode), accumulated in fp32 into the statistics `options` asks for, then divided
/// by the number of batches (the reference's mean over batches, each batch's loss already a mean).
/// A target the loss does not reach has gradient 0. A non-finite loss or gradient is an error
/// naming the batch (and the matrix). Memory tags: the forward is Activations, the backward
/// Gradients, the accumulators Scores.
FirstOrderGradients firstOrderGradients(model::Model& model, const std::vector<model::Batch>& batches,
                                        const std::vector<model::LinearRef>& targets,
                                        const FirstOrderOptions& options = {});

/// First-order scores per target: firstOrderGradients reduced to one scalar per matrix.
struct FirstOrderScores {
  std::vector<double> gradient;  ///< Σ |W|·mean_b|g_b| (ECoFLaP `GradMagAbs`); empty unless meanAbs was requested
  std::vector<double> fisher;    ///< Σ W²·mean_b g_b² (`GradMagSquare`, OBD/Fisher-like); empty unless meanSq was
  std::vector<double> gradNorm;  ///< Σ_b ‖g_b‖_F (what the zeroth-order score estimates, times √(2/π))
};

/// First-order scores of every target over `batches`. By default both per-element statistics are
/// accumulated (gradient and fisher); ECoFLaP's coarse step needs only `{true, false}`, which
/// halves the score memory. Errors as firstOrderGradients.
FirstOrderScores firstOrderScores(model::Model& model, const std::vector<model::Batch>& batches,
                                  const std::vector<model::LinearRef>& targets,
                                  const FirstOrderOptions& fields = {/*meanAbs=*/true, /*meanSq=*/true});

/// ECoFLaP's "local-score sparsities" ablation (the paper's Table 2): per target the sum of the fine
/// step's own per-weight saliency on the dense model, with no loss and no gradient: magnitude Σ|W|,
/// wanda Σ|W|·‖X_j‖, obs (SparseGPT) Σ w²/d² (sparseGptSaliency). The input statistics come from
/// one blockwise pass over `batches` through the dense model (the fine step's own collector; no
/// pass for magnitude); nothing is pruned. Memory tags as the blockwise driver's.
std::vector<double> localScores(model::Model& model, const std::vector<model::Batch>& batches,
                                const std::vector<model::LinearRef>& targets, const FineStepOptions& fine);

/// One allocation entry per target (name, modality, numel) with its score.
std::vector<AllocationGroup> matrixEntries(const std::vector<model::LinearRef>& targets,
                                           const std::vector<double>& scores);

/// `granularity` from its config name: block, layer or modality.
Granularity granularityFromName(const std::string& name);
/// `aggregate` from its config name: sum or avg.
ScoreAggregate aggregateFromName(const std::string& name);

}  // namespace prunelab::prune
