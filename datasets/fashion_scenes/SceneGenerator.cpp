#include "datasets/fashion_scenes/SceneGenerator.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "framework/core/Hash.h"
#include "framework/core/Suggest.h"

namespace prunelab::datasets {

namespace fs = std::filesystem;

namespace {

// Bump when a change to this file changes the generated scenes: it is part of the fingerprint.
constexpr const char* kGeneratorVersion = "fashion_scenes/1";
constexpr std::int64_t kSceneIdBase = 1000000;
constexpr std::int64_t kMaxQuestionsPerScene = 99;  // question id = scene id * 100 + q

const std::vector<std::string> kSplits = {"train", "val", "test"};

const std::vector<std::string> kClassNames = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                              "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
const std::vector<std::string> kClassPlurals = {"t-shirts", "trousers", "pullovers", "dresses", "coats",
                                                "sandals",  "shirts",   "sneakers",  "bags",    "ankle boots"};
// 0 clothing, 1 footwear, 2 bag: the "categories" caption template groups by these.
constexpr std::array<int, kSceneClasses> kCategory = {0, 0, 0, 0, 0, 1, 0, 1, 2, 1};

const std::vector<std::string> kNumberWords = {"zero", "one",   "two",   "three", "four", "five",
                                               "six",  "seven", "eight", "nine",  "ten"};

// Synonyms an annotator might give instead of the canonical answer. VQA's normaliser maps number
// words to digits and drops articles, so "two" for "2" is a harmless variant while "shoe" for
// "sneaker" is a real disagreement that the min(m/3, 1) rule has to absorb.
const std::map<std::string, std::vector<std::string>>& synonymTable() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"t-shirt", {"top", "tee"}},
      {"trouser", {"trousers", "pants"}},
      {"pullover", {"sweater", "jumper"}},
      {"dress", {"gown"}},
      {"coat", {"jacket"}},
      {"sandal", {"sandals", "slipper"}},
      {"shirt", {"blouse"}},
      {"sneaker", {"shoe", "trainer"}},
      {"bag", {"handbag", "purse"}},
      {"ankle boot", {"boot", "boots"}},
      {"nothing", {"empty", "blank"}},
      {"yes", {"yeah"}},
      {"no", {"nope"}},
      {"dark", {"black", "dim"}},
      {"light", {"white", "bright"}},
      {"small", {"little", "tiny"}},
      {"large", {"big"}},
  };
  return table;
}

// Literal words of the caption and question templates below; the vocabulary test checks that
// every generated text tokenizes without an unknown word, so a new template word must go here.
const std::vector<std::string> kTemplateWords = {
    "a",      "an",     "the",     "at",       "and",      "of",       "is",   "are",     "there",
    "item",   "items",  "picture", "clothing", "footwear", "to",       "left", "right",   "above",
    "below",  "lone",   "sits",    "diagonal", "grid",     "by",       "with", "empty",   "cell",
    "cells",  "no",     "dark",    "light",    "large",    "small",    "only", "every",   "in",
    "what",   "how",    "many",    "shade",    "size",     "directly", "yes",  "nothing", "top",
    "bottom", "middle", "center",  "question", "answer",   "photo",    "any"};

std::string numberWord(int n) {
  PL_CHECK(n >= 0 && n < static_cast<int>(kNumberWords.size()), "no number word for {}", n);
  return kNumberWords[static_cast<std::size_t>(n)];
}

bool startsWithVowel(const std::string& s) {
  return !s.empty() && std::string("aeiou").find(s[0]) != std::string::npos;
}

std::string withArticle(const std::string& phrase) { return (startsWithVowel(phrase) ? "an " : "a ") + phrase; }

std::string capitalize(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// "a", "a and b", "a, b and c".
std::string joinList(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += (i + 1 == parts.size()) ? " and " : ", ";
    out += parts[i];
  }
  return out;
}

int wordCount(const std::string& s) {
  std::istringstream in(s);
  std::string w;
  int n = 0;
  while (in >> w) ++n;
  return n;
}

std::string countNoun(int n, const std::string& singular, const std::string& plural) {
  return numberWord(n) + " " + (n == 1 ? singular : plural);
}

struct Item {
  int cell, row, col, label;
  Shade shade;
  ItemSize size;
};

std::vector<Item> itemsOf(const Scene& scene) {
  std::vector<Item> items;
  for (int i = 0; i < static_cast<int>(scene.cells.size()); ++i) {
    const SceneCell& c = scene.cells[static_cast<std::size_t>(i)];
    if (!c.empty()) items.push_back({i, i / scene.grid, i % scene.grid, c.label, c.shade, c.size});
  }
  return items;
}

