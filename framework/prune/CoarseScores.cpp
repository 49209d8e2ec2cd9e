#include "framework/prune/CoarseScores.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "framework/core/BlasCore.h"
#include "framework/core/Error.h"
#include "framework/core/Progress.h"
#include "framework/core/Suggest.h"
#include "framework/core/Threads.h"
#include "framework/profile/MemoryTracker.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/RowSelection.h"

namespace prunelab::prune {

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// Holds one matrix at W ± ε·z and puts the saved copy back on destruction (also when the loss
// throws), so the weights come back bit for bit whatever happens in between. W ± ε·z is formed
// from the saved copy each time, never by stepping the live weight (the reference's +1, −2, +1
// steps drift in low precision, spec §1.2).
class Perturbation {
 public:
  Perturbation(torch::Tensor weight, const torch::Tensor& z, double eps) : weight_(std::move(weight)) {
    saved_ = weight_.detach().clone();
    const auto compute = weight_.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
    base_ = saved_.to(compute);
    delta_ = z.to(weight_.device(), compute) * eps;
  }
  ~Perturbation() { restore(); }
  Perturbation(const Perturbation&) = delete;
  Perturbation& operator=(const Perturbation&) = delete;

  void plus() { weight_.detach().copy_(base_ + delta_); }
  void minus() { weight_.detach().copy_(base_ - delta_); }
  void restore() { weight_.detach().copy_(saved_); }

 private:
  torch::Tensor weight_, saved_, base_, delta_;
};

double finiteLoss(const torch::Tensor& loss, const std::string& matrix, const char* sign, std::int64_t batch,
                  double eps) {
  const double l = loss.item<double>();
  PL_CHECK(std::isfinite(l),
           "zeroth-order coarse step: the loss is {} with '{}' at W {} eps*z (eps = {}, calibration batch {}): lower "
           "pruner.coarse.eps, or check that the dense model's calibration loss is finite",
           l, matrix, sign, eps, batch);
  return l;
}

// Runs `f` with the CPU allocations it makes tagged `category` (Profiler's per-stage memory split).
template <class F>
auto tagged(profile::MemoryCategory category, F&& f) {
  profile::MemoryScope scope(category);
  return f();
}

// What one target contributes on one batch: |L+ − L−| / 2ε.
double scoreTerm(double lPlus, double lMinus, double eps) { return std::fabs(lPlus - lMinus) / (2.0 * eps); }

}  // namespace

void CoarseOptions::validate() const {
  checkOneOf("coarse.order", order, {"zeroth", "first", "local"});
  checkOneOf("coarse.mode", mode, {"fast", "reference"});
  PL_CHECK(std::isfinite(eps) && eps > 0, "coarse.eps must be a positive number, got {} (reference: 1e-3)", eps);
  PL_CHECK(nsamples > 0, "coarse.nsamples must be positive, got {} (reference: 32)", nsamples);
  PL_CHECK(batch_size > 0, "coarse.batch_size must be positive, got {} (reference: 8)", batch_size);
  PL_CHECK(group >= 1, "coarse.group must be at least 1 (matrices of one block whose suffixes share a forward), got {}",
           group);
  PL_CHECK(threads >= 1, "coarse.threads must be at least 1 (suffix forwards side by side; 1 = one after another), got {}",
           threads);
}

torch::Tensor zerothOrderNoise(const std::string& name, at::IntArrayRef shape, std::uint64_t seed, std::int64_t batch) {
  const std::uint64_t s = splitmix64(splitmix64(splitmix64(seed) ^ fnv1a(name)) ^ static_cast<std::uint64_t>(batch));
  auto gen = at::detail::createCPUGenerator(s);
  return torch::randn(shape, gen, torch::TensorOptions().dtype(torch::kFloat));
}

