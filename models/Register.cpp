#include "models/Register.h"

#include "models/mlp/MlpClassifier.h"

namespace prunelab::models {

void registerAll(run::Registries& r) {
  r.models.add<MlpClassifier>("mlp", "MLP image classifier (the foundation's end-to-end model)");
}

}  // namespace prunelab::models
