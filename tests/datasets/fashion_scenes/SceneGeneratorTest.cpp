#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include "datasets/fashion_mnist/IdxReader.h"
#include "datasets/fashion_scenes/SceneGenerator.h"
#include "datasets/fashion_scenes/WordTokenizer.h"
#include "framework/core/Error.h"
#include "tests/support/Fixtures.h"

namespace prunelab::datasets {
namespace {

SceneGenerator::Options tinyOptions(std::int64_t seed = 7, std::int64_t grid = 2) {
  SceneGenerator::Options o;
  o.num_train = 120;
  o.num_val = 40;
  o.num_test = 40;
  o.seed = seed;
  o.grid = grid;
  return o;
}

// Loading reads 70k images; share one generator per option set across the tests of this file.
const SceneGenerator& generator(std::int64_t seed = 7, std::int64_t grid = 2) {
  static std::map<std::pair<std::int64_t, std::int64_t>, std::unique_ptr<SceneGenerator>> cache;
  auto& g = cache[{seed, grid}];
  if (!g) {
    g = std::make_unique<SceneGenerator>(tinyOptions(seed, grid));
    g->load();
  }
  return *g;
}

std::vector<Scene> allScenes(const SceneGenerator& g) {
  std::vector<Scene> out;
  for (const char* split : {"train", "val", "test"})
    for (auto& s : g.generate(split)) out.push_back(std::move(s));
  return out;
}

int words(const std::string& s) {
  std::istringstream in(s);
  std::string w;
  int n = 0;
  while (in >> w) ++n;
  return n;
}

class SceneGeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
};

TEST_F(SceneGeneratorTest, SameSeedGivesIdenticalScenesAndOtherSeedDiffers) {
  SceneGenerator again(tinyOptions(7));
  again.load();
  for (const char* split : {"train", "val", "test"}) {
    EXPECT_EQ(sceneContentHash(generator(7).generate(split)), sceneContentHash(again.generate(split))) << split;
    EXPECT_NE(sceneContentHash(generator(7).generate(split)), sceneContentHash(generator(8).generate(split))) << split;
  }
  EXPECT_EQ(generator(7).fingerprint(), again.fingerprint());
  EXPECT_NE(generator(7).fingerprint(), generator(8).fingerprint());
  EXPECT_EQ(generator(7).fingerprint().size(), 64u);
}

TEST_F(SceneGeneratorTest, SceneDependsOnlyOnSeedSplitAndIndex) {
  auto o = tinyOptions(7);
  o.num_train = 3;
  o.num_val = 50;
  SceneGenerator other(o);
  other.load();
  EXPECT_EQ(sceneContentHash({generator(7).generateScene("val", 17)}),
            sceneContentHash({other.generateScene("val", 17)}));
  EXPECT_NE(generator(7).fingerprint(), other.fingerprint());  // sizes are generator parameters
}

TEST_F(SceneGeneratorTest, SplitsDrawFromDisjointSourceImagesWithMatchingLabels) {
  const auto train = readFashionMnist(generator().options().root, true);
  const auto test = readFashionMnist(generator().options().root, false);
  const std::int64_t trainEnd = train.images.count - generator().options().val_source_size;
  std::set<std::int64_t> trainSources, valSources;
  for (const Scene& s : allScenes(generator())) {
    for (const SceneCell& c : s.cells) {
      if (c.empty()) continue;
      const auto& labels = s.split == "test" ? test.labels : train.labels;
      ASSERT_GE(c.source, 0);
      ASSERT_LT(c.source, static_cast<std::int64_t>(labels.size()));
      EXPECT_EQ(labels[static_cast<std::size_t>(c.source)], c.label) << "scene " << s.id;
      if (s.split == "train") {
        EXPECT_LT(c.source, trainEnd);
        trainSources.insert(c.source);
      } else if (s.split == "val") {
        EXPECT_GE(c.source, trainEnd);
        valSources.insert(c.source);
      }
    }
  }
  for (std::int64_t v : valSources) EXPECT_EQ(trainSources.count(v), 0u);
}

TEST_F(SceneGeneratorTest, PixelsShowTheCells) {
  const auto& o = generator().options();
  for (const Scene& s : generator().generate("train")) {
    ASSERT_EQ(s.height, 56);
    ASSERT_EQ(s.width, 56);
    ASSERT_EQ(s.pixels.size(), 56u * 56u);
    ASSERT_EQ(s.cells.size(), 4u);
    EXPECT_GE(s.numItems(), 1);
    for (int i = 0; i < 4; ++i) {
      const SceneCell& c = s.cells[static_cast<std::size_t>(i)];
      int peak = 0, outsideSmallBox = 0;
      const int lo = (28 - static_cast<int>(o.small_size)) / 2, hi = lo + static_cast<int>(o.small_size);
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
          const int v = s.pixels[static_cast<std::size_t>(((i / 2) * 28 + y) * 56 + (i % 2) * 28 + x)];
          peak = std::max(peak, v);
          if (y < lo || y >= hi || x < lo || x >= hi) outsideSmallBox = std::max(outsideSmallBox, v);
        }
      if (c.empty()) {
        EXPECT_EQ(peak, 0) << "scene " << s.id << " cell " << i;
      } else {
        EXPECT_EQ(peak, c.shade == Shade::Dark ? o.dark_level : 255) << "scene " << s.id << " cell " << i;
        if (c.size == ItemSize::Small) {
          EXPECT_EQ(outsideSmallBox, 0) << "scene " << s.id << " cell " << i;
        }
      }
    }
  }
}

