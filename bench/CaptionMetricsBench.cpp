// Caption metric throughput on a COCO-Karpathy-test-sized set: 5,000 images x 5 references.
// Captions are synthetic but shaped like COCO ones: 8-15 words from a ~200-word vocabulary, frequent
// function words ("a", "on", "the") mixed with a per-image set of content words, so references share
// n-grams with each other and with the hypothesis. Fixed seed: every run scores the same data.
#include <benchmark/benchmark.h>

#include <array>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "evaluators/metrics/Bleu.h"
#include "evaluators/metrics/CaptionScorer.h"
#include "evaluators/metrics/CaptionTypes.h"
#include "evaluators/metrics/Cider.h"
#include "evaluators/metrics/PtbTokenizer.h"
#include "evaluators/metrics/Rouge.h"

namespace {

using prunelab::evaluators::ImageCaptions;

constexpr int kNumImages = 5000;
constexpr int kRefsPerImage = 5;

const std::vector<std::string>& functionWords() {
  static const std::vector<std::string> words = {
      "a",     "the",   "on",  "of",    "in",    "with",    "and",      "is",      "at",     "to",
      "near",  "an",    "two", "some",  "while", "next",    "top",      "front",   "down",   "up",
      "its",   "his",   "her", "their", "are",   "sitting", "standing", "holding", "riding", "playing",
      "white", "black", "red", "blue",  "green", "large",   "small",    "young",   "old",    "several"};
  return words;
}

std::vector<std::string> contentWords() {
  static const char* kStems[] = {
      "man",        "woman",     "dog",   "cat",   "bus",     "train", "plate",  "pizza", "table", "street",
      "car",        "horse",     "kite",  "beach", "wave",    "field", "tree",   "clock", "sign",  "bed",
      "couch",      "laptop",    "phone", "cake",  "giraffe", "zebra", "bird",   "boat",  "plane", "umbrella",
      "skateboard", "surfboard", "bench", "tower", "kitchen", "room",  "window", "water", "snow",  "grass"};
  std::vector<std::string> words;
  for (const char* stem : kStems) {
    for (const char* suffix : {"", "s", "er", "ing"}) {
      words.push_back(std::string(stem) + suffix);
    }
  }
  return words;  // 160 words; with the function words, a 200-word vocabulary
}

std::string makeCaption(std::mt19937& rng, const std::vector<std::string>& scene,
                        const std::vector<std::string>& content) {
  std::uniform_int_distribution<int> length(8, 15);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // Zipf-like pick of function words: low indices ("a", "the") are far more frequent.
  std::geometric_distribution<int> functionRank(0.25);
  std::uniform_int_distribution<std::size_t> sceneWord(0, scene.size() - 1);
  std::uniform_int_distribution<std::size_t> anyWord(0, content.size() - 1);
  const int n = length(rng);
  std::string caption;
  for (int i = 0; i < n; ++i) {
    const double u = unit(rng);
    const std::string* word = nullptr;
    if (u < 0.45) {
      word = &functionWords()[static_cast<std::size_t>(functionRank(rng)) % functionWords().size()];
    } else if (u < 0.9) {
      word = &scene[sceneWord(rng)];
    } else {
      word = &content[anyWord(rng)];
    }
    caption += (i == 0 ? "" : " ") + *word;
  }
  return caption;
}

const std::vector<ImageCaptions>& syntheticSet() {
  static const std::vector<ImageCaptions> images = [] {
    std::mt19937 rng(20240531);
    const std::vector<std::string> content = contentWords();
    std::uniform_int_distribution<std::size_t> pick(0, content.size() - 1);
    std::vector<ImageCaptions> out(kNumImages);
    for (ImageCaptions& image : out) {
      std::vector<std::string> scene;
      for (int k = 0; k < 6; ++k) {
        scene.push_back(content[pick(rng)]);
      }
      for (int r = 0; r < kRefsPerImage; ++r) {
        image.references.push_back(makeCaption(rng, scene, content));
      }
      image.hypothesis = makeCaption(rng, scene, content);
    }
    return out;
  }();
  return images;
}

void setCounters(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * kNumImages);
  state.counters["images"] = kNumImages;
  state.counters["refs_per_image"] = kRefsPerImage;
}

void BM_CiderD_5kx5(benchmark::State& state) {
  const auto& images = syntheticSet();
  for (auto _ : state) {
    auto score = prunelab::evaluators::ciderD(images);
    benchmark::DoNotOptimize(score.score);
  }
  setCounters(state);
}
BENCHMARK(BM_CiderD_5kx5)->Unit(benchmark::kMillisecond);

void BM_Bleu_5kx5(benchmark::State& state) {
  const auto& images = syntheticSet();
  for (auto _ : state) {
    auto score = prunelab::evaluators::corpusBleu(images);
    benchmark::DoNotOptimize(score.bleu);
  }
  setCounters(state);
}
BENCHMARK(BM_Bleu_5kx5)->Unit(benchmark::kMillisecond);

void BM_RougeL_5kx5(benchmark::State& state) {
  const auto& images = syntheticSet();
  for (auto _ : state) {
    auto score = prunelab::evaluators::rougeL(images);
    benchmark::DoNotOptimize(score.score);
  }
  setCounters(state);
}
BENCHMARK(BM_RougeL_5kx5)->Unit(benchmark::kMillisecond);

void BM_CocoTokenize_30kCaptions(benchmark::State& state) {
  const auto& images = syntheticSet();
  for (auto _ : state) {
    std::size_t chars = 0;
    for (const ImageCaptions& image : images) {
      chars += prunelab::evaluators::cocoTokenize(image.hypothesis).size();
      for (const std::string& ref : image.references) {
        chars += prunelab::evaluators::cocoTokenize(ref).size();
      }
    }
    benchmark::DoNotOptimize(chars);
  }
  state.SetItemsProcessed(state.iterations() * kNumImages * (kRefsPerImage + 1));
}
BENCHMARK(BM_CocoTokenize_30kCaptions)->Unit(benchmark::kMillisecond);

void BM_CaptionScorer_EndToEnd_5kx5(benchmark::State& state) {
  const auto& images = syntheticSet();
  std::map<std::string, std::string> predictions;
  std::map<std::string, std::vector<std::string>> references;
  for (std::size_t i = 0; i < images.size(); ++i) {
    predictions[std::to_string(i)] = images[i].hypothesis;
    references[std::to_string(i)] = images[i].references;
  }
  const prunelab::evaluators::CaptionScorer scorer;
  for (auto _ : state) {
    auto scores = scorer.score(predictions, references);
    benchmark::DoNotOptimize(scores.cider);
  }
  setCounters(state);
}
BENCHMARK(BM_CaptionScorer_EndToEnd_5kx5)->Unit(benchmark::kMillisecond);

}  // namespace
