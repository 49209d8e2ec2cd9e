#include "framework/prune/BlockwiseDriver.h"

#include <map>
#include <numeric>
#include <random>
#include <set>

#include "framework/core/Error.h"
#include "framework/core/Progress.h"
#include "framework/model/Safetensors.h"
#include "framework/profile/MemoryTracker.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/Targets.h"

namespace prunelab::prune {

void BlockwiseSettings::validate() const {
  PL_CHECK(nsamples > 0, "nsamples must be positive, got {}", nsamples);
  PL_CHECK(calib_batch_size > 0, "calib_batch_size must be positive, got {}", calib_batch_size);
  PL_CHECK(!targets.empty(), "targets must list at least one glob, e.g. ['*.blocks.*']");
}

namespace {
// Keeps a copy of every input a target sees (besides feeding the pruner's own observer), so the
// layer can be written out for `prunelab prune-matrix`.
class RecordingObserver : public LayerObserver {
 public:
  explicit RecordingObserver(std::unique_ptr<LayerObserver> inner) : inner_(std::move(inner)) {}
  void observe(const torch::Tensor& input) override {
    if (inner_) inner_->observe(input);
    inputs_.push_back(input.detach().to(torch::kCPU).clone());
  }
  LayerObserver* inner() const { return inner_.get(); }
  const std::vector<torch::Tensor>& inputs() const { return inputs_; }

 private:
  std::unique_ptr<LayerObserver> inner_;
  std::vector<torch::Tensor> inputs_;
};

// Wraps the pruner's callbacks so that targets matching `globs` are recorded and dumped.
BlockwiseCallbacks withInputDump(const BlockwiseCallbacks& callbacks, const std::vector<model::LinearRef>& chosen,
                                 const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& c : chosen) names.insert(c.name);
  auto dumped = [names](const model::LinearRef& ref) { return names.count(ref.name) > 0; };
  BlockwiseCallbacks out;
  out.makeObserver = [callbacks, dumped](const model::LinearRef& ref) -> std::unique_ptr<LayerObserver> {
    auto inner = callbacks.makeObserver ? callbacks.makeObserver(ref) : nullptr;
    if (!dumped(ref)) return inner;
    return std::make_unique<RecordingObserver>(std::move(inner));
  };
  out.pruneLayer = [callbacks, dumped, dir](const model::LinearRef& ref, LayerObserver* observer) {
    if (!dumped(ref)) return callbacks.pruneLayer(ref, observer);
    auto* recorder = static_cast<RecordingObserver*>(observer);
    std::vector<std::pair<std::string, torch::Tensor>> tensors = {{"weight", ref.layer->weight.detach()}};
    for (std::size_t i = 0; i < recorder->inputs().size(); ++i)
      tensors.emplace_back("inputs." + std::to_string(i), recorder->inputs()[i]);
    std::filesystem::create_directories(dir);
    model::saveSafetensors(dir / (ref.name + ".safetensors"), tensors, {{"layer", ref.name}});
    return callbacks.pruneLayer(ref, recorder->inner());
  };
  return out;
}
}  // namespace

PruneResult pruneBlockwise(PruneContext& ctx, const BlockwiseSettings& settings, const BlockwiseCallbacks& callbacks) {
  auto targets = selectTargets(ctx.model.linears(), settings.targets, settings.exclude);
  for (const auto& t : targets) checkFiniteWeights(t);
  BlockwiseCallbacks effective = callbacks;
  if (!settings.dump_inputs.empty()) {
    PL_CHECK(!ctx.outputDir.empty(), "dump_inputs needs a run output folder to write to");
    effective = withInputDump(callbacks, selectTargets(targets, settings.dump_inputs), ctx.outputDir / "layer_inputs");
  }
  std::vector<model::Batch> calibration;
  {
    auto stage = ctx.profiler.stage("calibrate");
    calibration = calibrationBatches(ctx.data, {settings.calib_split, settings.nsamples, settings.calib_batch_size,
                                                static_cast<std::uint64_t>(ctx.seed)});
  }
  PruneResult result;
  auto stage = ctx.profiler.stage("fine");
  result.layers = runBlockwise(ctx.model, calibration, targets, effective);
  return result;
}