std::vector<double> zerothOrderScores(model::Model& model, const std::vector<model::Batch>& batches,
                                      const std::vector<model::LinearRef>& targets, const ZerothOrderOptions& options) {
  PL_CHECK(!batches.empty(), "the zeroth-order coarse step needs calibration batches");
  PL_CHECK(std::isfinite(options.eps) && options.eps > 0, "zeroth-order eps must be positive, got {}", options.eps);
  PL_CHECK(options.group >= 1, "zeroth-order group must be at least 1 (matrices per suffix forward), got {}",
           options.group);
  PL_CHECK(options.threads >= 1, "zeroth-order threads must be at least 1, got {}", options.threads);
  const double eps = options.eps;
  const auto group = static_cast<std::size_t>(options.group);
  const auto threads = options.fast && options.pair ? static_cast<std::size_t>(options.threads) : std::size_t{1};
  // Side-by-side suffixes each call BLAS: OpenBLAS's own pool beside them would oversubscribe.
  SingleThreadedBlas oneBlasThread(threads > 1);
  torch::NoGradGuard noGrad;
  model.module().eval();

  // Fast mode resumes inside a stack; targets outside any block take the full forward.
  std::map<std::string, std::map<int, std::vector<std::size_t>>> inBlock;
  std::vector<std::size_t> full;
  std::map<std::string, int> numBlocks;
  for (const auto& s : model.stacks()) numBlocks[s.name] = s.numBlocks;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    const auto it = numBlocks.find(t.stack);
    if (options.fast && t.block >= 0 && it != numBlocks.end() && t.block < it->second) {
      inBlock[t.stack][t.block].push_back(i);
    } else {
      full.push_back(i);
    }
  }

  std::vector<double> scores(targets.size(), 0.0);
  Progress progress(options.fast ? "zeroth-order scores (fast)" : "zeroth-order scores",
                    static_cast<std::int64_t>(targets.size() * batches.size()), "perturbation");
  auto fullForward = [&](std::size_t i, std::int64_t b) {
    const auto& t = targets[i];
    Perturbation p(t.layer->weight, zerothOrderNoise(t.name, t.layer->weight.sizes(), options.seed, b), eps);
    const auto& batch = batches[static_cast<std::size_t>(b)];
    auto forward = [&] { return tagged(profile::MemoryCategory::Activations, [&] { return model.loss(batch); }); };
    p.plus();
    const double lPlus = finiteLoss(forward(), t.name, "+", b, eps);
    p.minus();
    const double lMinus = finiteLoss(forward(), t.name, "-", b, eps);
    scores[i] += scoreTerm(lPlus, lMinus, eps);
    progress.advance();
  };

  if (!options.fast) {
    // The reference loop (spec §1.2): matrix by matrix, every batch, two full forwards each.
    for (std::size_t i = 0; i < targets.size(); ++i)
      for (std::int64_t b = 0; b < static_cast<std::int64_t>(batches.size()); ++b) fullForward(i, b);
    return scores;
  }

  // Batch by batch, so only the current block's input state of one batch is alive. Each target
  // still sums its terms in batch order, as the reference loop does.
  for (std::int64_t b = 0; b < static_cast<std::int64_t>(batches.size()); ++b) {
    const auto& batch = batches[static_cast<std::size_t>(b)];
    for (const auto& stack : model.stacks()) {
      auto found = inBlock.find(stack.name);
      if (found == inBlock.end()) continue;
      const auto& blocks = found->second;
      const int last = blocks.rbegin()->first;
      // The cached block input state and every forward from it are the step's activations.
      const auto activations = profile::MemoryCategory::Activations;
      model::Batch state = tagged(activations, [&] { return model.stackInputs(stack.name, batch); });
      for (int block = 0; block <= last; ++block) {
        auto here = blocks.find(block);
        if (here != blocks.end()) {
          const auto& inThisBlock = here->second;
          if (options.pair) {
            // Only block k sees the perturbed matrix: run it at W+εz and at W−εz for up to
            // `group` of its matrices in turn (one perturbed at a time, restored after), then the
            // unperturbed suffix once on all those outputs. With several threads, each takes
            // every threads-th group; block k's weights are perturbed and read by one thread at a
            // time (blockLock), while the suffixes, which read only blocks after k, run side by side.
            const std::size_t groups = (inThisBlock.size() + group - 1) / group;
            const std::size_t workers = std::min(threads, groups);
            std::vector<torch::Tensor> losses(groups);
            std::mutex blockLock;
            auto work = [&](std::size_t worker) {
              for (std::size_t g = worker; g < groups; g += workers) {
                const std::size_t first = g * group;
                const std::size_t count = std::min(group, inThisBlock.size() - first);
                std::vector<torch::Tensor> noise;
                for (std::size_t j = 0; j < count; ++j) {
                  const auto& t = targets[inThisBlock[first + j]];
                  noise.push_back(zerothOrderNoise(t.name, t.layer->weight.sizes(), options.seed, b));
                }
                std::vector<model::Batch> outputs;
                {
                  std::lock_guard<std::mutex> hold(blockLock);
                  for (std::size_t j = 0; j < count; ++j) {
                    Perturbation p(targets[inThisBlock[first + j]].layer->weight, noise[j], eps);
                    auto runBlock = [&] {
                      return tagged(activations, [&] { return model.forwardBlock(stack.name, block, state); });
                    };
                    p.plus();
                    outputs.push_back(runBlock());
                    p.minus();
                    outputs.push_back(runBlock());
                  }
                }
                losses[g] = tagged(activations, [&] {
                  return model.lossesFromBlock(stack.name, block + 1, outputs, batch);
                });
              }
            };
            if (workers == 1) {
              work(0);
            } else {
              runOnThreads(static_cast<std::int64_t>(workers), [&](std::int64_t w) {
                at::init_num_threads();
                torch::NoGradGuard workerNoGrad;  // grad mode is per thread
                work(static_cast<std::size_t>(w));
              });
            }
            for (std::size_t g = 0; g < groups; ++g) {
              const std::size_t first = g * group;
              const std::size_t count = std::min(group, inThisBlock.size() - first);
              PL_CHECK(static_cast<std::size_t>(losses[g].numel()) == 2 * count,
                       "Model::lossesFromBlock returned {} losses for {} states: it must return one per state",
                       losses[g].numel(), 2 * count);
              for (std::size_t j = 0; j < count; ++j) {
                const auto& t = targets[inThisBlock[first + j]];
                const auto k = static_cast<std::int64_t>(2 * j);
                const double lPlus = finiteLoss(losses[g][k], t.name, "+", b, eps);
                const double lMinus = finiteLoss(losses[g][k + 1], t.name, "-", b, eps);
                scores[inThisBlock[first + j]] += scoreTerm(lPlus, lMinus, eps);
                progress.advance();
              }
            }
          } else {
            for (std::size_t i : inThisBlock) {
              const auto& t = targets[i];
              Perturbation p(t.layer->weight, zerothOrderNoise(t.name, t.layer->weight.sizes(), options.seed, b), eps);
              auto suffix = [&] {
                return tagged(activations, [&] { return model.lossFromBlock(stack.name, block, state, batch); });
              };
              p.plus();
              const double lPlus = finiteLoss(suffix(), t.name, "+", b, eps);
              p.minus();
              const double lMinus = finiteLoss(suffix(), t.name, "-", b, eps);
              scores[i] += scoreTerm(lPlus, lMinus, eps);
              progress.advance();
            }
          }
        }
        if (block < last) state = tagged(activations, [&] { return model.forwardBlock(stack.name, block, state); });
      }
    }
    for (std::size_t i : full) fullForward(i, b);
  }
  return scores;
}

