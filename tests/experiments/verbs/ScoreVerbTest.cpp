#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "datasets/fashion_scenes/FashionScenes.h"
#include "datasets/fashion_scenes/SceneExport.h"
#include "evaluators/metrics/CaptionScorer.h"
#include "evaluators/metrics/EvaluatorVersions.h"
#include "evaluators/metrics/VqaEval.h"
#include "experiments/App.h"
#include "framework/core/Options.h"
#include "framework/data/StandardFormats.h"
#include "tests/support/Assertions.h"
#include "tests/support/Fixtures.h"

namespace prunelab::app {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct CliResult {
  int exitCode = -1;
  std::string out;  ///< stdout only (what --json consumers parse)
  std::string err;
  std::string all() const { return out + err; }
};

// `prunelab ARGS` in this process through runCli, stdout and stderr captured separately.
CliResult runCliCaptured(std::vector<std::string> args) {
  args.insert(args.begin(), {"prunelab", "--config-dir", testing::repoConfigDir().string()});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CliResult r;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  r.exitCode = runCli(static_cast<int>(argv.size()), argv.data());
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  r.out = ::testing::internal::GetCapturedStdout();
  r.err = ::testing::internal::GetCapturedStderr();
  return r;
}

// The tiny FashionScenes exactly as the config folder defines it, generated in memory.
datasets::SceneGenerator tinyGenerator() {
  const auto node = YAML::LoadFile((testing::repoConfigDir() / "dataset" / "fashion_scenes_tiny.yaml").string());
  datasets::SceneGenerator generator(parseOptions<datasets::FashionScenes::Options>(node, "dataset"));
  generator.load();
  return generator;
}

// A deterministic mix per question: right, a synonym (or a spacing variant), wrong, and a minority
// human answer when there is one (partial credit).
std::string vqaAnswerFor(const datasets::SceneQuestion& q, std::size_t i) {
  const std::string& canonical = q.multipleChoiceAnswer;
  switch (i % 4) {
    case 0:
      return canonical;
    case 1: {
      const auto variants = datasets::SceneGenerator::answerVariants(canonical);
      return variants.size() > 1 ? variants[1] : " " + canonical + "\t";
    }
    case 2:
      if (q.answerType == "yes/no") return canonical == "yes" ? "no" : "yes";
      return q.answerType == "number" ? "17" : "banana";
    default:
      for (const auto& a : q.answers)
        if (a != canonical) return a;
      return "Not " + canonical;
  }
}

// Right, partly right (words dropped and one changed), another scene's caption.
std::string captionFor(const std::vector<datasets::Scene>& scenes, std::size_t k) {
  const auto& s = scenes[k];
  switch (k % 3) {
    case 0:
      return s.captions[0];
    case 1: {
      std::string text = s.captions[1];
      const auto cut = text.rfind(' ');
      return (cut == std::string::npos ? text : text.substr(0, cut)) + " thing";
    }
    default:
      return scenes[(k + 7) % scenes.size()].captions[2];
  }
}

class ScoreVerbTest : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& text) {
    const auto p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  // Two VQAv2 questions (ids 11, 12) and two captioned images (ids 1, 2), hand-made.
  void writeSmallAnnotations() {
    std::vector<data::VqaQuestion> q(2);
    q[0] = {11, 1, "is there a bag?", "exists", "yes/no", "yes", std::vector<std::string>(10, "yes")};
    q[1] = {12, 2, "how many shoes?", "count", "number", "2", std::vector<std::string>(10, "2")};
    data::writeVqa(dir_ / "q.json", dir_ / "a.json", q);
    data::CocoCaptions c;
    c.images = {{1, "1.png", 56, 56}, {2, "2.png", 56, 56}};
    c.annotations = {{10, 1, "a bag on the left"}, {20, 2, "two shoes at the top"}};
    data::writeCocoCaptions(dir_ / "c.json", c);
  }
  std::vector<std::string> vqaArgs(const fs::path& pred) {
    return {"score",       "vqa",
            "--pred",      pred.string(),
            "--questions", (dir_ / "q.json").string(),
            "--ann",       (dir_ / "a.json").string()};
  }
  testing::TempDir dir_;
};

