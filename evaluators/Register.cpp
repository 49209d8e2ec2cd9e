#include "evaluators/Register.h"

#include "evaluators/accuracy/ClassificationAccuracy.h"

namespace prunelab::evaluators {

void registerAll(run::Registries& r) {
  r.evaluators.add<ClassificationAccuracy>("accuracy", "classification top-1/top-5 accuracy and per-class recall");
}

}  // namespace prunelab::evaluators