const std::string& name(int label) { return kClassNames[static_cast<std::size_t>(label)]; }

std::string pos(const Item& it, int grid) { return SceneGenerator::positionName(it.row, it.col, grid); }

// Builds a caption listing at most `k` items; the caller lowers k until it fits in 30 words (only
// grids above 2x2 ever need that).
template <class Build>
std::string fitCaption(int numItems, Build build) {
  for (int k = numItems; k >= 1; --k) {
    std::string caption = build(k);
    if (wordCount(caption) <= kMaxCaptionWords) return caption;
  }
  PL_THROW("fashion_scenes: no caption of at most {} words for this template (a bug in SceneGenerator)",
           kMaxCaptionWords);
}

std::string captionFor(int templateId, const Scene& scene, const std::vector<Item>& items, std::uint64_t r) {
  const int n = static_cast<int>(items.size());
  const int g = scene.grid;
  switch (templateId) {
    case 0:  // positions
      return fitCaption(n, [&](int k) {
        std::vector<std::string> parts;
        for (int i = 0; i < k; ++i) parts.push_back(withArticle(name(items[i].label)) + " at the " + pos(items[i], g));
        return capitalize(joinList(parts)) + ".";
      });
    case 1:  // attributes
      return fitCaption(n, [&](int k) {
        std::vector<std::string> parts;
        for (int i = 0; i < k; ++i)
          parts.push_back(
              withArticle(sizeName(items[i].size) + " " + shadeName(items[i].shade) + " " + name(items[i].label)));
        return capitalize(countNoun(n, "item", "items")) + ": " + joinList(parts) + ".";
      });
    case 2: {  // categories
      std::array<int, 3> count{};
      for (const Item& it : items) ++count[static_cast<std::size_t>(kCategory[static_cast<std::size_t>(it.label)])];
      std::vector<std::string> parts;
      if (count[0] > 0) parts.push_back(countNoun(count[0], "clothing item", "clothing items"));
      if (count[1] > 0) parts.push_back(countNoun(count[1], "footwear item", "footwear items"));
      if (count[2] > 0) parts.push_back(countNoun(count[2], "bag", "bags"));
      return "A picture of " + joinList(parts) + ".";
    }
    case 3: {  // relations between items sharing a row or a column
      std::vector<std::pair<int, int>> pairs;
      for (int a = 0; a < n; ++a)
        for (int b = a + 1; b < n; ++b)
          if (items[a].row == items[b].row || items[a].col == items[b].col) pairs.emplace_back(a, b);
      if (pairs.empty()) {
        if (n == 1) return "A lone " + name(items[0].label) + " sits at the " + pos(items[0], g) + ".";
        return capitalize(withArticle(name(items[0].label))) + " at the " + pos(items[0], g) + " is diagonal to " +
               withArticle(name(items[1].label)) + " at the " + pos(items[1], g) + ".";
      }
      const std::size_t first = r % pairs.size();
      const std::size_t second = (r / pairs.size()) % pairs.size();
      std::vector<std::string> statements;
      for (std::size_t p : {first, second}) {
        if (p == second && second == first && !statements.empty()) break;
        const Item& a = items[static_cast<std::size_t>(pairs[p].first)];
        const Item& b = items[static_cast<std::size_t>(pairs[p].second)];
        const bool flip = ((r >> (20 + p % 8)) & 1u) != 0;  // say it from the other item's side
        const std::string A = withArticle(name(a.label)), B = withArticle(name(b.label));
        if (a.row == b.row)
          statements.push_back(flip ? B + " is to the right of " + A : A + " is to the left of " + B);
        else
          statements.push_back(flip ? B + " is below " + A : A + " is above " + B);
      }
      return capitalize(joinList(statements)) + ".";
    }
    case 4: {  // layout and empty cells
      const int empty = g * g - n;
      std::string s =
          "A " + numberWord(g) + " by " + numberWord(g) + " grid with " + countNoun(n, "item", "items") + " and " +
          (empty == 0 ? std::string("no empty cells") : countNoun(empty, "empty cell", "empty cells")) + ".";
      if (empty == 1) {
        for (int i = 0; i < g * g; ++i)
          if (scene.cells[static_cast<std::size_t>(i)].empty())
            s += " The empty cell is at the " + SceneGenerator::positionName(i / g, i % g, g) + ".";
      }
      return s;
    }
    case 5: {  // shades
      int dark = 0;
      for (const Item& it : items) dark += it.shade == Shade::Dark;
      auto phrase = [](int c, const std::string& shade) {
        return c == 0 ? "no " + shade + " items" : countNoun(c, shade + " item", shade + " items");
      };
      const std::string head = capitalize(phrase(dark, "dark") + " and " + phrase(n - dark, "light"));
      return fitCaption(n, [&](int k) {
        std::vector<std::string> parts;
        for (int i = 0; i < k; ++i)
          parts.push_back(withArticle(shadeName(items[i].shade) + " " + name(items[i].label)));
        return head + ": " + joinList(parts) + ".";
      });
    }
    case 6:  // sizes
      return fitCaption(n, [&](int k) {
        if (n == 1)
          return "The only item is " + withArticle(sizeName(items[0].size) + " " + name(items[0].label)) + ".";
        std::vector<std::string> large, small;
        for (int i = 0; i < k; ++i)
          (items[i].size == ItemSize::Large ? large : small).push_back(withArticle(name(items[i].label)));
        int numLarge = 0;
        for (const Item& it : items) numLarge += it.size == ItemSize::Large;
        if (numLarge == 0 || numLarge == n)
          return "Every item is " + std::string(numLarge == 0 ? "small" : "large") + ": " +
                 joinList(numLarge == 0 ? small : large) + ".";
        auto part = [](int count, const std::string& size, const std::vector<std::string>& list) {
          return "the " + size + (count == 1 ? " item is " : " items are ") + joinList(list);
        };
        std::string s = capitalize(part(numLarge, "large", large));
        if (!small.empty()) s += ", and " + part(n - numLarge, "small", small);
        return s + ".";
      });
    default: {  // 7: class counts, in order of first appearance
      std::vector<int> order;
      std::array<int, kSceneClasses> count{};
      for (const Item& it : items)
        if (count[static_cast<std::size_t>(it.label)]++ == 0) order.push_back(it.label);
      return fitCaption(static_cast<int>(order.size()), [&](int k) {
        std::vector<std::string> parts;
        for (int i = 0; i < k; ++i) {
          const int c = count[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])];
          parts.push_back(countNoun(c, name(order[static_cast<std::size_t>(i)]),
                                    SceneGenerator::classPlural(order[static_cast<std::size_t>(i)])));
        }
        const int firstCount = count[static_cast<std::size_t>(order[0])];
        return std::string(firstCount == 1 ? "There is " : "There are ") + joinList(parts) + " in the picture.";
      });
    }
  }
}

