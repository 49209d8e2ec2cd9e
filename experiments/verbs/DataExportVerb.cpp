#include "experiments/verbs/DataExportVerb.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <set>

#include "datasets/fashion_scenes/FashionScenes.h"
#include "datasets/fashion_scenes/SceneExport.h"
#include "framework/core/Error.h"
#include "framework/core/Log.h"
#include "framework/core/Progress.h"
#include "framework/core/Suggest.h"
#include "framework/run/Job.h"

namespace prunelab::app {

namespace fs = std::filesystem;

namespace {

// The dataset options of the config folder that build a FashionScenes, for the error hint. An option
// file that does not build on its own (it needs overrides) is simply not listed.
std::vector<std::string> fashionScenesOptions(const config::Composer& composer, const run::Registries& registries) {
  std::vector<std::string> out;
  for (const auto& option : composer.groupOptions("dataset")) {
    try {
      const YAML::Node node = YAML::LoadFile((composer.configDir() / "dataset" / (option + ".yaml")).string());
      const auto source = registries.datasets.create(node, "dataset");
      if (dynamic_cast<const datasets::FashionScenes*>(source.get()) != nullptr) out.push_back(option);
    } catch (const std::exception&) {
    }
  }
  return out;
}

std::vector<datasets::Scene> generateSplit(const datasets::SceneGenerator& generator, const std::string& split) {
  const std::int64_t n = generator.splitSize(split);
  std::vector<datasets::Scene> scenes;
  scenes.reserve(static_cast<std::size_t>(n));
  Progress progress("generate " + split + " scenes", n, "scene");
  for (std::int64_t i = 0; i < n; ++i) {
    scenes.push_back(generator.generateScene(split, i));
    progress.advance();
  }
  progress.finish();
  return scenes;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

void printResult(const DataExportResult& result, const fs::path& outDir) {
  fmt::print("exported {} to {}\n", result.datasetName, outDir.string());
  for (const ExportedSplit& s : result.splits) {
    fmt::print("  {}: {} scenes, {} captions, {} questions (content hash {})\n", s.split, s.scenes, s.captions,
               s.questions, s.contentHash);
    for (const auto& file : s.files) fmt::print("    {}\n", file.string());
    fmt::print("    {}/ ({} PNG images)\n", s.imagesDir.string(), s.scenes);
  }
  fmt::print("generator fingerprint {}\n", result.generatorFingerprint);
  if (result.splits.empty()) return;
  const ExportedSplit& last = result.splits.back();
  const std::string dir = outDir.string(), split = last.split;
  fmt::print(
      "score predictions for split '{0}' with:\n"
      "  prunelab score vqa --pred RESULTS.json --questions {1}/vqa_{0}_questions.json "
      "--ann {1}/vqa_{0}_annotations.json --dataset {2} --split {0}\n"
      "  prunelab score caption --pred RESULTS.json --ann {1}/captions_{0}.json --dataset {2} --split {0}\n",
      split, dir, result.datasetName);
}

}  // namespace

DataExportResult exportDataset(const config::Composer& composer, const DataExportRequest& request,
                               const run::Registries& registries) {
  PL_CHECK(!request.outDir.empty(), "--out is empty: name the folder to write the splits to");
  PL_CHECK(!request.splits.empty(), "no split to export: pass --splits train,val,test (or a part of it)");
  std::set<std::string> seen;
  for (const auto& split : request.splits) {
    datasets::SceneGenerator::splitIndex(split);
    PL_CHECK(seen.insert(split).second, "--splits names '{}' twice: list each split once", split);
  }

  const run::Job job = run::prepareJob(composer, request.overrides, registries);
  const YAML::Node spec = job.resolved["dataset"];
  const auto source = registries.datasets.create(spec, "dataset", &job.composition.origins);
  auto* scenes = dynamic_cast<datasets::FashionScenes*>(source.get());
  if (scenes == nullptr) {
    const auto choice = job.composition.choices.find("dataset");
    PL_THROW(
        "`prunelab data export` writes FashionScenes (scenes, captions, VQA questions), but the config's dataset{} "
        "is of type '{}', which has no scenes to export; select a FashionScenes config with dataset=NAME "
        "(FashionScenes configs in {}: {})",
        choice == job.composition.choices.end() ? std::string() : " '" + choice->second + "'",
        registries.datasets.typeOf(spec, "dataset"), (composer.configDir() / "dataset").string(),
        quotedList(fashionScenesOptions(composer, registries)));
  }

  DataExportResult result;
  result.datasetName = source->name();
  // An imported dataset is exported as read (its recorded fingerprint kept); otherwise only the
  // requested splits are generated, scene by scene, without building the training tensors.
  std::unique_ptr<datasets::SceneGenerator> generator;
  if (scenes->options().import_dir.empty()) {
    generator = std::make_unique<datasets::SceneGenerator>(scenes->options());
    generator->load();
    result.generatorFingerprint = generator->fingerprint();
  } else {
    scenes->prepare();
    result.generatorFingerprint = scenes->generatorFingerprint();
  }

  for (const auto& split : request.splits) {
    std::vector<datasets::Scene> generated;
    if (generator) generated = generateSplit(*generator, split);
    const std::vector<datasets::Scene>& list = generator ? generated : scenes->scenes(split);
    // exportScenes has no progress hook, and writing the PNGs is most of the time; say what is under way.
    logInfo("writing the {} {} scenes to {}", list.size(), split, request.outDir.string());
    datasets::exportScenes(request.outDir, split, list, result.generatorFingerprint);

    ExportedSplit s;
    s.split = split;
    s.scenes = list.size();
    for (const auto& scene : list) {
      s.captions += scene.captions.size();
      s.questions += scene.questions.size();
    }
    // The names SceneExport.h documents; checked, so a renamed file fails here rather than in a user's script.
    s.files = {request.outDir / ("captions_" + split + ".json"), request.outDir / ("vqa_" + split + "_questions.json"),
               request.outDir / ("vqa_" + split + "_annotations.json"), request.outDir / ("scenes_" + split + ".json")};
    for (const auto& file : s.files)
      PL_CHECK(fs::exists(file), "exportScenes did not write '{}': update DataExportVerb to SceneExport's file names",
               file.string());
    s.imagesDir = request.outDir / "images";
    s.contentHash = datasets::sceneContentHash(list);
    result.splits.push_back(std::move(s));
  }
  return result;
}

Verb addDataExportVerb(CLI::App& app) {
  auto request = std::make_shared<DataExportRequest>();
  auto splits = std::make_shared<std::string>("train,val,test");
  auto* cmd = app.add_subcommand("data", "dataset utilities");
  cmd->require_subcommand(1);
  auto* exportCmd = cmd->add_subcommand(
      "export",
      "write FashionScenes splits in standard formats (COCO captions, VQAv2, PNG images) plus the scene "
      "metadata, composed from the config as `prunelab run` does");
  exportCmd->add_option("--out", request->outDir, "folder to write into (created as needed)")->required();
  exportCmd->add_option("--splits", *splits, "comma-separated scene splits: train, val, test")->capture_default_str();
  exportCmd->add_option("overrides", request->overrides,
                        "config overrides, as for run (e.g. dataset=fashion_scenes_tiny dataset.seed=1)");
  exportCmd->footer(
      "Example: prunelab data export dataset=fashion_scenes_tiny --out exports/tiny --splits test\n"
      "The files are read back by dataset.import_dir=DIR and scored with `prunelab score`.");
  return {cmd, [request, splits](const CliGlobals& globals) {
            PL_CHECK(globals.registries != nullptr, "data export: the plugin registries are not set");
            request->splits = splitList(*splits);
            const config::Composer composer(globals.confDir());
            const DataExportResult result = exportDataset(composer, *request, *globals.registries);
            printResult(result, request->outDir);
            return 0;
          }};
}

}  // namespace prunelab::app