std::vector<model::Batch> calibrationBatches(const data::DataSource& data, const CalibrationOptions& options) {
  PL_CHECK(options.numSamples > 0, "calibration needs at least one sample (nsamples > 0), got {}", options.numSamples);
  PL_CHECK(options.batchSize > 0, "calibration batch size must be positive, got {}", options.batchSize);
  auto split = data.split(options.split);
  PL_CHECK(split->size() >= options.numSamples,
           "calibration asks for {} samples but split '{}' has {}: lower nsamples or pick a larger split",
           options.numSamples, options.split, split->size());
  profile::MemoryScope tag(profile::MemoryCategory::Activations);  // the calibration inputs
  data::BatchSampler sampler(*split, options.batchSize, /*shuffle=*/true, options.seed, options.numSamples);
  std::vector<model::Batch> batches;
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) batches.push_back(sampler.batch(b));
  return batches;
}

namespace {
// Removes the observers even when pruning throws, so a failed run leaves no hooks behind.
struct ObserverGuard {
  std::vector<model::LinearRef> layers;
  ~ObserverGuard() {
    for (auto& l : layers) l.layer->setObserver({});
  }
};
}  // namespace

std::vector<store::LayerRecord> runBlockwise(model::Model& model, const std::vector<model::Batch>& calibration,
                                             const std::vector<model::LinearRef>& targets,
                                             const BlockwiseCallbacks& callbacks) {
  PL_CHECK(!calibration.empty(), "blockwise pruning needs calibration batches");
  // Group the targets by (stack, block).
  std::map<std::string, std::map<int, std::vector<model::LinearRef>>> byBlock;
  std::map<std::string, bool> stackKnown;
  for (const auto& s : model.stacks()) stackKnown[s.name] = true;
  for (const auto& t : targets) {
    PL_CHECK(t.block >= 0 && stackKnown.count(t.stack),
             "target '{}' is not inside a block of a stack, so it cannot be pruned blockwise: exclude it from the "
             "pruner's targets",
             t.name);
    byBlock[t.stack][t.block].push_back(t);
  }
  std::int64_t totalBlocks = 0;
  for (const auto& s : model.stacks()) totalBlocks += byBlock.count(s.name) ? s.numBlocks : 0;

  std::vector<store::LayerRecord> records;
  torch::NoGradGuard noGrad;
  // The captured block inputs and the block replays; observers tag their statistics, the fine
  // step its scores.
  profile::MemoryScope tag(profile::MemoryCategory::Activations);
  model.module().eval();
  Progress progress("blockwise prune", totalBlocks, "block");
  for (const auto& stack : model.stacks()) {
    if (!byBlock.count(stack.name)) continue;  // nothing to prune here; later stacks run it inside stackInputs
    std::vector<model::Batch> states;
    states.reserve(calibration.size());
    for (const auto& batch : calibration) states.push_back(model.stackInputs(stack.name, batch));
    for (int block = 0; block < stack.numBlocks; ++block) {
      auto it = byBlock[stack.name].find(block);
      if (it != byBlock[stack.name].end()) {
        std::vector<std::unique_ptr<LayerObserver>> observers;
        {
          ObserverGuard guard{it->second};
          for (auto& layer : it->second) {
            observers.push_back(callbacks.makeObserver ? callbacks.makeObserver(layer) : nullptr);
            LayerObserver* obs = observers.back().get();
            if (obs) layer.layer->setObserver([obs](const torch::Tensor& x) { obs->observe(x); });
          }
          if (callbacks.makeObserver) {
            for (const auto& state : states) model.forwardBlock(stack.name, block, state);  // dense pass
          }
        }
        for (std::size_t i = 0; i < it->second.size(); ++i)
          records.push_back(callbacks.pruneLayer(it->second[i], observers[i].get()));
      }
      // Replay with the pruned weights so the next block sees pruned outputs.
      for (auto& state : states) state = model.forwardBlock(stack.name, block, state);
      progress.advance();
    }
  }
  progress.finish();
  return records;
}

}  // namespace prunelab::prune