bool bernoulli(std::mt19937_64& rng, double p) { return uniformUnit(rng) < p; }

template <class T>
const T& pick(std::mt19937_64& rng, const std::vector<T>& v) {
  return v[static_cast<std::size_t>(uniformBelow(rng, v.size()))];
}

struct Draft {
  std::string question, canonical, answerType;
};

// The referent of a relation question: "the bag" when the class is unique in the scene, else
// "the bag at the top left", so the question always names exactly one item.
std::string referent(const Item& it, const std::vector<Item>& items, int grid) {
  int same = 0;
  for (const Item& o : items) same += o.label == it.label;
  return same == 1 ? "the " + name(it.label) : "the " + name(it.label) + " at the " + pos(it, grid);
}

Draft questionFor(QuestionType type, const Scene& scene, const std::vector<Item>& items, std::mt19937_64& rng) {
  const int g = scene.grid;
  const int n = static_cast<int>(items.size());
  switch (type) {
    case QuestionType::WhatAtPosition: {
      const int cell = static_cast<int>(uniformBelow(rng, static_cast<std::uint64_t>(g * g)));
      const SceneCell& c = scene.cells[static_cast<std::size_t>(cell)];
      return {"what is at the " + SceneGenerator::positionName(cell / g, cell % g, g) + "?",
              c.empty() ? "nothing" : name(c.label), "other"};
    }
    case QuestionType::Count: {
      const int kind = static_cast<int>(uniformBelow(rng, 5));
      int count = 0;
      std::string q;
      if (kind == 0) {
        q = "how many items are there?";
        count = n;
      } else if (kind == 1) {
        const int label =
            bernoulli(rng, 0.5) ? pick(rng, items).label : static_cast<int>(uniformBelow(rng, kSceneClasses));
        for (const Item& it : items) count += it.label == label;
        q = "how many " + SceneGenerator::classPlural(label) + " are there?";
      } else if (kind == 2) {
        const Shade shade = bernoulli(rng, 0.5) ? Shade::Dark : Shade::Light;
        for (const Item& it : items) count += it.shade == shade;
        q = "how many " + shadeName(shade) + " items are there?";
      } else if (kind == 3) {
        const ItemSize size = bernoulli(rng, 0.5) ? ItemSize::Small : ItemSize::Large;
        for (const Item& it : items) count += it.size == size;
        q = "how many " + sizeName(size) + " items are there?";
      } else {
        q = "how many empty cells are there?";
        count = g * g - n;
      }
      return {q, std::to_string(count), "number"};
    }
    case QuestionType::Exists: {
      const int kind = static_cast<int>(uniformBelow(rng, 3));
      int label;
      Shade shade;
      ItemSize size;
      if (bernoulli(rng, 0.5)) {  // about half the questions ask for something present
        const Item& it = pick(rng, items);
        label = it.label, shade = it.shade, size = it.size;
      } else {
        label = static_cast<int>(uniformBelow(rng, kSceneClasses));
        shade = bernoulli(rng, 0.5) ? Shade::Dark : Shade::Light;
        size = bernoulli(rng, 0.5) ? ItemSize::Small : ItemSize::Large;
      }
      bool found = false;
      for (const Item& it : items)
        found = found || (it.label == label && (kind != 1 || it.shade == shade) && (kind != 2 || it.size == size));
      const std::string what = kind == 0   ? name(label)
                               : kind == 1 ? shadeName(shade) + " " + name(label)
                                           : sizeName(size) + " " + name(label);
      return {"is there " + withArticle(what) + "?", found ? "yes" : "no", "yes/no"};
    }
    case QuestionType::Attribute: {
      const Item& it = pick(rng, items);
      const bool askShade = bernoulli(rng, 0.5);
      return {"what " + std::string(askShade ? "shade" : "size") + " is the " + name(it.label) + " at the " +
                  pos(it, g) + "?",
              askShade ? shadeName(it.shade) : sizeName(it.size), "other"};
    }
    case QuestionType::Relation:
    default: {
      const std::size_t ai = static_cast<std::size_t>(uniformBelow(rng, items.size()));
      const Item& a = items[ai];
      if (n >= 2 && bernoulli(rng, 0.5)) {
        // Yes/no: "left of" means any column further left, "above" any row further up.
        std::size_t bi = static_cast<std::size_t>(uniformBelow(rng, items.size() - 1));
        if (bi >= ai) ++bi;
        const Item& b = items[bi];
        const std::array<bool, 4> truth = {a.col<b.col, a.col> b.col, a.row<b.row, a.row> b.row};
        const bool wantYes = bernoulli(rng, 0.5);
        std::vector<int> candidates;
        for (int k = 0; k < 4; ++k)
          if (truth[static_cast<std::size_t>(k)] == wantYes) candidates.push_back(k);
        if (candidates.empty())
          for (int k = 0; k < 4; ++k) candidates.push_back(k);
        const int rel = pick(rng, candidates);
        static const std::array<const char*, 4> words = {" left of ", " right of ", " above ", " below "};
        return {"is " + referent(a, items, g) + words[static_cast<std::size_t>(rel)] + referent(b, items, g) + "?",
                truth[static_cast<std::size_t>(rel)] ? "yes" : "no", "yes/no"};
      }
      // "What is directly left of X": the adjacent cell in that direction.
      std::vector<int> dirs;
      if (a.col > 0) dirs.push_back(0);
      if (a.col + 1 < g) dirs.push_back(1);
      if (a.row > 0) dirs.push_back(2);
      if (a.row + 1 < g) dirs.push_back(3);
      const int dir = pick(rng, dirs);
      static const std::array<int, 4> dr = {0, 0, -1, 1}, dc = {-1, 1, 0, 0};
      static const std::array<const char*, 4> words = {"left of ", "right of ", "above ", "below "};
      const std::size_t d = static_cast<std::size_t>(dir);
      const SceneCell& other = scene.cells[static_cast<std::size_t>((a.row + dr[d]) * g + a.col + dc[d])];
      return {"what is directly " + std::string(words[d]) + referent(a, items, g) + "?",
              other.empty() ? "nothing" : name(other.label), "other"};
    }
  }
}

