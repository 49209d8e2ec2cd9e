#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "datasets/fashion_scenes/FashionScenes.h"
#include "datasets/fashion_scenes/SceneExport.h"
#include "evaluators/metrics/VqaEval.h"
#include "framework/core/Error.h"
#include "framework/core/Options.h"
#include "tests/support/Fixtures.h"

namespace prunelab::datasets {
namespace {

FashionScenes::Options tinyOptions() {
  FashionScenes::Options o;
  o.num_train = 60;
  o.num_val = 16;
  o.num_test = 20;
  o.seed = 11;
  o.calib_size = 24;
  o.zeroshot_size = 30;
  return o;
}

std::vector<std::int64_t> all(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

model::Batch whole(const data::DataSource& ds, const std::string& split) {
  const auto d = ds.split(split);
  return d->get(all(d->size()));
}

// VQA accuracy of a fixed guess per question: a metric that must not change across export/import.
double accuracyOf(const std::vector<data::VqaQuestion>& questions, bool answerWithSynonym) {
  evaluators::VqaAccuracyAggregator agg;
  for (const auto& q : questions) {
    const auto variants = SceneGenerator::answerVariants(q.multipleChoiceAnswer);
    agg.add({q.questionId, answerWithSynonym ? variants.back() : q.multipleChoiceAnswer, q.answers, q.answerType,
             q.questionType});
  }
  return agg.result().overall;
}

class FashionScenesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  static FashionScenes& shared() {
    static FashionScenes* ds = [] {
      auto* d = new FashionScenes(tinyOptions());
      d->prepare();
      return d;
    }();
    return *ds;
  }
};

TEST_F(FashionScenesTest, SceneSplitsCarryImagesCellsAndCaptions) {
  const FashionScenes& ds = shared();
  const auto b = whole(ds, "train");
  EXPECT_EQ(b.size(), 60);
  EXPECT_EQ(b.at("images").sizes(), (std::vector<std::int64_t>{60, 1, 56, 56}));
  EXPECT_EQ(b.at("images").scalar_type(), torch::kFloat32);
  EXPECT_LE(b.at("images").max().item<float>(), 1.0f);
  EXPECT_GE(b.at("images").min().item<float>(), 0.0f);
  EXPECT_EQ(b.at("labels").sizes(), (std::vector<std::int64_t>{60, 4}));
  EXPECT_EQ(b.at("all_captions").sizes(), (std::vector<std::int64_t>{60, 5, 32}));
  EXPECT_EQ(b.at("captions").sizes(), (std::vector<std::int64_t>{60, 32}));
  const auto& scenes = ds.scenes("train");
  for (std::int64_t i = 0; i < 60; ++i) {
    const Scene& s = scenes[static_cast<std::size_t>(i)];
    EXPECT_EQ(b.at("image_ids")[i].item<std::int64_t>(), s.id);
    for (int c = 0; c < 4; ++c) {
      const SceneCell& cell = s.cells[static_cast<std::size_t>(c)];
      EXPECT_EQ(b.at("labels")[i][c].item<std::int64_t>(), cell.label);
      EXPECT_EQ(b.at("shades")[i][c].item<std::int64_t>(), cell.empty() ? -1 : static_cast<int>(cell.shade));
    }
    const std::int64_t k = b.at("caption_index")[i].item<std::int64_t>();
    EXPECT_EQ(k, i % 5);
    const auto row = b.at("captions")[i];
    EXPECT_TRUE(torch::equal(row, b.at("all_captions")[i][k]));
    std::vector<std::int64_t> ids(row.data_ptr<std::int64_t>(), row.data_ptr<std::int64_t>() + row.numel());
    EXPECT_EQ(ds.tokenizer().decode(ids), ds.tokenizer().decode(ds.tokenizer().encode(s.captions[k])));
    EXPECT_EQ(ids[0], WordTokenizer::kBos);
    EXPECT_FLOAT_EQ(b.at("images")[i][0][10][20].item<float>(), s.pixels[10 * 56 + 20] / 255.0f);
  }
  EXPECT_EQ(ds.split("val")->size(), 16);
  EXPECT_EQ(ds.split("test")->size(), 20);
}

TEST_F(FashionScenesTest, CalibComesFromTrainWithAPrefixLmSplit) {
  const FashionScenes& ds = shared();
  const auto b = whole(ds, "calib");
  ASSERT_EQ(b.size(), 24);
  std::set<std::int64_t> trainIds, seen;
  for (const Scene& s : ds.scenes("train")) trainIds.insert(s.id);
  const auto& tok = ds.tokenizer();
  auto row = [](const torch::Tensor& t) {
    return std::vector<std::int64_t>(t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + t.numel());
  };
  for (std::int64_t i = 0; i < 24; ++i) {
    const std::int64_t id = b.at("image_ids")[i].item<std::int64_t>();
    EXPECT_EQ(trainIds.count(id), 1u);
    EXPECT_TRUE(seen.insert(id).second) << "calib pairs are drawn without replacement";
    const auto prefix = row(b.at("prefix_ids")[i].contiguous()), target = row(b.at("target_ids")[i].contiguous());
    EXPECT_EQ(prefix[0], WordTokenizer::kBos);
    EXPECT_NE(target[0], WordTokenizer::kBos);
    const std::string whole = tok.decode(row(b.at("captions")[i].contiguous()));
    EXPECT_EQ(tok.decode(prefix) + " " + tok.decode(target), whole);
    const auto nPrefix = WordTokenizer::words(tok.decode(prefix)).size();
    EXPECT_GE(nPrefix, 1u);
    EXPECT_LE(nPrefix, std::max<std::size_t>(1, WordTokenizer::words(whole).size() / 2));
    const Scene& s = ds.scenes("train")[static_cast<std::size_t>(id - 1000000)];
    const auto k = static_cast<std::size_t>(b.at("caption_index")[i].item<std::int64_t>());
    EXPECT_EQ(whole, tok.decode(tok.encode(s.captions[k])));
    const auto image = b.at("images")[i][0];
    EXPECT_FLOAT_EQ(image[30][30].item<float>(), s.pixels[30 * 56 + 30] / 255.0f);
  }
}

TEST_F(FashionScenesTest, VqaLmAndZeroshotSplits) {
  const FashionScenes& ds = shared();
  const auto vqa = whole(ds, "vqa_test");
  const auto questions = ds.vqaQuestions("test");
  ASSERT_EQ(vqa.size(), static_cast<std::int64_t>(questions.size()));
  ASSERT_EQ(questions.size(), 20u * 5u);
  const auto& tok = ds.tokenizer();
  for (std::size_t i = 0; i < questions.size(); ++i) {
    const auto qi = static_cast<std::int64_t>(i);
    EXPECT_EQ(vqa.at("question_ids")[qi].item<std::int64_t>(), questions[i].questionId);
    const auto a = vqa.at("answers")[qi].contiguous();
    EXPECT_EQ(tok.decode({a.data_ptr<std::int64_t>(), a.data_ptr<std::int64_t>() + a.numel()}),
              tok.decode(tok.encode(questions[i].multipleChoiceAnswer)));
    const std::int64_t type = vqa.at("answer_type")[qi].item<std::int64_t>();
    EXPECT_EQ(type, questions[i].answerType == "yes/no" ? 0 : questions[i].answerType == "number" ? 1 : 2);
    EXPECT_EQ(questions[i].answers.size(), 10u);
  }
  // The image of a question is its scene's image.
  const Scene& first = ds.scenes("test")[0];
  EXPECT_FLOAT_EQ(vqa.at("images")[3][0][40][12].item<float>(), first.pixels[40 * 56 + 12] / 255.0f);

  // Canonical answers score 100; a synonym loses on the questions whose annotators disagreed.
  EXPECT_DOUBLE_EQ(accuracyOf(questions, false), 100.0);
  EXPECT_LT(accuracyOf(questions, true), 90.0);

  const auto& texts = ds.lmTexts("train");
  EXPECT_EQ(texts.size(), 60u * 10u);
  EXPECT_EQ(ds.split("lm_train")->size(), 600);
  bool sawQa = false;
  for (const auto& t : texts) sawQa = sawQa || t.rfind("question: ", 0) == 0;
  EXPECT_TRUE(sawQa);
  const auto lm = whole(ds, "lm_test");
  EXPECT_EQ(lm.at("tokens").size(1), 32);
  EXPECT_EQ((lm.at("tokens") == WordTokenizer::kUnk).sum().item<std::int64_t>(), 0);

  const auto zs = whole(ds, "zeroshot");
  ASSERT_EQ(zs.size(), 30);
  EXPECT_EQ(zs.at("images").sizes(), (std::vector<std::int64_t>{30, 1, 56, 56}));
  for (std::int64_t i = 0; i < 30; ++i) {
    const auto img = zs.at("images")[i][0];
    EXPECT_GT(img.max().item<float>(), 0.3f);
    // Only the centred cell is painted.
    EXPECT_EQ(img.narrow(0, 0, 14).abs().sum().item<float>(), 0.0f);
    EXPECT_EQ(img.narrow(1, 42, 14).abs().sum().item<float>(), 0.0f);
    const auto label = zs.at("labels")[i].item<std::int64_t>();
    EXPECT_GE(label, 0);
    EXPECT_LT(label, 10);
  }
}

TEST_F(FashionScenesTest, DeterministicFingerprintAndErrors) {
  FashionScenes again(tinyOptions());
  again.prepare();
  EXPECT_EQ(again.fingerprint(), shared().fingerprint());
  EXPECT_TRUE(torch::equal(whole(again, "calib").at("prefix_ids"), whole(shared(), "calib").at("prefix_ids")));
  auto o = tinyOptions();
  o.seed = 12;
  FashionScenes other(o);
  other.prepare();
  EXPECT_NE(other.fingerprint(), shared().fingerprint());
  EXPECT_FALSE(torch::equal(whole(other, "train").at("images"), whole(shared(), "train").at("images")));

  try {
    shared().split("vqa_tst");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vqa_test"), std::string::npos) << e.what();
  }
  EXPECT_THROW(shared().split("train")->get({60}), Error);
  FashionScenes unprepared(tinyOptions());
  EXPECT_THROW(unprepared.split("train"), Error);
  auto big = tinyOptions();
  big.calib_size = 1000;
  EXPECT_THROW(FashionScenes(big).prepare(), Error);
}

TEST_F(FashionScenesTest, ExportImportRoundTripKeepsFingerprintBatchesAndMetrics) {
  const FashionScenes& ds = shared();
  testing::TempDir dir;
  for (const char* split : {"train", "val", "test"})
    exportScenes(dir.path(), split, ds.scenes(split), ds.generatorFingerprint());
  auto o = tinyOptions();
  o.import_dir = dir.path().string();
  o.root = "/nonexistent";  // an import does not need the IDX files
  FashionScenes imported(o);
  imported.prepare();
  EXPECT_EQ(imported.fingerprint(), ds.fingerprint());
  for (const auto& split : ds.splits()) {
    const auto a = whole(ds, split), b = whole(imported, split);
    ASSERT_EQ(a.fields.size(), b.fields.size()) << split;
    for (const auto& [name, t] : a.fields) EXPECT_TRUE(torch::equal(t, b.at(name))) << split << "/" << name;
  }
  for (const char* split : {"train", "val", "test"}) {
    EXPECT_DOUBLE_EQ(accuracyOf(imported.vqaQuestions(split), true), accuracyOf(ds.vqaQuestions(split), true));
    EXPECT_EQ(imported.lmTexts(split), ds.lmTexts(split));
  }

  // An edited export is a different dataset.
  std::ofstream(dir / "captions_val.json", std::ios::app) << " ";  // whitespace only: same content
  FashionScenes same(o);
  same.prepare();
  EXPECT_EQ(same.fingerprint(), ds.fingerprint());
  std::stringstream text;
  text << std::ifstream(dir / "captions_val.json").rdbuf();
  std::string json = text.str();
  const auto at = json.find(ds.scenes("val")[0].captions[0]);
  ASSERT_NE(at, std::string::npos);
  json.replace(at, 1, "X");
  std::ofstream(dir / "captions_val.json") << json;
  FashionScenes edited(o);
  edited.prepare();
  EXPECT_NE(edited.fingerprint(), ds.fingerprint());
}

TEST_F(FashionScenesTest, TextSourceMatchesTheExportAndTheBatches) {
  const FashionScenes& ds = shared();
  const data::DataSource& source = ds;
  const auto* text = dynamic_cast<const data::TextSource*>(&source);
  ASSERT_NE(text, nullptr) << "evaluators reach the text side through the DataSource";

  testing::TempDir dir;
  exportScenes(dir.path(), "test", ds.scenes("test"), ds.generatorFingerprint());
  const auto exported = data::readCocoCaptions(dir / "captions_test.json");
  const auto refs = text->captionReferences("test");
  ASSERT_EQ(refs.images.size(), exported.images.size());
  for (std::size_t i = 0; i < refs.images.size(); ++i) {
    EXPECT_EQ(refs.images[i].id, exported.images[i].id);
    EXPECT_EQ(refs.images[i].fileName, exported.images[i].fileName);
    EXPECT_EQ(refs.images[i].height, exported.images[i].height);
    EXPECT_EQ(refs.images[i].width, exported.images[i].width);
  }
  ASSERT_EQ(refs.annotations.size(), exported.annotations.size());
  for (std::size_t i = 0; i < refs.annotations.size(); ++i) {
    EXPECT_EQ(refs.annotations[i].id, exported.annotations[i].id);
    EXPECT_EQ(refs.annotations[i].imageId, exported.annotations[i].imageId);
    EXPECT_EQ(refs.annotations[i].caption, exported.annotations[i].caption);
  }
  EXPECT_EQ(refs.annotations.size(), 5 * refs.images.size());
  const auto ids = whole(ds, "test").at("image_ids");
  ASSERT_EQ(ids.size(0), static_cast<std::int64_t>(refs.images.size()));
  for (std::size_t i = 0; i < refs.images.size(); ++i)
    EXPECT_EQ(ids[static_cast<std::int64_t>(i)].item<std::int64_t>(), refs.images[i].id) << "image " << i;
  const auto qids = whole(ds, "vqa_test").at("question_ids");
  const auto questions = text->vqaQuestions("test");
  ASSERT_EQ(qids.size(0), static_cast<std::int64_t>(questions.size()));
  for (std::size_t i = 0; i < questions.size(); ++i)
    EXPECT_EQ(qids[static_cast<std::int64_t>(i)].item<std::int64_t>(), questions[i].questionId);

  const auto encoded = text->encodeText("A t-shirt at the top left.", -1, true, false);
  EXPECT_EQ(encoded.front(), WordTokenizer::kBos);
  EXPECT_EQ(encoded.size(), 1u + 6u);
  EXPECT_EQ(text->decodeText(encoded), "a t-shirt at the top left");
  EXPECT_EQ(text->encodeText("a bag", 3, true, true).size(), 3u) << "maxLen keeps the framing";
  EXPECT_TRUE(text->knowsAllWords("Question: how many bags are there? Answer:"));
  EXPECT_FALSE(text->knowsAllWords("a photo of a zebra"));
  EXPECT_EQ(text->classNames(), SceneGenerator::classNames());
  EXPECT_EQ(text->maxTextLength(), ds.options().max_text_len);
}

TEST_F(FashionScenesTest, ConfigFilesParse) {
  for (const char* name : {"fashion_scenes.yaml", "fashion_scenes_tiny.yaml"}) {
    const auto node = YAML::LoadFile((testing::repoConfigDir() / "dataset" / name).string());
    const auto o = parseOptions<FashionScenes::Options>(node, "dataset");
    EXPECT_EQ(o.grid, 2) << name;
  }
  const auto tiny = parseOptions<FashionScenes::Options>(
      YAML::LoadFile((testing::repoConfigDir() / "dataset" / "fashion_scenes_tiny.yaml").string()), "dataset");
  EXPECT_EQ(tiny.num_train, 200);
  EXPECT_EQ(tiny.num_val, 50);
  EXPECT_EQ(tiny.num_test, 50);
  EXPECT_THROW(parseOptions<FashionScenes::Options>(YAML::Load("{grd: 2}"), "dataset"), Error);
  EXPECT_THROW(parseOptions<FashionScenes::Options>(YAML::Load("{max_text_len: 2}"), "dataset"), Error);
}

}  // namespace
}  // namespace prunelab::datasets
