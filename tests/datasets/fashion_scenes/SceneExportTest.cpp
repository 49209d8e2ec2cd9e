#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "datasets/fashion_scenes/SceneExport.h"
#include "datasets/fashion_scenes/SceneGenerator.h"
#include "framework/core/Error.h"
#include "framework/data/StandardFormats.h"
#include "tests/support/Fixtures.h"

namespace prunelab::datasets {
namespace {

namespace fs = std::filesystem;

class SceneExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    static const SceneGenerator* shared = [] {
      SceneGenerator::Options o;
      o.num_train = 30;
      o.num_val = 10;
      o.num_test = 12;
      o.seed = 3;
      auto* g = new SceneGenerator(o);
      g->load();
      return g;
    }();
    generator_ = shared;
  }

  std::string errorOf(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }

  const SceneGenerator* generator_ = nullptr;
  testing::TempDir dir_;
};

TEST_F(SceneExportTest, ExportThenImportGivesIdenticalScenes) {
  for (const char* split : {"train", "val", "test"}) {
    const auto scenes = generator_->generate(split);
    exportScenes(dir_.path(), split, scenes, generator_->fingerprint());
    const ImportedScenes back = importScenes(dir_.path(), split);
    EXPECT_EQ(sceneContentHash(back.scenes), sceneContentHash(scenes)) << split;
    EXPECT_TRUE(back.contentMatches());
    EXPECT_EQ(back.generatorFingerprint, generator_->fingerprint());
    ASSERT_EQ(back.scenes.size(), scenes.size());
    EXPECT_EQ(back.scenes[0].pixels, scenes[0].pixels);
    EXPECT_EQ(back.scenes[0].captions, scenes[0].captions);
  }
}

TEST_F(SceneExportTest, FilesAreStandardCocoAndVqa) {
  const auto scenes = generator_->generate("test");
  exportScenes(dir_.path(), "test", scenes, generator_->fingerprint());
  const auto coco = data::readCocoCaptions(dir_ / "captions_test.json");
  ASSERT_EQ(coco.images.size(), scenes.size());
  EXPECT_EQ(coco.annotations.size(), 5 * scenes.size());
  EXPECT_EQ(coco.images[0].fileName, std::to_string(scenes[0].id) + ".png");
  EXPECT_EQ(coco.images[0].height, 56);
  EXPECT_TRUE(fs::exists(dir_ / "images" / coco.images[0].fileName));
  const auto vqa = data::readVqa(dir_ / "vqa_test_questions.json", dir_ / "vqa_test_annotations.json");
  ASSERT_EQ(vqa.size(), 5 * scenes.size());
  EXPECT_EQ(vqa[0].answers.size(), 10u);
  EXPECT_EQ(vqa[0].questionType, questionTypeName(scenes[0].questions[0].type));
  EXPECT_EQ(vqa[0].multipleChoiceAnswer, scenes[0].questions[0].multipleChoiceAnswer);
}

TEST_F(SceneExportTest, EditedExportNoLongerMatchesItsRecordedHash) {
  const auto scenes = generator_->generate("val");
  exportScenes(dir_.path(), "val", scenes, generator_->fingerprint());
  const fs::path file = dir_ / "captions_val.json";
  std::stringstream text;
  text << std::ifstream(file).rdbuf();
  std::string s = text.str();
  const auto at = s.find(scenes[0].captions[0]);
  ASSERT_NE(at, std::string::npos);
  s.replace(at, 1, "X");
  std::ofstream(file) << s;
  const ImportedScenes back = importScenes(dir_.path(), "val");
  EXPECT_FALSE(back.contentMatches());
}

TEST_F(SceneExportTest, MissingFilesAreErrorsNamingFileAndPosition) {
  const auto scenes = generator_->generate("val");
  EXPECT_NE(errorOf([&] { importScenes(dir_.path(), "val"); }).find("scenes_val.json"), std::string::npos);
  exportScenes(dir_.path(), "val", scenes, generator_->fingerprint());
  const std::string png = std::to_string(scenes[2].id) + ".png";
  fs::remove(dir_ / "images" / png);
  const std::string missing = errorOf([&] { importScenes(dir_.path(), "val"); });
  EXPECT_NE(missing.find(png), std::string::npos) << missing;
  EXPECT_NE(missing.find("/scenes/2"), std::string::npos) << missing;
  EXPECT_NE(missing.find(std::to_string(scenes[2].id)), std::string::npos) << missing;

  exportScenes(dir_.path(), "val", scenes, generator_->fingerprint());
  fs::remove(dir_ / "vqa_val_annotations.json");
  EXPECT_NE(errorOf([&] { importScenes(dir_.path(), "val"); }).find("vqa_val_annotations.json"), std::string::npos);

  exportScenes(dir_.path(), "val", scenes, generator_->fingerprint());
  std::ofstream(dir_ / "scenes_val.json") << "{\"format\":\"prunelab.fashion_scenes\",\"version\":1,\"split\":\"val\"}";
  const std::string noScenes = errorOf([&] { importScenes(dir_.path(), "val"); });
  EXPECT_NE(noScenes.find("scenes_val.json"), std::string::npos) << noScenes;
  EXPECT_NE(noScenes.find("/generator_fingerprint"), std::string::npos) << noScenes;
  EXPECT_NE(errorOf([&] { importScenes(dir_.path(), "tset"); }).find("did you mean"), std::string::npos);
}

}  // namespace
}  // namespace prunelab::datasets