// Area-average resampling (box filter), exact for any source and target size.
std::vector<double> resizeArea(const std::uint8_t* src, int srcSide, int dstSide) {
  const double scale = static_cast<double>(srcSide) / dstSide;
  std::vector<std::vector<std::pair<int, double>>> weights(static_cast<std::size_t>(dstSide));
  for (int i = 0; i < dstSide; ++i) {
    const double lo = i * scale, hi = (i + 1) * scale;
    for (int j = static_cast<int>(std::floor(lo)); j < std::min(srcSide, static_cast<int>(std::ceil(hi))); ++j) {
      const double w = std::min(hi, j + 1.0) - std::max(lo, static_cast<double>(j));
      if (w > 0) weights[static_cast<std::size_t>(i)].emplace_back(j, w);
    }
  }
  std::vector<double> out(static_cast<std::size_t>(dstSide * dstSide), 0.0);
  for (int y = 0; y < dstSide; ++y)
    for (int x = 0; x < dstSide; ++x) {
      double sum = 0;
      for (const auto& [sy, wy] : weights[static_cast<std::size_t>(y)])
        for (const auto& [sx, wx] : weights[static_cast<std::size_t>(x)]) sum += wy * wx * src[sy * srcSide + sx];
      out[static_cast<std::size_t>(y * dstSide + x)] = sum / (scale * scale);
    }
  return out;
}

