#include "models/transformer/Recipe.h"

#include <cmath>
#include <vector>

#include "framework/core/Error.h"

namespace prunelab::models {

std::uint64_t mixSeed(std::uint64_t seed, std::uint64_t salt) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

torch::Tensor patchify(const torch::Tensor& images, std::int64_t p) {
  PL_CHECK(images.dim() == 4 && images.size(1) == 1 && images.size(2) == images.size(3) && p > 0 &&
               images.size(2) % p == 0,
           "expected square one-channel images [batch, 1, S, S] with S a multiple of the patch size {}, got {}", p,
           c10::str(images.sizes()));
  const std::int64_t b = images.size(0), side = images.size(2) / p;
  return (images * 2.0 - 1.0).reshape({b, side, p, side, p}).permute({0, 1, 3, 2, 4}).reshape({b, side * side, p * p});
}

}  // namespace prunelab::models