namespace {
// Makes the target weights require grad for the backward passes and puts the flags back after.
struct RequiresGradGuard {
  std::vector<torch::Tensor> changed;
  explicit RequiresGradGuard(const std::vector<torch::Tensor>& weights) {
    for (const auto& w : weights) {
      if (!w.requires_grad()) {
        w.requires_grad_(true);
        changed.push_back(w);
      }
    }
  }
  ~RequiresGradGuard() {
    for (auto& w : changed) w.requires_grad_(false);
  }
};
}  // namespace

FirstOrderGradients firstOrderGradients(model::Model& model, const std::vector<model::Batch>& batches,
                                        const std::vector<model::LinearRef>& targets,
                                        const FirstOrderOptions& options) {
  PL_CHECK(!batches.empty(), "the first-order scores need calibration batches");
  torch::AutoGradMode gradMode(true);
  model.module().eval();
  std::vector<torch::Tensor> weights;
  for (const auto& t : targets) weights.push_back(t.layer->weight);
  RequiresGradGuard guard(weights);

  const std::size_t n = targets.size();
  FirstOrderGradients out;
  out.meanAbs.resize(n);
  out.meanSq.resize(n);
  out.gradNorm.assign(n, 0.0);
  Progress progress("first-order scores", static_cast<std::int64_t>(batches.size()), "batch");
  for (std::size_t b = 0; b < batches.size(); ++b) {
    auto loss = tagged(profile::MemoryCategory::Activations, [&] { return model.loss(batches[b]); });
    const double l = loss.item<double>();
    PL_CHECK(std::isfinite(l),
             "first-order scores: the calibration loss is {} on batch {}: check that the dense model's loss is "
             "finite on the calibration split",
             l, b);
    auto grads = tagged(profile::MemoryCategory::Gradients, [&] {
      return torch::autograd::grad({loss}, weights, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                   /*allow_unused=*/true);
    });
    loss = torch::Tensor();
    for (std::size_t i = 0; i < n; ++i) {
      // A target the loss does not reach has no gradient: it scores 0.
      torch::Tensor g;
      if (grads[i].defined()) {
        g = grads[i].detach().to(torch::kFloat);
      } else {
        profile::MemoryScope gradients(profile::MemoryCategory::Gradients);
        g = torch::zeros(weights[i].sizes(), weights[i].options().dtype(torch::kFloat));
      }
      PL_CHECK(torch::isfinite(g).all().item<bool>(),
               "first-order scores: the gradient of '{}' holds NaN or Inf on batch {}: check the weights and the "
               "calibration loss of the dense model",
               targets[i].name, b);
      {
        profile::MemoryScope scores(profile::MemoryCategory::Scores);
        if (options.meanAbs) {
          if (out.meanAbs[i].defined()) {
            out.meanAbs[i].add_(g.abs());
          } else {
            out.meanAbs[i] = g.abs();
          }
        }
        if (options.meanSq) {
          if (out.meanSq[i].defined()) {
            out.meanSq[i].addcmul_(g, g);
          } else {
            out.meanSq[i] = g * g;
          }
        }
      }
      out.gradNorm[i] += g.norm().item<double>();
      // Drop this gradient now, so the next target's accumulation does not sit on top of it.
      g = torch::Tensor();
      grads[i] = torch::Tensor();
    }
    progress.advance();
  }
  const double nb = static_cast<double>(batches.size());
  torch::NoGradGuard noGrad;
  for (std::size_t i = 0; i < n; ++i) {
    if (out.meanAbs[i].defined()) out.meanAbs[i].div_(nb);
    if (out.meanSq[i].defined()) out.meanSq[i].div_(nb);
  }
  return out;
}