void appendString(Sha256& h, const std::string& s) {
  const std::uint64_t n = s.size();
  h.update(&n, sizeof n);
  h.update(s.data(), s.size());
}

void appendInt(Sha256& h, std::int64_t v) { h.update(&v, sizeof v); }

}  // namespace

int Scene::numItems() const {
  int n = 0;
  for (const SceneCell& c : cells) n += !c.empty();
  return n;
}

void SceneGenerator::Options::validate() const {
  PL_CHECK(grid == 2 || grid == 3, "grid must be 2 or 3 (position words exist for those), got {}", grid);
  PL_CHECK(cell >= 8 && cell <= 256, "cell must be in [8, 256] pixels, got {}", cell);
  PL_CHECK(small_size >= 4 && small_size <= cell, "small_size must be in [4, cell={}], got {}", cell, small_size);
  PL_CHECK(dark_level >= 16 && dark_level <= 200,
           "dark_level must be in [16, 200] so dark items stay visible and distinct from light ones (255), got {}",
           dark_level);
  PL_CHECK(p_empty >= 0 && p_empty < 1, "p_empty must be in [0, 1), got {}", p_empty);
  PL_CHECK(p_small >= 0 && p_small <= 1, "p_small must be in [0, 1], got {}", p_small);
  PL_CHECK(p_dark >= 0 && p_dark <= 1, "p_dark must be in [0, 1], got {}", p_dark);
  for (auto [n, key] : {std::pair{num_train, "num_train"}, {num_val, "num_val"}, {num_test, "num_test"}})
    PL_CHECK(n >= 0 && n < kSceneIdBase, "{} must be in [0, {}), got {}", key, kSceneIdBase, n);
  PL_CHECK(val_source_size >= 100 && val_source_size <= 30000,
           "val_source_size must be in [100, 30000] training images, got {}", val_source_size);
  PL_CHECK(questions_per_scene >= 0 && questions_per_scene <= kMaxQuestionsPerScene,
           "questions_per_scene must be in [0, {}], got {}", kMaxQuestionsPerScene, questions_per_scene);
  PL_CHECK(answer_agreement >= 0 && answer_agreement <= 1, "answer_agreement must be in [0, 1], got {}",
           answer_agreement);
}

SceneGenerator::SceneGenerator(Options options) : options_(std::move(options)) { options_.validate(); }

