#include "models/Register.h"

#include "models/mini_blip2/MiniBlip2.h"
#include "models/mini_clip/MiniClip.h"
#include "models/mini_lm/MiniLm.h"
#include "models/mini_xvlm/MiniXvlm.h"
#include "models/mlp/MlpClassifier.h"

namespace prunelab::models {

void registerAll(run::Registries& r) {
  r.models.add<MlpClassifier>("mlp", "MLP image classifier (the foundation's end-to-end model)");
  r.models.add<MiniBlip2>("mini_blip2",
                          "BLIP-2-style VLM (ViT, Q-Former, decoder LM; staged training): VQA, captioning, retrieval");
  r.models.add<MiniClip>("mini_clip", "CLIP-style dual encoder (ViT + text transformer, InfoNCE): retrieval, zero-shot");
  r.models.add<MiniLm>("mini_lm", "decoder-only transformer LM on the text corpus (perplexity)");
  r.models.add<MiniXvlm>("mini_xvlm",
                         "X-VLM-style VLM (image, text and cross-modal encoders; ITC/ITM/MLM), its half-depth distilled "
                         "student, VQA and retrieval heads: the EfficientVLM setting");
}

}  // namespace prunelab::models
