#pragma once

#include <cstdint>
#include <string>

#include "framework/core/Error.h"

namespace prunelab::run {

/// The top-level keys of a run config besides the plugin sections (model, dataset, pruner, eval)
/// and `hydra` (sweep settings).
struct RunOptions {
  std::string name = "default";
  std::int64_t seed = 0;
  int threads = 0;
  int interop_threads = 0;
  bool deterministic = true;
  std::string output_root = "outputs";
  std::string cache_dir = ".cache/prunelab";
  bool save_masks = false;
  bool save_checkpoint = false;

  template <class V>
  void visit(V& v) {
    v(name, "name", "experiment name; groups runs in the store and in tables");
    v(seed, "seed", "seed of torch and of every project RNG");
    v(threads, "threads", "LibTorch intra-op threads (0 = LibTorch's default; recorded either way)");
    v(interop_threads, "interop_threads", "LibTorch inter-op threads (0 = default)");
    v(deterministic, "deterministic", "ask LibTorch for deterministic algorithms");
    v(output_root, "output_root", "folder under which each run gets its own output directory");
    v(cache_dir, "cache_dir", "folder for trained model weights and prepared data, keyed by recipe hash");
    v(save_masks, "save_masks", "write masks.safetensors (uint8, 1 = kept, per pruned matrix) to the run folder");
    v(save_checkpoint, "save_checkpoint",
      "write pruned.safetensors (every parameter and buffer after pruning) to the run folder");
  }

  void validate() const {
    PL_CHECK(threads >= 0, "threads must be >= 0 (0 keeps LibTorch's default), got {}", threads);
    PL_CHECK(interop_threads >= 0, "interop_threads must be >= 0, got {}", interop_threads);
    PL_CHECK(!name.empty(), "name must not be empty: it groups runs in the store");
  }
};

}  // namespace prunelab::run