void SceneGenerator::load() {
  const fs::path root = options_.root;
  train_ = readFashionMnist(root, /*train=*/true);
  test_ = readFashionMnist(root, /*train=*/false);
  PL_CHECK(train_.images.rows == 28 && train_.images.cols == 28 && test_.images.rows == 28 && test_.images.cols == 28,
           "fashion_scenes expects 28x28 Fashion-MNIST images under '{}'", root.string());
  const std::int64_t n = train_.images.count;
  PL_CHECK(options_.val_source_size < n, "val_source_size={} leaves no training images (the training file has {})",
           options_.val_source_size, n);
  const std::int64_t trainEnd = n - options_.val_source_size;
  const std::array<std::pair<std::int64_t, std::int64_t>, 3> ranges = {
      std::pair<std::int64_t, std::int64_t>{0, trainEnd}, {trainEnd, n}, {0, test_.images.count}};
  for (std::size_t s = 0; s < 3; ++s) {
    const auto& labels = s == 2 ? test_.labels : train_.labels;
    for (auto& pool : pools_[s]) pool.clear();
    for (std::int64_t i = ranges[s].first; i < ranges[s].second; ++i)
      pools_[s][labels[static_cast<std::size_t>(i)]].push_back(i);
    for (int c = 0; c < kSceneClasses; ++c)
      PL_CHECK(!pools_[s][static_cast<std::size_t>(c)].empty(),
               "fashion_scenes: no source image of class '{}' for split '{}'; use more source images",
               kClassNames[static_cast<std::size_t>(c)], kSplits[s]);
  }

  Sha256 h;
  appendString(h, kGeneratorVersion);
  for (const char* stem :
       {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    const fs::path gz = root / (std::string(stem) + ".gz");
    appendString(h, sha256File(fs::exists(gz) ? gz : root / stem));
  }
  const Options& o = options_;
  appendString(
      h, fmt::format("grid={};cell={};small_size={};dark_level={};p_empty={};p_small={};p_dark={};"
                     "num_train={};num_val={};num_test={};val_source_size={};seed={};"
                     "questions_per_scene={};answer_agreement={}",
                     o.grid, o.cell, o.small_size, o.dark_level, o.p_empty, o.p_small, o.p_dark, o.num_train, o.num_val,
                     o.num_test, o.val_source_size, o.seed, o.questions_per_scene, o.answer_agreement));
  fingerprint_ = h.hex();
  loaded_ = true;
}

const std::string& SceneGenerator::fingerprint() const {
  PL_CHECK(loaded_, "SceneGenerator::fingerprint() called before load()");
  return fingerprint_;
}

std::int64_t SceneGenerator::splitSize(const std::string& split) const {
  switch (splitIndex(split)) {
    case 0:
      return options_.num_train;
    case 1:
      return options_.num_val;
    default:
      return options_.num_test;
  }
}

std::vector<Scene> SceneGenerator::generate(const std::string& split) const {
  const std::int64_t n = splitSize(split);
  std::vector<Scene> scenes;
  scenes.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) scenes.push_back(generateScene(split, i));
  return scenes;
}