TEST_F(SceneGeneratorTest, FiveCaptionsFromDistinctTemplatesWithinThirtyWords) {
  for (std::int64_t grid : {2, 3}) {
    for (const Scene& s : allScenes(generator(7, grid))) {
      ASSERT_EQ(s.captions.size(), 5u);
      ASSERT_EQ(s.captionTemplates.size(), 5u);
      EXPECT_EQ(std::set<int>(s.captionTemplates.begin(), s.captionTemplates.end()).size(), 5u);
      EXPECT_EQ(std::set<std::string>(s.captions.begin(), s.captions.end()).size(), 5u) << s.captions[0];
      for (const auto& c : s.captions) {
        EXPECT_LE(words(c), kMaxCaptionWords) << c;
        EXPECT_GE(words(c), 3) << c;
      }
    }
  }
}

// An independent reading of each question against the scene's cells.
class Oracle {
 public:
  explicit Oracle(int grid) : grid_(grid) {
    for (int r = 0; r < grid; ++r)
      for (int c = 0; c < grid; ++c) cellOf_[SceneGenerator::positionName(r, c, grid)] = r * grid + c;
    for (int l = 0; l < kSceneClasses; ++l) {
      labelOf_[SceneGenerator::classNames()[static_cast<std::size_t>(l)]] = l;
      labelOf_[SceneGenerator::classPlural(l)] = l;
    }
    std::string classes, positions;
    for (const auto& [k, v] : labelOf_) classes += (classes.empty() ? "" : "|") + k;
    for (const auto& [k, v] : cellOf_) positions += (positions.empty() ? "" : "|") + k;
    cls_ = "(" + classes + ")";
    pos_ = "(" + positions + ")";
  }

