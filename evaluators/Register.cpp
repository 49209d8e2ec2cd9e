#include "evaluators/Register.h"

#include "evaluators/accuracy/ClassificationAccuracy.h"
#include "evaluators/caption/CaptionEvaluator.h"
#include "evaluators/perplexity/PerplexityEvaluator.h"
#include "evaluators/retrieval/RetrievalEvaluator.h"
#include "evaluators/speed/SpeedEvaluator.h"
#include "evaluators/vqa/VqaEvaluator.h"
#include "evaluators/zeroshot/ZeroShotEvaluator.h"

namespace prunelab::evaluators {

void registerAll(run::Registries& r) {
  r.evaluators.add<ClassificationAccuracy>("accuracy", "classification top-1/top-5 accuracy and per-class recall");
  r.evaluators.add<CaptionEvaluator>("caption", "generated captions scored by BLEU-1..4, CIDEr-D and ROUGE-L");
  r.evaluators.add<PerplexityEvaluator>("perplexity", "LM perplexity (WikiText-2 protocol) and a unigram baseline");
  r.evaluators.add<RetrievalEvaluator>("retrieval",
                                       "image-text retrieval R@1/5/10 both ways by ITC similarity (+ ITM re-ranking)");
  r.evaluators.add<SpeedEvaluator>("speed", "inference latency (median), throughput and parameter counts of the model");
  r.evaluators.add<VqaEvaluator>("vqa", "open-ended VQA by generation, scored by VQAv2 accuracy");
  r.evaluators.add<ZeroShotEvaluator>("zeroshot", "CLIP zero-shot classification with a prompt-template ensemble");
}

}  // namespace prunelab::evaluators