Scene SceneGenerator::generateScene(const std::string& split, std::int64_t index) const {
  PL_CHECK(loaded_, "SceneGenerator::generateScene() called before load()");
  const int s = splitIndex(split);
  PL_CHECK(index >= 0 && index < kSceneIdBase, "scene index {} out of range", index);
  std::mt19937_64 rng(mixSeed(mixSeed(static_cast<std::uint64_t>(options_.seed), static_cast<std::uint64_t>(s) + 1),
                              static_cast<std::uint64_t>(index)));
  const int g = static_cast<int>(options_.grid);
  const int cellPx = static_cast<int>(options_.cell);
  Scene scene;
  scene.id = sceneId(split, index);
  scene.split = kSplits[static_cast<std::size_t>(s)];
  scene.grid = g;
  scene.height = scene.width = g * cellPx;
  scene.pixels.assign(static_cast<std::size_t>(scene.height * scene.width), 0);
  scene.cells.resize(static_cast<std::size_t>(g * g));

  auto fill = [&](SceneCell& c) {
    c.label = static_cast<int>(uniformBelow(rng, kSceneClasses));
    const auto& pool = pools_[static_cast<std::size_t>(s)][static_cast<std::size_t>(c.label)];
    c.source = pool[static_cast<std::size_t>(uniformBelow(rng, pool.size()))];
    c.shade = bernoulli(rng, options_.p_dark) ? Shade::Dark : Shade::Light;
    c.size = bernoulli(rng, options_.p_small) ? ItemSize::Small : ItemSize::Large;
  };
  for (SceneCell& c : scene.cells)
    if (!bernoulli(rng, options_.p_empty)) fill(c);
  if (scene.numItems() == 0) fill(scene.cells[static_cast<std::size_t>(uniformBelow(rng, scene.cells.size()))]);

  const IdxImages& images = s == 2 ? test_.images : train_.images;
  for (int i = 0; i < g * g; ++i) {
    const SceneCell& c = scene.cells[static_cast<std::size_t>(i)];
    if (c.empty()) continue;
    const int side = c.size == ItemSize::Small ? static_cast<int>(options_.small_size) : cellPx;
    const std::vector<double> item = resizeArea(images.pixels.data() + c.source * 28 * 28, 28, side);
    const double peak = *std::max_element(item.begin(), item.end());
    const double level = c.shade == Shade::Dark ? static_cast<double>(options_.dark_level) : 255.0;
    const int y0 = (i / g) * cellPx + (cellPx - side) / 2, x0 = (i % g) * cellPx + (cellPx - side) / 2;
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const double v = peak > 0 ? item[static_cast<std::size_t>(y * side + x)] * level / peak : 0.0;
        scene.pixels[static_cast<std::size_t>((y0 + y) * scene.width + x0 + x)] =
            static_cast<std::uint8_t>(std::clamp<long>(std::lround(v), 0, 255));
      }
  }

  const std::vector<Item> items = itemsOf(scene);
  std::array<int, kCaptionTemplates> templates{};
  for (int t = 0; t < kCaptionTemplates; ++t) templates[static_cast<std::size_t>(t)] = t;
  for (int t = 0; t < kCaptionsPerScene; ++t)
    std::swap(templates[static_cast<std::size_t>(t)],
              templates[static_cast<std::size_t>(t) + uniformBelow(rng, kCaptionTemplates - t)]);
  const std::uint64_t relationDraw = rng();
  for (int t = 0; t < kCaptionsPerScene; ++t) {
    scene.captionTemplates.push_back(templates[static_cast<std::size_t>(t)]);
    scene.captions.push_back(captionFor(templates[static_cast<std::size_t>(t)], scene, items, relationDraw));
  }

  for (int q = 0; q < options_.questions_per_scene; ++q) {
    const auto type = static_cast<QuestionType>((index + q) % kQuestionTypes);
    const Draft d = questionFor(type, scene, items, rng);
    SceneQuestion sq;
    sq.id = scene.id * (kMaxQuestionsPerScene + 1) + q;
    sq.type = type;
    sq.question = d.question;
    sq.answerType = d.answerType;
    sq.multipleChoiceAnswer = d.canonical;
    sq.answers.assign(kAnswersPerQuestion, d.canonical);
    const std::vector<std::string> variants = answerVariants(d.canonical);
    // At most 4 of 10 answers differ, so the canonical answer stays the strict majority.
    if (variants.size() > 1 && !bernoulli(rng, options_.answer_agreement)) {
      const int k = 1 + static_cast<int>(uniformBelow(rng, 4));
      std::array<int, kAnswersPerQuestion> slots{};
      for (int i = 0; i < kAnswersPerQuestion; ++i) slots[static_cast<std::size_t>(i)] = i;
      for (int i = 0; i < k; ++i) {
        std::swap(slots[static_cast<std::size_t>(i)],
                  slots[static_cast<std::size_t>(i) + uniformBelow(rng, kAnswersPerQuestion - i)]);
        sq.answers[static_cast<std::size_t>(slots[static_cast<std::size_t>(i)])] =
            variants[1 + static_cast<std::size_t>(uniformBelow(rng, variants.size() - 1))];
      }
    }
    scene.questions.push_back(std::move(sq));
  }
  return scene;
}

const std::vector<std::string>& SceneGenerator::classNames() { return kClassNames; }

std::string SceneGenerator::classPlural(int label) {
  PL_CHECK(label >= 0 && label < kSceneClasses, "class label {} out of range [0, {})", label, kSceneClasses);
  return kClassPlurals[static_cast<std::size_t>(label)];
}