  std::string answer(const Scene& s, const std::string& q) const {
    std::smatch m;
    auto name = [&](int cell) {
      const SceneCell& c = s.cells[static_cast<std::size_t>(cell)];
      return c.empty() ? std::string("nothing") : SceneGenerator::classNames()[static_cast<std::size_t>(c.label)];
    };
    auto count = [&](auto pred) {
      int n = 0;
      for (const SceneCell& c : s.cells) n += !c.empty() && pred(c);
      return std::to_string(n);
    };
    auto yesNo = [](bool b) { return std::string(b ? "yes" : "no"); };
    if (std::regex_match(q, m, std::regex("what is at the " + pos_ + "\\?"))) return name(cellOf_.at(m[1]));
    if (q == "how many items are there?") return count([](const SceneCell&) { return true; });
    if (q == "how many empty cells are there?") return std::to_string(grid_ * grid_ - s.numItems());
    if (std::regex_match(q, m, std::regex("how many (dark|light|small|large) items are there\\?"))) {
      const std::string a = m[1];
      return count([&](const SceneCell& c) { return shadeName(c.shade) == a || sizeName(c.size) == a; });
    }
    if (std::regex_match(q, m, std::regex("how many " + cls_ + " are there\\?"))) {
      const int l = labelOf_.at(m[1]);
      return count([&](const SceneCell& c) { return c.label == l; });
    }
    if (std::regex_match(q, m, std::regex("is there an? (dark |light |small |large )?" + cls_ + "\\?"))) {
      const std::string attr = m[1].str().empty() ? "" : m[1].str().substr(0, m[1].str().size() - 1);
      const int l = labelOf_.at(m[2]);
      return yesNo(count([&](const SceneCell& c) {
                     return c.label == l && (attr.empty() || shadeName(c.shade) == attr || sizeName(c.size) == attr);
                   }) != "0");
    }
    if (std::regex_match(q, m, std::regex("what (shade|size) is the " + cls_ + " at the " + pos_ + "\\?"))) {
      const SceneCell& c = s.cells[static_cast<std::size_t>(cellOf_.at(m[3]))];
      EXPECT_EQ(c.label, labelOf_.at(m[2])) << q;
      return m[1] == "shade" ? shadeName(c.shade) : sizeName(c.size);
    }
    const std::string ref = "the " + cls_ + "(?: at the " + pos_ + ")?";
    if (std::regex_match(q, m, std::regex("what is directly (left of|right of|above|below) " + ref + "\\?"))) {
      const int cell = find(s, m[2], m[3], q);
      int r = cell / grid_, c = cell % grid_;
      const std::string d = m[1];
      (d == "left of" ? c : d == "right of" ? c : r) += (d == "left of" || d == "above") ? -1 : 1;
      EXPECT_TRUE(r >= 0 && r < grid_ && c >= 0 && c < grid_) << q;
      return name(r * grid_ + c);
    }
    if (std::regex_match(q, m, std::regex("is " + ref + " (left of|right of|above|below) " + ref + "\\?"))) {
      const int a = find(s, m[1], m[2], q), b = find(s, m[4], m[5], q);
      const std::string d = m[3];
      if (d == "left of") return yesNo(a % grid_ < b % grid_);
      if (d == "right of") return yesNo(a % grid_ > b % grid_);
      if (d == "above") return yesNo(a / grid_ < b / grid_);
      return yesNo(a / grid_ > b / grid_);
    }
    ADD_FAILURE() << "question the oracle cannot read: " << q;
    return "";
  }

 private:
  // The one cell a referent names: by class alone it must be unique, with a position it must match.
  int find(const Scene& s, const std::string& cls, const std::string& position, const std::string& q) const {
    const int l = labelOf_.at(cls);
    if (!position.empty()) {
      const int cell = cellOf_.at(position);
      EXPECT_EQ(s.cells[static_cast<std::size_t>(cell)].label, l) << q;
      return cell;
    }
    int found = -1, n = 0;
    for (int i = 0; i < static_cast<int>(s.cells.size()); ++i)
      if (s.cells[static_cast<std::size_t>(i)].label == l) found = i, ++n;
    EXPECT_EQ(n, 1) << "ambiguous referent in: " << q;
    return found;
  }

  int grid_;
  std::map<std::string, int> cellOf_, labelOf_;
  std::string cls_, pos_;
};

TEST_F(SceneGeneratorTest, EveryQuestionIsAnsweredCorrectlyByItsTenAnswers) {
  for (std::int64_t grid : {2, 3}) {
    const Oracle oracle(static_cast<int>(grid));
    std::map<QuestionType, int> perType;
    int mixed = 0, total = 0, yes = 0, yesNo = 0;
    for (const Scene& s : allScenes(generator(7, grid))) {
      ASSERT_EQ(s.questions.size(), 5u);
      std::set<QuestionType> types;
      for (const SceneQuestion& q : s.questions) {
        types.insert(q.type);
        ++perType[q.type];
        EXPECT_EQ(q.multipleChoiceAnswer, oracle.answer(s, q.question)) << q.question;
        ASSERT_EQ(q.answers.size(), 10u);
        const auto variants = SceneGenerator::answerVariants(q.multipleChoiceAnswer);
        std::map<std::string, int> votes;
        for (const auto& a : q.answers) {
          EXPECT_NE(std::find(variants.begin(), variants.end(), a), variants.end()) << a << " for " << q.question;
          ++votes[a];
        }
        for (const auto& [a, n] : votes) {
          if (a != q.multipleChoiceAnswer) {
            EXPECT_LT(n, votes[q.multipleChoiceAnswer]) << q.question;
          }
        }
        mixed += votes.size() > 1;
        ++total;
        const std::set<std::string> answerTypes = {"yes/no", "number", "other"};
        EXPECT_EQ(answerTypes.count(q.answerType), 1u) << q.answerType;
        if (q.type == QuestionType::Count) {
          EXPECT_EQ(q.answerType, "number");
        }
        if (q.type == QuestionType::Exists) {
          EXPECT_EQ(q.answerType, "yes/no");
        }
        if (q.answerType == "yes/no") {
          ++yesNo;
          yes += q.multipleChoiceAnswer == "yes";
        }
        EXPECT_EQ(q.id / 100, s.id);
      }
      EXPECT_EQ(types.size(), 5u);
    }
    EXPECT_EQ(perType.size(), 5u);
    // answer_agreement = 0.5: about half the questions carry synonyms among their 10 answers.
    EXPECT_GT(mixed, total / 4);
    EXPECT_LT(mixed, total * 3 / 4);
    EXPECT_GT(yes, yesNo / 4);
    EXPECT_LT(yes, yesNo * 3 / 4);
  }
}

