#include "datasets/Register.h"

#include "datasets/fashion_mnist/FashionMnist.h"

namespace prunelab::datasets {

void registerAll(run::Registries& r) {
  r.datasets.add<FashionMnist>("fashion_mnist", "Fashion-MNIST classification from Debian's IDX files");
}

}  // namespace prunelab::datasets
