#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace prunelab::model {

/// Where a model's trained weights live and whether they came from the cache.
struct CachedWeights {
  std::string weightsId;        ///< first 16 hex digits of sha256(recipe)
  std::filesystem::path file;   ///< cacheDir/models/<name>-<weightsId>.safetensors
  bool loaded = false;          ///< true: read from the cache; false: trained now and written
};

/// The weights id of a recipe (the string that fully determines the trained weights: model
/// version, options, data fingerprint, seed).
std::string weightsIdOf(const std::string& recipe);

/// A model trains once per recipe (design.md §4): when cacheDir/models/<name>-<id>.safetensors
/// exists, every parameter of `module` is loaded from it (a missing tensor or a shape mismatch is
/// an error naming the file and the fix); otherwise `train()` runs and the parameters are written
/// there, with `config` (when not null, plus "weights_id") as <name>-<id>.json beside it, written
/// first so a weights file never lacks its config. Logs "<name>: loaded cached weights FILE" or
/// "<name>: trained and cached FILE".
CachedWeights loadOrTrain(torch::nn::Module& module, const std::filesystem::path& cacheDir, const std::string& name,
                          const std::string& recipe, const std::function<void()>& train,
                          nlohmann::ordered_json config = nullptr);

}  // namespace prunelab::model
