#include "framework/model/WeightCache.h"

#include <fstream>

#include "framework/core/Error.h"
#include "framework/core/Hash.h"
#include "framework/core/Log.h"
#include "framework/model/Safetensors.h"

namespace prunelab::model {

namespace fs = std::filesystem;

std::string weightsIdOf(const std::string& recipe) { return sha256Hex(recipe).substr(0, 16); }

CachedWeights loadOrTrain(torch::nn::Module& module, const fs::path& cacheDir, const std::string& name,
                          const std::string& recipe, const std::function<void()>& train,
                          nlohmann::ordered_json config) {
  CachedWeights out;
  out.weightsId = weightsIdOf(recipe);
  const fs::path dir = cacheDir / "models";
  out.file = dir / (name + "-" + out.weightsId + ".safetensors");
  if (fs::exists(out.file)) {
    const auto loaded = loadSafetensors(out.file);
    torch::NoGradGuard noGrad;
    for (auto& p : module.named_parameters()) {
      const auto t = loaded.get(p.key());
      PL_CHECK(t.sizes() == p.value().sizes(),
               "cached weights '{}' has shape {} for '{}', expected {}: delete the file to retrain", out.file.string(),
               c10::str(t.sizes()), p.key(), c10::str(p.value().sizes()));
      p.value().copy_(t);
    }
    out.loaded = true;
    logInfo("{}: loaded cached weights {}", name, out.file.string());
    return out;
  }
  train();
  fs::create_directories(dir);
  if (!config.is_null()) {
    config["weights_id"] = out.weightsId;
    const fs::path json = dir / (name + "-" + out.weightsId + ".json");
    std::ofstream f(json);
    PL_CHECK(f, "cannot write the model config '{}': check that cache_dir is writable", json.string());
    f << config.dump(2) << "\n";
  }
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& p : module.named_parameters()) tensors.emplace_back(p.key(), p.value().detach());
  saveSafetensors(out.file, tensors, {{"recipe", recipe}, {"format", "prunelab-" + name}});
  logInfo("{}: trained and cached {}", name, out.file.string());
  return out;
}

}  // namespace prunelab::model
