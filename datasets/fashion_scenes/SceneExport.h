#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "datasets/fashion_scenes/SceneGenerator.h"
#include "framework/data/StandardFormats.h"

namespace prunelab::datasets {

/// FashionScenes in the standard formats. One split in folder `dir`:
///   images/<scene id>.png                 8-bit grayscale PNG (lossless, so pixels round-trip exactly)
///   captions_<split>.json                 COCO captions (annotation id = scene id * 10 + k)
///   vqa_<split>_questions.json            VQAv2 questions
///   vqa_<split>_annotations.json          VQAv2 annotations (question_type = the FashionScenes type)
///   scenes_<split>.json                   what the standard formats cannot hold: the grid, the cells
///                                         (class, shade, size, source index), caption template ids,
///                                         the generator fingerprint and the content hash
/// The COCO/VQA files are read and written by framework/data/StandardFormats, the same code that
/// reads real COCO and VQAv2 files.
struct ImportedScenes {
  std::vector<Scene> scenes;
  std::string generatorFingerprint;  ///< as recorded at export
  std::string recordedContentHash;   ///< sceneContentHash() of the exported scenes
  /// True when the scenes read back hash to `recordedContentHash` (nothing was edited or lost).
  bool contentMatches() const { return sceneContentHash(scenes) == recordedContentHash; }
};

/// The captions of `scenes` in COCO form, as captions_<split>.json holds them: images in scene order
/// (id = scene id, file_name "<scene id>.png"), annotation id = scene id * 10 + caption number.
data::CocoCaptions sceneCocoCaptions(const std::vector<Scene>& scenes);
/// The questions of `scenes` in VQAv2 form (question_type = the FashionScenes type name), scene by
/// scene, as vqa_<split>_questions.json / _annotations.json hold them.
std::vector<data::VqaQuestion> sceneVqaQuestions(const std::vector<Scene>& scenes);

/// Writes `scenes` (all of one split) under `dir`, creating folders as needed.
void exportScenes(const std::filesystem::path& dir, const std::string& split, const std::vector<Scene>& scenes,
                  const std::string& generatorFingerprint);

/// Reads a split written by exportScenes. Missing or inconsistent files are errors naming the file
/// and the position (JSON pointer or scene id) at fault.
ImportedScenes importScenes(const std::filesystem::path& dir, const std::string& split);

}  // namespace prunelab::datasets