TEST_F(SceneGeneratorTest, VocabularyCoversEveryGeneratedText) {
  const WordTokenizer tok(SceneGenerator::vocabulary());
  for (std::int64_t grid : {2, 3}) {
    for (const Scene& s : allScenes(generator(7, grid))) {
      std::vector<std::string> texts = s.captions;
      for (const auto& q : s.questions) {
        texts.push_back("question: " + q.question + " answer: " + q.multipleChoiceAnswer);
        texts.insert(texts.end(), q.answers.begin(), q.answers.end());
      }
      for (const auto& t : texts)
        for (std::int64_t id : tok.encode(t)) EXPECT_NE(id, WordTokenizer::kUnk) << t;
    }
  }
  for (const auto& c : SceneGenerator::classNames())
    for (std::int64_t id : tok.encode("a photo of a " + c)) EXPECT_NE(id, WordTokenizer::kUnk) << c;
}

TEST(SceneGeneratorOptionsTest, RejectsBadOptionsWithTheKey) {
  auto expectError = [](SceneGenerator::Options o, const std::string& key) {
    try {
      SceneGenerator g(o);
      ADD_FAILURE() << "no error for " << key;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  SceneGenerator::Options o;
  o.grid = 5;
  expectError(o, "grid");
  o = {};
  o.small_size = 40;
  expectError(o, "small_size");
  o = {};
  o.p_empty = 1.0;
  expectError(o, "p_empty");
  o = {};
  o.num_train = -1;
  expectError(o, "num_train");
}

TEST(SceneGeneratorOptionsTest, MissingRootSaysHowToInstall) {
  SceneGenerator::Options o;
  o.root = "/nonexistent/fashion";
  SceneGenerator g(o);
  try {
    g.load();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dataset-fashion-mnist"), std::string::npos) << e.what();
  }
  EXPECT_THROW(g.generate("train"), Error);
}

TEST(SceneGeneratorRngTest, UniformBelowIsInRangeAndCoversIt) {
  std::mt19937_64 rng(1);
  std::vector<int> hist(7);
  for (int i = 0; i < 7000; ++i) {
    const auto v = uniformBelow(rng, 7);
    ASSERT_LT(v, 7u);
    ++hist[v];
  }
  for (int h : hist) EXPECT_GT(h, 800);
  for (int i = 0; i < 1000; ++i) {
    const double u = uniformUnit(rng);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  EXPECT_NE(mixSeed(1, 2), mixSeed(2, 1));
  // mt19937_64 is fully specified: its 10000th output from the default seed is fixed by the standard.
  std::mt19937_64 standard;
  standard.discard(9999);
  EXPECT_EQ(standard(), 9981545732273789042ull);
}

TEST(SceneGeneratorNamesTest, PositionsClassesAndSynonyms) {
  EXPECT_EQ(SceneGenerator::positionName(0, 1, 2), "top right");
  EXPECT_EQ(SceneGenerator::positionName(1, 1, 3), "center");
  EXPECT_EQ(SceneGenerator::classNames().size(), 10u);
  EXPECT_EQ(SceneGenerator::classNames()[9], "ankle boot");
  EXPECT_EQ(SceneGenerator::classPlural(3), "dresses");
  EXPECT_EQ(SceneGenerator::answerVariants("2"), (std::vector<std::string>{"2", "two"}));
  const auto sneaker = SceneGenerator::answerVariants("sneaker");
  EXPECT_NE(std::find(sneaker.begin(), sneaker.end(), "shoe"), sneaker.end());
  EXPECT_EQ(SceneGenerator::sceneId("val", 5), 2000005);
  EXPECT_THROW(SceneGenerator::splitIndex("tset"), Error);
  EXPECT_EQ(parseQuestionType("relation"), QuestionType::Relation);
  EXPECT_THROW(parseQuestionType("colour"), Error);
}

}  // namespace
}  // namespace prunelab::datasets