TEST_F(ScoreVerbTest, ScoringExportedFashionScenesFilesMatchesTheInProcessEvaluation) {
  if (!testing::haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const fs::path out = dir_ / "export";
  const auto exported =
      runCliCaptured({"data", "export", "dataset=fashion_scenes_tiny", "--out", out.string(), "--splits", "test"});
  ASSERT_EQ(exported.exitCode, 0) << exported.all();
  EXPECT_CONTAINS(exported.out, "test: 50 scenes");
  EXPECT_FALSE(fs::exists(out / "scenes_train.json")) << "only --splits test was asked for";

  // The in-process side: the generator's Scene structs, never the files.
  const auto generator = tinyGenerator();
  const std::vector<datasets::Scene> scenes = generator.generate("test");
  ASSERT_EQ(scenes.size(), 50u);
  EXPECT_CONTAINS(exported.out, generator.fingerprint());

  // VQA.
  Json vqaPred = Json::array();
  evaluators::VqaAccuracyAggregator aggregator;
  std::size_t i = 0;
  for (const auto& scene : scenes) {
    for (const auto& q : scene.questions) {
      const std::string answer = vqaAnswerFor(q, i++);
      vqaPred.push_back({{"question_id", q.id}, {"answer", answer}});
      aggregator.add({q.id, answer, q.answers, q.answerType, datasets::questionTypeName(q.type)});
    }
  }
  const evaluators::VqaAccuracy direct = aggregator.result();
  ASSERT_GT(direct.overall, 0.0);
  ASSERT_LT(direct.overall, 100.0) << "the predictions must not all be right";
  std::map<std::string, double> expectedVqa = {{"vqa/fashion_scenes/test/acc", direct.overall}};
  for (const auto& [type, value] : direct.perAnswerType) {
    std::string key = type;
    for (char& c : key)
      if (c == '/' || c == ' ') c = '_';
    expectedVqa["vqa/fashion_scenes/test/acc_" + key] = value;
  }
  ASSERT_EQ(expectedVqa.size(), 4u) << "yes/no, number and other all occur in the test split";
  const fs::path vqaFile = write("vqa_results.json", vqaPred.dump());
  const auto vqa = runCliCaptured(
      {"score", "vqa", "--pred", vqaFile.string(), "--questions", (out / "vqa_test_questions.json").string(), "--ann",
       (out / "vqa_test_annotations.json").string(), "--dataset", "fashion_scenes", "--split", "test", "--json"});
  ASSERT_EQ(vqa.exitCode, 0) << vqa.all();
  const Json v = Json::parse(vqa.out);
  ASSERT_EQ(v["metrics"].size(), expectedVqa.size()) << v.dump(2);
  for (const auto& [key, value] : expectedVqa) {
    ASSERT_TRUE(v["metrics"].contains(key)) << key << "\n" << v.dump(2);
    EXPECT_DOUBLE_EQ(v["metrics"][key].get<double>(), value) << key;
  }
  EXPECT_EQ(v["version"], evaluators::kVqaEvaluatorVersion);
  EXPECT_EQ(v["complete"], true);
  EXPECT_EQ(v["num_scored"], vqaPred.size());
  EXPECT_TRUE(v["missing_ids"].empty());
  EXPECT_TRUE(v["unknown_ids"].empty());

  // Captions.
  Json capPred = Json::array();
  std::map<std::string, std::string> predictions;
  std::map<std::string, std::vector<std::string>> references;
  for (std::size_t k = 0; k < scenes.size(); ++k) {
    const std::string caption = captionFor(scenes, k);
    capPred.push_back({{"image_id", scenes[k].id}, {"caption", caption}});
    predictions[std::to_string(scenes[k].id)] = caption;
    references[std::to_string(scenes[k].id)] = scenes[k].captions;
  }
  const evaluators::CaptionScores scores = evaluators::CaptionScorer().score(predictions, references);
  ASSERT_GT(scores.cider, 0.0);
  ASSERT_LT(scores.bleu[3], 1.0) << "the captions must not all be right";
  std::map<std::string, double> expectedCap = {{"cap/fashion_scenes/test/CIDEr", scores.cider},
                                               {"cap/fashion_scenes/test/ROUGE_L", scores.rougeL}};
  for (std::size_t n = 0; n < scores.bleu.size(); ++n)
    expectedCap["cap/fashion_scenes/test/Bleu_" + std::to_string(n + 1)] = scores.bleu[n];
  const fs::path capFile = write("caption_results.json", capPred.dump());
  const auto cap =
      runCliCaptured({"score", "caption", "--pred", capFile.string(), "--ann", (out / "captions_test.json").string(),
                      "--dataset", "fashion_scenes", "--split", "test", "--json"});
  ASSERT_EQ(cap.exitCode, 0) << cap.all();
  const Json c = Json::parse(cap.out);
  ASSERT_EQ(c["metrics"].size(), expectedCap.size()) << c.dump(2);
  for (const auto& [key, value] : expectedCap) {
    ASSERT_TRUE(c["metrics"].contains(key)) << key << "\n" << c.dump(2);
    EXPECT_DOUBLE_EQ(c["metrics"][key].get<double>(), value) << key;
  }
  EXPECT_EQ(c["version"], evaluators::kCaptionEvaluatorVersion);
  EXPECT_EQ(c["complete"], true);
  EXPECT_EQ(c["num_scored"], scenes.size());

  // Without --json: the summary, same numbers.
  const auto summary = runCliCaptured(
      {"score", "vqa", "--pred", vqaFile.string(), "--questions", (out / "vqa_test_questions.json").string(), "--ann",
       (out / "vqa_test_annotations.json").string(), "--dataset", "fashion_scenes", "--split", "test"});
  ASSERT_EQ(summary.exitCode, 0) << summary.all();
  EXPECT_CONTAINS(summary.out, fmt::format("scored {} prediction(s), complete", vqaPred.size()));
  EXPECT_CONTAINS(summary.out, fmt::format("vqa/fashion_scenes/test/acc = {}\n", direct.overall));
}

TEST_F(ScoreVerbTest, UnknownPredictionIdsAreNamedOrListedWithAllowUnknown) {
  writeSmallAnnotations();
  const auto pred = write("p.json", R"([{"question_id": 11, "answer": "yes"}, {"question_id": 99, "answer": "no"},
                                        {"question_id": 12, "answer": "two"}, {"question_id": 98, "answer": "x"}])");
  const auto refused = runCliCaptured(vqaArgs(pred));
  EXPECT_NE(refused.exitCode, 0);
  EXPECT_CONTAINS(refused.all(), "98, 99");
  EXPECT_CONTAINS(refused.all(), pred.string());
  EXPECT_TRUE(refused.out.empty()) << "no score may be printed: " << refused.out;

  auto args = vqaArgs(pred);
  args.insert(args.end(), {"--allow-unknown", "--json"});
  const auto allowed = runCliCaptured(args);
  ASSERT_EQ(allowed.exitCode, 0) << allowed.all();
  const Json j = Json::parse(allowed.out);
  EXPECT_EQ(j["unknown_ids"], Json::parse("[98, 99]"));
  EXPECT_EQ(j["complete"], false);
  EXPECT_EQ(j["num_scored"], 2);
  // "yes" is right; "two" is normalised to "2" only when the human answers differ, so it scores 0 here.
  EXPECT_DOUBLE_EQ(j["metrics"]["vqa/vqav2/val/acc"].get<double>(), 50.0);

  auto text = vqaArgs(pred);
  text.push_back("--allow-unknown");
  const auto summary = runCliCaptured(text);
  ASSERT_EQ(summary.exitCode, 0) << summary.all();
  EXPECT_CONTAINS(summary.out, "PARTIAL");
  EXPECT_CONTAINS(summary.out, "2 prediction(s) for unknown ids, not scored: 98, 99");

  // Captions: the same rule, and a missing image needs --allow-subset.
  const auto capPred = write("cp.json", R"([{"image_id": 1, "caption": "a bag on the left"},
                                            {"image_id": 7, "caption": "a shoe"}])");
  const std::vector<std::string> capArgs = {"score",          "caption", "--pred",
                                            capPred.string(), "--ann",   (dir_ / "c.json").string()};
  const auto capRefused = runCliCaptured(capArgs);
  EXPECT_NE(capRefused.exitCode, 0);
  EXPECT_CONTAINS(capRefused.all(), "image ids not in");
  EXPECT_CONTAINS(capRefused.all(), ": 7;");
  auto capAllowed = capArgs;
  capAllowed.insert(capAllowed.end(), {"--allow-unknown", "--allow-subset", "--json", "--split", "val"});
  const auto ok = runCliCaptured(capAllowed);
  ASSERT_EQ(ok.exitCode, 0) << ok.all();
  const Json c = Json::parse(ok.out);
  EXPECT_EQ(c["unknown_ids"], Json::parse("[7]"));
  EXPECT_EQ(c["missing_ids"], Json::parse("[2]"));
  EXPECT_EQ(c["complete"], false);
  EXPECT_TRUE(c["metrics"].contains("cap/coco/val/CIDEr")) << c.dump(2);
}

