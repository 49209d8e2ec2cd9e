#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "datasets/fashion_mnist/IdxReader.h"
#include "framework/core/Error.h"

namespace prunelab::datasets {

/// How bright an item is drawn: light items are stretched to peak 255, dark ones to `dark_level`
/// (background stays black), so the shade can be read off an item's brightest pixel.
enum class Shade { Light = 0, Dark = 1 };
/// Large items fill their cell; small ones are area-downscaled to `small_size` px and centred.
enum class ItemSize { Large = 0, Small = 1 };
/// The five VQA question families; their names are the VQAv2 `question_type` of the export.
enum class QuestionType { WhatAtPosition = 0, Count = 1, Exists = 2, Attribute = 3, Relation = 4 };

inline constexpr int kSceneClasses = 10;
inline constexpr int kQuestionTypes = 5;
inline constexpr int kCaptionsPerScene = 5;
inline constexpr int kCaptionTemplates = 8;
inline constexpr int kAnswersPerQuestion = 10;
inline constexpr int kMaxCaptionWords = 30;

/// One grid cell: empty (label -1) or a Fashion-MNIST item with its attributes.
struct SceneCell {
  int label = -1;  ///< class 0..9, -1 when the cell is empty
  Shade shade = Shade::Light;
  ItemSize size = ItemSize::Large;
  std::int64_t source = -1;  ///< index of the item in its IDX file (train file for train/val, t10k for test)
  bool empty() const { return label < 0; }
};

/// One VQA question with its 10 answers in VQAv2 form.
struct SceneQuestion {
  std::int64_t id = 0;
  QuestionType type = QuestionType::WhatAtPosition;
  std::string question;
  std::vector<std::string> answers;  ///< 10 answers: the canonical one, some replaced by synonyms
  std::string answerType;            ///< "yes/no", "number" or "other"
  std::string multipleChoiceAnswer;  ///< the canonical answer (always the strict majority of `answers`)
};

/// One generated (or imported) scene.
struct Scene {
  std::int64_t id = 0;
  std::string split;  ///< "train", "val" or "test"
  int grid = 0;       ///< cells per side
  int height = 0, width = 0;
  std::vector<std::uint8_t> pixels;  ///< height*width grayscale, row-major
  std::vector<SceneCell> cells;      ///< grid*grid, row-major (top-left first)
  std::vector<std::string> captions;
  std::vector<int> captionTemplates;  ///< template id (0..kCaptionTemplates-1) of each caption
  std::vector<SceneQuestion> questions;
  /// Number of non-empty cells.
  int numItems() const;
};

/// Generates FashionScenes (design.md §5) from Fashion-MNIST, deterministically from the seed: every
/// scene draws from its own mt19937_64 stream seeded by (seed, split, index), so a scene does not
/// depend on how many scenes the other splits have. Train scenes use items from the first
/// 60000-`val_source_size` training images, val scenes the held-out tail of the training file and
/// test scenes the t10k file, so the three splits share no source image. No LibTorch here.
class SceneGenerator {
 public:
  struct Options {
    std::string root = "/usr/share/datasets/fashion-mnist";
    std::int64_t grid = 2;
    std::int64_t cell = 28;
    std::int64_t small_size = 18;
    std::int64_t dark_level = 96;
    double p_empty = 0.25;
    double p_small = 0.5;
    double p_dark = 0.5;
    std::int64_t num_train = 20000;
    std::int64_t num_val = 1000;
    std::int64_t num_test = 1000;
    std::int64_t val_source_size = 10000;
    std::int64_t seed = 0;
    std::int64_t questions_per_scene = 5;
    double answer_agreement = 0.5;

