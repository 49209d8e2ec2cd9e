#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "experiments/verbs/Verb.h"
#include "framework/config/Composer.h"

namespace prunelab::app {

/// What `prunelab data export` is asked to write.
struct DataExportRequest {
  std::filesystem::path outDir;
  std::vector<std::string> splits = {"train", "val", "test"};  ///< scene splits, each at most once
  std::vector<std::string> overrides;                          ///< as for `prunelab run`
};

/// One split as written by exportScenes.
struct ExportedSplit {
  std::string split;
  std::size_t scenes = 0, captions = 0, questions = 0;
  std::vector<std::filesystem::path> files;  ///< the JSON files; the PNGs are under `imagesDir`
  std::filesystem::path imagesDir;
  std::string contentHash;  ///< sceneContentHash() of the split, as recorded in scenes_<split>.json
};

/// What was written, for the report and for tests.
struct DataExportResult {
  std::string datasetName;           ///< the source's name(): the dataset field of metric keys
  std::string generatorFingerprint;  ///< recorded in every scenes_<split>.json
  std::vector<ExportedSplit> splits;
};

/// Composes and validates the config as `prunelab run` does (prepareJob), builds the dataset it
/// selects, which must be FashionScenes, and writes each requested split under `request.outDir` with
/// exportScenes: generated scene by scene (with a progress line), or, when the dataset reads an
/// import_dir, the imported scenes as they are.
DataExportResult exportDataset(const config::Composer& composer, const DataExportRequest& request,
                               const run::Registries& registries);

/// Adds the `data` subcommand with its `export` subcommand.
Verb addDataExportVerb(CLI::App& app);

}  // namespace prunelab::app