TEST_F(ScoreVerbTest, MalformedPredictionJsonNamesTheFileAndThePosition) {
  writeSmallAnnotations();
  // The second comma is byte 39.
  const auto broken = write("broken.json", R"([{"question_id": 11, "answer": "yes"},, ])");
  const auto r = runCliCaptured(vqaArgs(broken));
  EXPECT_NE(r.exitCode, 0);
  EXPECT_CONTAINS(r.all(), "'" + broken.string() + "' is not valid JSON: byte 39");

  const auto noAnswer = write("noanswer.json", R"([{"question_id": 11, "answer": "yes"}, {"question_id": 12}])");
  const auto m = runCliCaptured(vqaArgs(noAnswer));
  EXPECT_NE(m.exitCode, 0);
  EXPECT_CONTAINS(m.all(), noAnswer.string());
  EXPECT_CONTAINS(m.all(), "/1");
  EXPECT_CONTAINS(m.all(), "answer");

  const auto missing = runCliCaptured(vqaArgs(dir_ / "nope.json"));
  EXPECT_NE(missing.exitCode, 0);
  EXPECT_CONTAINS(missing.all(), (dir_ / "nope.json").string());
}

TEST_F(ScoreVerbTest, ScoreNeedsATaskAndDocumentsItsOptions) {
  const auto none = runCliCaptured({"score"});
  EXPECT_NE(none.exitCode, 0);
  const auto help = runCliCaptured({"score", "vqa", "--help"});
  EXPECT_EQ(help.exitCode, 0) << help.all();
  for (const char* option : {"--pred", "--questions", "--ann", "--allow-unknown", "--json", "--dataset", "--split"})
    EXPECT_CONTAINS(help.out, option);
  const auto capHelp = runCliCaptured({"score", "caption", "--help"});
  EXPECT_EQ(capHelp.exitCode, 0) << capHelp.all();
  EXPECT_CONTAINS(capHelp.out, "--allow-subset");
  const auto missingAnn = runCliCaptured({"score", "vqa", "--pred", "p.json", "--questions", "q.json"});
  EXPECT_NE(missingAnn.exitCode, 0);
  EXPECT_CONTAINS(missingAnn.all(), "--ann");
}