    template <class V>
    void visit(V& v) {
      v(root, "root", "folder with the Fashion-MNIST gzip IDX files (apt-get install dataset-fashion-mnist)");
      v(grid, "grid", "cells per side of a scene (2 or 3)");
      v(cell, "cell", "cell size in pixels (image side = grid * cell)");
      v(small_size, "small_size", "side in pixels of a small item, centred in its cell");
      v(dark_level, "dark_level", "brightest pixel of a dark item (light items peak at 255)");
      v(p_empty, "p_empty", "probability that a cell is empty (a scene always keeps at least one item)");
      v(p_small, "p_small", "probability that an item is small");
      v(p_dark, "p_dark", "probability that an item is dark");
      v(num_train, "num_train", "number of train scenes");
      v(num_val, "num_val", "number of val scenes");
      v(num_test, "num_test", "number of test scenes");
      v(val_source_size, "val_source_size", "training images held out (from the end) as sources of val scenes");
      v(seed, "seed", "generator seed");
      v(questions_per_scene, "questions_per_scene", "VQA questions per scene; types rotate so 5 covers all");
      v(answer_agreement, "answer_agreement", "fraction of questions whose 10 answers are all the canonical one");
    }
    void validate() const;
  };

  explicit SceneGenerator(Options options);

  /// Reads the IDX files under `root` and hashes them; call before generate().
  void load();
  /// All scenes of `split` ("train", "val", "test").
  std::vector<Scene> generate(const std::string& split) const;
  /// Scene `index` of `split`.
  Scene generateScene(const std::string& split, std::int64_t index) const;
  /// sha256 of the four IDX files' hashes, the generator version and every parameter but `root`.
  const std::string& fingerprint() const;
  const Options& options() const { return options_; }

  /// Readable class names ("t-shirt", ..., "ankle boot"), index = Fashion-MNIST label.
  static const std::vector<std::string>& classNames();
  /// Plural of a class name ("sneakers").
  static std::string classPlural(int label);
  /// The answers accepted for a canonical answer: itself first, then its synonyms ("sneaker", "shoe",
  /// "trainer"; "2", "two").
  static std::vector<std::string> answerVariants(const std::string& canonical);
  /// Name of cell (row, col) in a grid: "top left", ..., "center".
  static std::string positionName(int row, int col, int grid);
  /// Every word the generator can write (captions, questions, answers), for the closed vocabulary.
  static std::vector<std::string> vocabulary();
  /// Id of scene `index` of `split` (train 1000000+i, val 2000000+i, test 3000000+i).
  static std::int64_t sceneId(const std::string& split, std::int64_t index);
  /// Position of `split` in {"train", "val", "test"}; error naming the splits otherwise.
  static int splitIndex(const std::string& split);
  /// Number of scenes configured for `split`.
  std::int64_t splitSize(const std::string& split) const;

 private:
  Options options_;
  bool loaded_ = false;
  FashionMnistSplit train_, test_;
  std::array<std::array<std::vector<std::int64_t>, kSceneClasses>, 3> pools_;  // [split][class] -> source indices
  std::string fingerprint_;
};

/// "what_at_position", "count", "exists", "attribute", "relation".
std::string questionTypeName(QuestionType type);
/// Inverse of questionTypeName; error listing the names otherwise.
QuestionType parseQuestionType(const std::string& name);
/// "light"/"dark" and "large"/"small".
std::string shadeName(Shade shade);
std::string sizeName(ItemSize size);

/// sha256 over everything a scene holds (pixels, cells, captions, questions): equal iff the scenes
/// are identical; used to check an export/import round trip.
std::string sceneContentHash(const std::vector<Scene>& scenes);

/// Deterministic random helpers over the standard-specified mt19937_64 (the std distributions are
/// implementation-defined, so results would differ between standard libraries).
std::uint64_t mixSeed(std::uint64_t a, std::uint64_t b);
/// Uniform integer in [0, n), unbiased (rejection sampling); n > 0.
std::uint64_t uniformBelow(std::mt19937_64& rng, std::uint64_t n);
/// Uniform double in [0, 1) with 53 random bits.
double uniformUnit(std::mt19937_64& rng);

}  // namespace prunelab::datasets
