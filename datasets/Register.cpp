#include "datasets/Register.h"

#include "datasets/fashion_mnist/FashionMnist.h"
#include "datasets/fashion_scenes/FashionScenes.h"

namespace prunelab::datasets {

void registerAll(run::Registries& r) {
  r.datasets.add<FashionMnist>("fashion_mnist", "Fashion-MNIST classification from Debian's IDX files");
  r.datasets.add<FashionScenes>(
      "fashion_scenes", "FashionScenes: grids of Fashion-MNIST items with captions, VQA, LM corpus and zero-shot sets");
}

}  // namespace prunelab::datasets