std::vector<std::string> SceneGenerator::answerVariants(const std::string& canonical) {
  std::vector<std::string> out = {canonical};
  const auto it = synonymTable().find(canonical);
  if (it != synonymTable().end()) out.insert(out.end(), it->second.begin(), it->second.end());
  if (!canonical.empty() &&
      std::all_of(canonical.begin(), canonical.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    const int n = std::stoi(canonical);
    if (n < static_cast<int>(kNumberWords.size())) out.push_back(kNumberWords[static_cast<std::size_t>(n)]);
  }
  return out;
}

std::string SceneGenerator::positionName(int row, int col, int grid) {
  PL_CHECK(grid == 2 || grid == 3, "positions are named for 2x2 and 3x3 grids only, got {}", grid);
  PL_CHECK(row >= 0 && row < grid && col >= 0 && col < grid, "cell ({}, {}) outside a {}x{} grid", row, col, grid,
           grid);
  static const std::array<const char*, 2> rows2 = {"top", "bottom"}, cols2 = {"left", "right"};
  static const std::array<const char*, 3> rows3 = {"top", "middle", "bottom"}, cols3 = {"left", "center", "right"};
  if (grid == 2) return std::string(rows2[static_cast<std::size_t>(row)]) + " " + cols2[static_cast<std::size_t>(col)];
  if (row == 1 && col == 1) return "center";
  return std::string(rows3[static_cast<std::size_t>(row)]) + " " + cols3[static_cast<std::size_t>(col)];
}

std::vector<std::string> SceneGenerator::vocabulary() {
  std::set<std::string> words;
  auto addWords = [&](const std::string& text) {
    std::istringstream in(text);
    std::string w;
    while (in >> w) words.insert(w);
  };
  for (const auto& w : kTemplateWords) addWords(w);
  for (const auto& w : kClassNames) addWords(w);
  for (const auto& w : kClassPlurals) addWords(w);
  for (const auto& w : kNumberWords) addWords(w);
  for (int i = 0; i < static_cast<int>(kNumberWords.size()); ++i) addWords(std::to_string(i));
  for (const auto& [canonical, synonyms] : synonymTable()) {
    addWords(canonical);
    for (const auto& s : synonyms) addWords(s);
  }
  for (int g : {2, 3})
    for (int r = 0; r < g; ++r)
      for (int c = 0; c < g; ++c) addWords(positionName(r, c, g));
  return {words.begin(), words.end()};
}

std::int64_t SceneGenerator::sceneId(const std::string& split, std::int64_t index) {
  return (splitIndex(split) + 1) * kSceneIdBase + index;
}

int SceneGenerator::splitIndex(const std::string& split) {
  for (std::size_t i = 0; i < kSplits.size(); ++i)
    if (kSplits[i] == split) return static_cast<int>(i);
  PL_THROW("fashion_scenes has no scene split '{}'{}; scene splits: {}", split, didYouMean(split, kSplits),
           quotedList(kSplits));
}

std::string questionTypeName(QuestionType type) {
  switch (type) {
    case QuestionType::WhatAtPosition:
      return "what_at_position";
    case QuestionType::Count:
      return "count";
    case QuestionType::Exists:
      return "exists";
    case QuestionType::Attribute:
      return "attribute";
    case QuestionType::Relation:
      return "relation";
  }
  PL_THROW("unknown question type {}", static_cast<int>(type));
}

QuestionType parseQuestionType(const std::string& name) {
  std::vector<std::string> names;
  for (int t = 0; t < kQuestionTypes; ++t) {
    names.push_back(questionTypeName(static_cast<QuestionType>(t)));
    if (names.back() == name) return static_cast<QuestionType>(t);
  }
  PL_THROW("unknown fashion_scenes question type '{}'{}; known: {}", name, didYouMean(name, names), quotedList(names));
}

std::string shadeName(Shade shade) { return shade == Shade::Dark ? "dark" : "light"; }
std::string sizeName(ItemSize size) { return size == ItemSize::Small ? "small" : "large"; }

std::string sceneContentHash(const std::vector<Scene>& scenes) {
  Sha256 h;
  appendInt(h, static_cast<std::int64_t>(scenes.size()));
  for (const Scene& s : scenes) {
    appendInt(h, s.id);
    appendString(h, s.split);
    appendInt(h, s.grid);
    appendInt(h, s.height);
    appendInt(h, s.width);
    appendInt(h, static_cast<std::int64_t>(s.pixels.size()));
    h.update(s.pixels.data(), s.pixels.size());
    appendInt(h, static_cast<std::int64_t>(s.cells.size()));
    for (const SceneCell& c : s.cells) {
      appendInt(h, c.label);
      appendInt(h, static_cast<int>(c.shade));
      appendInt(h, static_cast<int>(c.size));
      appendInt(h, c.source);
    }
    appendInt(h, static_cast<std::int64_t>(s.captions.size()));
    for (const auto& c : s.captions) appendString(h, c);
    appendInt(h, static_cast<std::int64_t>(s.captionTemplates.size()));
    for (int t : s.captionTemplates) appendInt(h, t);
    appendInt(h, static_cast<std::int64_t>(s.questions.size()));
    for (const SceneQuestion& q : s.questions) {
      appendInt(h, q.id);
      appendInt(h, static_cast<int>(q.type));
      appendString(h, q.question);
      appendInt(h, static_cast<std::int64_t>(q.answers.size()));
      for (const auto& a : q.answers) appendString(h, a);
      appendString(h, q.answerType);
      appendString(h, q.multipleChoiceAnswer);
    }
  }
  return h.hex();
}

std::uint64_t mixSeed(std::uint64_t a, std::uint64_t b) {
  // splitmix64 finaliser over a combination of the two inputs.
  std::uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t uniformBelow(std::mt19937_64& rng, std::uint64_t n) {
  PL_CHECK(n > 0, "uniformBelow(0)");
  const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n: reject the biased low range
  for (;;) {
    const std::uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

double uniformUnit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace prunelab::datasets