FirstOrderScores firstOrderScores(model::Model& model, const std::vector<model::Batch>& batches,
                                  const std::vector<model::LinearRef>& targets, const FirstOrderOptions& fields) {
  auto grads = firstOrderGradients(model, batches, targets, fields);
  FirstOrderScores out;
  out.gradNorm = std::move(grads.gradNorm);
  torch::NoGradGuard noGrad;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto w = targets[i].layer->weight.detach().to(torch::kFloat);
    if (fields.meanAbs) out.gradient.push_back((w.abs() * grads.meanAbs[i]).sum(torch::kDouble).item<double>());
    if (fields.meanSq) out.fisher.push_back((w * w * grads.meanSq[i]).sum(torch::kDouble).item<double>());
    // Each matrix's statistics go as soon as they are reduced.
    grads.meanAbs[i] = torch::Tensor();
    grads.meanSq[i] = torch::Tensor();
  }
  return out;
}

std::vector<double> localScores(model::Model& model, const std::vector<model::Batch>& batches,
                                const std::vector<model::LinearRef>& targets, const FineStepOptions& fine) {
  fine.validate();
  std::vector<double> scores(targets.size(), 0.0);
  auto saliencySum = [&fine](const model::LinearRef& ref, const InputStats& stats) {
    torch::NoGradGuard noGrad;
    const auto w = ref.layer->weight.detach();
    torch::Tensor s;
    if (fine.needsHessian()) {
      s = sparseGptSaliency(w, stats.hessian, fine.sparseGpt());
    } else if (fine.needsSqNorms()) {
      s = wandaScores(w, stats.sqNorms);
    } else {
      s = w.abs();
    }
    const double total = s.sum(torch::kDouble).item<double>();
    PL_CHECK(std::isfinite(total), "local score of '{}' is {}: its weights or calibration statistics overflowed",
             ref.name, total);
    return total;
  };
  if (!fine.needsHessian() && !fine.needsSqNorms()) {
    for (std::size_t i = 0; i < targets.size(); ++i) scores[i] = saliencySum(targets[i], InputStats{});
    return scores;
  }
  PL_CHECK(!batches.empty(), "the local scores of the {} step need calibration batches", fine.score);
  std::map<std::string, std::size_t> indexOf;
  for (std::size_t i = 0; i < targets.size(); ++i) indexOf[targets[i].name] = i;
  BlockwiseCallbacks callbacks;
  callbacks.makeObserver = [&fine](const model::LinearRef&) { return std::make_unique<InputStatsCollector>(fine); };
  // A measuring "prune": the driver's replay then keeps every block dense.
  callbacks.pruneLayer = [&](const model::LinearRef& ref, LayerObserver* observer) {
    scores[indexOf.at(ref.name)] = saliencySum(ref, static_cast<InputStatsCollector*>(observer)->stats(ref.name));
    return describeLayer(ref, 0.0);
  };
  runBlockwise(model, batches, targets, callbacks);
  return scores;
}

std::vector<AllocationGroup> matrixEntries(const std::vector<model::LinearRef>& targets,
                                           const std::vector<double>& scores) {
  PL_CHECK(targets.size() == scores.size(), "{} scores for {} targets: give one score per target", scores.size(),
           targets.size());
  std::vector<AllocationGroup> out;
  for (std::size_t i = 0; i < targets.size(); ++i)
    out.push_back({targets[i].name, targets[i].modality, targets[i].layer->weight.numel(), scores[i], 0.0});
  return out;
}

Granularity granularityFromName(const std::string& name) {
  checkOneOf("granularity", name, {"block", "layer", "modality"});
  if (name == "layer") return Granularity::Layer;
  if (name == "modality") return Granularity::Modality;
  return Granularity::Block;
}

ScoreAggregate aggregateFromName(const std::string& name) {
  checkOneOf("aggregate", name, {"sum", "avg"});
  return name == "avg" ? ScoreAggregate::Avg : ScoreAggregate::Sum;
}

}  // namespace prunelab::prune