TEST_F(ScoreVerbTest, ExportOfADatasetWithoutScenesIsAClearError) {
  const fs::path out = dir_ / "export";
  const auto r = runCliCaptured({"data", "export", "dataset=fashion_mnist_tiny", "--out", out.string()});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_CONTAINS(r.all(), "dataset 'fashion_mnist_tiny' is of type 'fashion_mnist'");
  EXPECT_CONTAINS(r.all(), "writes FashionScenes");
  EXPECT_CONTAINS(r.all(), "'fashion_scenes_tiny'");  // the fix: a config that builds FashionScenes
  EXPECT_FALSE(fs::exists(out));

  // Config errors are those of `prunelab run`, before anything is generated.
  const auto typo =
      runCliCaptured({"data", "export", "dataset=fashion_scenes_tiny", "dataset.nm_test=5", "--out", out.string()});
  EXPECT_NE(typo.exitCode, 0);
  EXPECT_CONTAINS(typo.all(), "dataset.nm_test");
  EXPECT_CONTAINS(typo.all(), "dataset.num_test");
  const auto split =
      runCliCaptured({"data", "export", "dataset=fashion_scenes_tiny", "--out", out.string(), "--splits", "test,tset"});
  EXPECT_NE(split.exitCode, 0);
  EXPECT_CONTAINS(split.all(), "tset");
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(ScoreVerbTest, ExportImportRoundTripReproducesFingerprintAndContent) {
  if (!testing::haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const fs::path out = dir_ / "export";
  const auto r = runCliCaptured({"data", "export", "dataset=fashion_scenes_tiny", "--out", out.string()});
  ASSERT_EQ(r.exitCode, 0) << r.all();
  const auto generator = tinyGenerator();
  for (const char* split : {"train", "val", "test"}) {
    const auto generated = generator.generate(split);
    const auto imported = datasets::importScenes(out, split);
    EXPECT_EQ(imported.generatorFingerprint, generator.fingerprint()) << split;
    EXPECT_TRUE(imported.contentMatches()) << split;
    const std::string hash = datasets::sceneContentHash(generated);
    EXPECT_EQ(datasets::sceneContentHash(imported.scenes), hash) << split;
    EXPECT_CONTAINS(r.out, fmt::format("{}: {} scenes", split, generated.size()));
    EXPECT_CONTAINS(r.out, hash);
  }

  // The dataset read back from the export is the generated one (same FashionScenes fingerprint).
  const auto node = YAML::LoadFile((testing::repoConfigDir() / "dataset" / "fashion_scenes_tiny.yaml").string());
  auto options = parseOptions<datasets::FashionScenes::Options>(node, "dataset");
  datasets::FashionScenes generated(options);
  generated.prepare();
  options.import_dir = out.string();
  datasets::FashionScenes imported(options);
  imported.prepare();
  EXPECT_EQ(imported.fingerprint(), generated.fingerprint());

  // Re-exporting an import keeps the recorded fingerprint and the content.
  const fs::path again = dir_ / "again";
  const auto re = runCliCaptured({"data", "export", "dataset=fashion_scenes_tiny",
                                  "+dataset.import_dir=" + out.string(), "--out", again.string(), "--splits", "test"});
  ASSERT_EQ(re.exitCode, 0) << re.all();
  const auto reimported = datasets::importScenes(again, "test");
  EXPECT_EQ(reimported.generatorFingerprint, generator.fingerprint());
  EXPECT_EQ(datasets::sceneContentHash(reimported.scenes), datasets::sceneContentHash(generator.generate("test")));
}

}  // namespace
}  // namespace prunelab::app
