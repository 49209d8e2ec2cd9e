#include "evaluators/Register.h"

#include "evaluators/accuracy/ClassificationAccuracy.h"
#include "evaluators/perplexity/PerplexityEvaluator.h"

namespace prunelab::evaluators {

void registerAll(run::Registries& r) {
  r.evaluators.add<ClassificationAccuracy>("accuracy", "classification top-1/top-5 accuracy and per-class recall");
  r.evaluators.add<PerplexityEvaluator>("perplexity", "LM perplexity (WikiText-2 protocol) and a unigram baseline");
}

}  // namespace prunelab::evaluators
