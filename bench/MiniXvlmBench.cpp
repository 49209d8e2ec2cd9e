// mini_xvlm's inference time, dense vs physically pruned, in one benchmark run (same inputs, same
// threads): Model::loss without gradients on 32 scenes with 16-token captions, which runs the
// vision, text and cross-modal encoders (the cross encoder on the positive and one negative pair
// per scene), as the `speed` evaluator times it. Only the shapes matter for time, so both models
// are built from the seed without training. The pruned model is
//  - by default the default mini_xvlm (experiments/conf/model/mini_xvlm.yaml's teacher) with half
//    the heads of every attention module and half the neurons of every MLP removed (uniform 50%);
//  - with PRUNELAB_XVLM_CHECKPOINT=<run folder>/pruned.safetensors, the architecture and the kept
//    heads and neurons recorded in that checkpoint's metadata (e.g. modal_adaptive's learned
//    structure), against the dense model of the same options;
//  - Uneven: the same parameter budget as uniform 50% in widths that alternate from block to block
//    (a quarter and three quarters of the heads and neurons kept), the shape modal_adaptive's
//    learned structures have, to tell a cost of uneven widths from a cost of the structure itself.
// Counters: params (every parameter of the model), scenes per second, and minor page faults per
// forward (getrusage; a forward whose buffers are mmapped afresh shows thousands). state.range(0) intra-op
// threads, 0 meaning one per core; compare dense and pruned at the same thread count.
#include <benchmark/benchmark.h>

#include <ATen/CPUGeneratorImpl.h>
#include <yaml-cpp/yaml.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "framework/core/Options.h"
#include "framework/model/Safetensors.h"
#include "models/mini_xvlm/MiniXvlm.h"

namespace {

using prunelab::models::MiniXvlm;

constexpr std::int64_t kScenes = 32, kTokens = 16;

const char* checkpointPath() { return std::getenv("PRUNELAB_XVLM_CHECKPOINT"); }

enum class Variant { Dense, Pruned, Uneven };

long minorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

std::unique_ptr<MiniXvlm> makeModel(Variant variant) {
  const bool pruned = variant != Variant::Dense;
  MiniXvlm::Options options;
  nlohmann::ordered_json structure;
  if (const char* path = checkpointPath()) {
    const auto file = prunelab::model::loadSafetensors(path);
    options = prunelab::parseOptions<MiniXvlm::Options>(YAML::Load(file.metadata.at("options")), "options");
    structure = nlohmann::ordered_json::parse(file.metadata.at("structure"));
  }
  options.checkpoint.clear();
  auto model = std::make_unique<MiniXvlm>(options);
  model->build(0);
  if (variant == Variant::Uneven) {
    // Block i keeps the first quarter (i even) or three quarters (i odd) of each attention
    // module's heads and of the MLP neurons: 50% overall, unevenly spread.
    prunelab::prune::StructureValues keep;
    std::int64_t i = 0;
    auto firstShare = [](std::int64_t n, double share) {
      const auto kept = std::max<std::int64_t>(1, std::llround(share * static_cast<double>(n)));
      return torch::arange(n).lt(kept).to(torch::kFloat);
    };
    for (const auto& b : model->gatedBlocks()) {
      const auto& l = b.layout;
      const double share = i++ % 2 == 0 ? 0.25 : 0.75;
      keep.heads.push_back(firstShare(l.heads, share).repeat({l.attentionModules()}));
      keep.neurons.push_back(firstShare(l.mlpDim, share));
    }
    model->removeStructures(keep);
  } else if (pruned && !structure.is_null()) {
    model->applyStructure(structure);
  } else {
    // Dense: a removal that keeps everything, so both models freed the same large tensors before
    // timing (see StructuredBench.cpp on glibc's mmap threshold). Pruned: every other structure.
    prunelab::prune::StructureValues keep;
    auto even = [](std::int64_t n) { return torch::arange(n).remainder(2).eq(0).to(torch::kFloat); };
    for (const auto& b : model->gatedBlocks()) {
      const auto& l = b.layout;
      keep.heads.push_back(pruned ? even(l.heads).repeat({l.attentionModules()}) : torch::ones({l.headGates()}));
      keep.neurons.push_back(pruned ? even(l.mlpDim) : torch::ones({l.mlpDim}));
    }
    model->removeStructures(keep);
  }
  model->module().eval();
  return model;
}

prunelab::model::Batch makeBatch() {
  auto gen = at::detail::createCPUGenerator(0);
  auto tokens = torch::randint(6, 100, {kScenes, kTokens}, gen, torch::kInt64);
  tokens.select(1, 0).fill_(2);
  tokens.select(1, kTokens - 1).fill_(3);
  return prunelab::model::Batch().set("images", torch::rand({kScenes, 1, 56, 56}, gen)).set("captions", tokens);
}

void runModel(benchmark::State& state, Variant variant) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = state.range(0) > 0 ? static_cast<int>(state.range(0)) : cores;
  at::set_num_threads(threads);
  state.counters["threads"] = threads;
  auto model = makeModel(variant);
  const auto batch = makeBatch();
  torch::NoGradGuard noGrad;
  const long faultsBefore = minorFaults();
  for (auto _ : state) {
    auto loss = model->loss(batch);
    benchmark::DoNotOptimize(loss.data_ptr<float>());
  }
  std::int64_t params = 0;
  for (const auto& p : model->module().parameters()) params += p.numel();
  state.counters["params"] = static_cast<double>(params);
  state.counters["faults/fwd"] =
      static_cast<double>(minorFaults() - faultsBefore) / static_cast<double>(std::max<benchmark::IterationCount>(1, state.iterations()));
  state.counters["scenes/s"] = benchmark::Counter(static_cast<double>(kScenes) * static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate);
}

void BM_MiniXvlmDense(benchmark::State& state) { runModel(state, Variant::Dense); }
void BM_MiniXvlmPruned(benchmark::State& state) { runModel(state, Variant::Pruned); }
void BM_MiniXvlmUneven(benchmark::State& state) { runModel(state, Variant::Uneven); }
BENCHMARK(BM_MiniXvlmDense)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MiniXvlmPruned)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MiniXvlmUneven)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
