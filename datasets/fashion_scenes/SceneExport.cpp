#include "datasets/fashion_scenes/SceneExport.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "framework/core/Error.h"
#include "framework/data/StandardFormats.h"

namespace prunelab::datasets {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "prunelab.fashion_scenes";
constexpr int kFormatVersion = 1;
constexpr std::int64_t kCaptionIdsPerScene = 10;

fs::path scenesFile(const fs::path& dir, const std::string& split) { return dir / ("scenes_" + split + ".json"); }
fs::path captionsFile(const fs::path& dir, const std::string& split) { return dir / ("captions_" + split + ".json"); }
fs::path questionsFile(const fs::path& dir, const std::string& split) {
  return dir / ("vqa_" + split + "_questions.json");
}
fs::path annotationsFile(const fs::path& dir, const std::string& split) {
  return dir / ("vqa_" + split + "_annotations.json");
}
std::string imageName(std::int64_t id) { return std::to_string(id) + ".png"; }

void writeTextAtomically(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    PL_CHECK(out, "cannot write '{}'; check that the folder is writable", tmp.string());
    out << text;
    PL_CHECK(out.good(), "writing '{}' failed (disk full?)", tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  PL_CHECK(!ec, "cannot rename '{}' to '{}': {}", tmp.string(), file.string(), ec.message());
}

// Reads the sidecar; every structural error names the file and the JSON pointer.
class Sidecar {
 public:
  explicit Sidecar(fs::path file) : file_(std::move(file)) {
    std::ifstream in(file_, std::ios::binary);
    PL_CHECK(in,
             "fashion_scenes import: '{}' not found; export the split with exportScenes() first (it writes the "
             "scene metadata next to the COCO/VQA files)",
             file_.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    try {
      json_ = nlohmann::json::parse(ss.str());
    } catch (const nlohmann::json::exception& e) {
      PL_THROW("'{}' is not valid JSON: {}", file_.string(), e.what());
    }
  }
  const nlohmann::json& at(const nlohmann::json& node, const std::string& key, const std::string& pointer) const {
    if (!node.is_object() || !node.contains(key)) fail(pointer + "/" + key, "missing");
    return node[key];
  }
  std::int64_t integer(const nlohmann::json& node, const std::string& key, const std::string& pointer) const {
    const auto& v = at(node, key, pointer);
    if (!v.is_number_integer()) fail(pointer + "/" + key, "expected an integer, got " + v.dump());
    return v.get<std::int64_t>();
  }
  std::string string(const nlohmann::json& node, const std::string& key, const std::string& pointer) const {
    const auto& v = at(node, key, pointer);
    if (!v.is_string()) fail(pointer + "/" + key, "expected a string, got " + v.dump());
    return v.get<std::string>();
  }
  const nlohmann::json& array(const nlohmann::json& node, const std::string& key, const std::string& pointer) const {
    const auto& v = at(node, key, pointer);
    if (!v.is_array()) fail(pointer + "/" + key, "expected a list");
    return v;
  }
  [[noreturn]] void fail(const std::string& pointer, const std::string& what) const {
    PL_THROW("'{}' at {}: {}", file_.string(), pointer.empty() ? "/" : pointer, what);
  }
  const nlohmann::json& root() const { return json_; }

 private:
  fs::path file_;
  nlohmann::json json_;
};

}  // namespace

data::CocoCaptions sceneCocoCaptions(const std::vector<Scene>& scenes) {
  data::CocoCaptions coco;
  for (const Scene& s : scenes) {
    PL_CHECK(s.captions.size() <= static_cast<std::size_t>(kCaptionIdsPerScene),
             "fashion_scenes: scene {} has {} captions; at most {} fit the caption id scheme", s.id, s.captions.size(),
             kCaptionIdsPerScene);
    coco.images.push_back({s.id, imageName(s.id), s.height, s.width});
    for (std::size_t k = 0; k < s.captions.size(); ++k)
      coco.annotations.push_back({s.id * kCaptionIdsPerScene + static_cast<std::int64_t>(k), s.id, s.captions[k]});
  }
  return coco;
}

std::vector<data::VqaQuestion> sceneVqaQuestions(const std::vector<Scene>& scenes) {
  std::vector<data::VqaQuestion> out;
  for (const Scene& s : scenes) {
    for (const SceneQuestion& q : s.questions) {
      data::VqaQuestion v;
      v.questionId = q.id;
      v.imageId = s.id;
      v.question = q.question;
      v.questionType = questionTypeName(q.type);
      v.answerType = q.answerType;
      v.multipleChoiceAnswer = q.multipleChoiceAnswer;
      v.answers = q.answers;
      out.push_back(std::move(v));
    }
  }
  return out;
}

void exportScenes(const fs::path& dir, const std::string& split, const std::vector<Scene>& scenes,
                  const std::string& generatorFingerprint) {
  SceneGenerator::splitIndex(split);
  // Built first: a scene that does not fit the standard formats fails before any file is written.
  const data::CocoCaptions coco = sceneCocoCaptions(scenes);
  const std::vector<data::VqaQuestion> vqa = sceneVqaQuestions(scenes);
  fs::create_directories(dir / "images");

  nlohmann::ordered_json sidecar;
  sidecar["format"] = kFormat;
  sidecar["version"] = kFormatVersion;
  sidecar["split"] = split;
  sidecar["generator_fingerprint"] = generatorFingerprint;
  sidecar["content_hash"] = sceneContentHash(scenes);
  sidecar["scenes"] = nlohmann::ordered_json::array();
  for (const Scene& s : scenes) {
    PL_CHECK(s.split == split, "exportScenes('{}'): scene {} belongs to split '{}'", split, s.id, s.split);
    PL_CHECK(s.pixels.size() == static_cast<std::size_t>(s.height) * static_cast<std::size_t>(s.width),
             "exportScenes: scene {} has {} pixels for a {}x{} image", s.id, s.pixels.size(), s.height, s.width);
    const fs::path png = dir / "images" / imageName(s.id);
    PL_CHECK(stbi_write_png(png.c_str(), s.width, s.height, 1, s.pixels.data(), s.width) != 0,
             "cannot write PNG '{}'; check that the folder is writable and has space", png.string());

    nlohmann::ordered_json cells = nlohmann::ordered_json::array();
    for (const SceneCell& c : s.cells) {
      if (c.empty()) {
        cells.push_back({{"label", -1}});
      } else {
        cells.push_back({{"label", c.label},
                         {"class", SceneGenerator::classNames()[static_cast<std::size_t>(c.label)]},
                         {"shade", shadeName(c.shade)},
                         {"size", sizeName(c.size)},
                         {"source", c.source}});
      }
    }
    sidecar["scenes"].push_back({{"id", s.id},
                                 {"file_name", imageName(s.id)},
                                 {"grid", s.grid},
                                 {"height", s.height},
                                 {"width", s.width},
                                 {"caption_templates", s.captionTemplates},
                                 {"cells", std::move(cells)}});
  }
  data::writeCocoCaptions(captionsFile(dir, split), coco);
  data::writeVqa(questionsFile(dir, split), annotationsFile(dir, split), vqa);
  writeTextAtomically(scenesFile(dir, split), sidecar.dump(1));
}

ImportedScenes importScenes(const fs::path& dir, const std::string& split) {
  SceneGenerator::splitIndex(split);
  const Sidecar side(scenesFile(dir, split));
  const auto& root = side.root();
  if (side.string(root, "format", "") != kFormat)
    side.fail("/format", fmt::format("expected \"{}\" (a file written by prunelab's SceneExport)", kFormat));
  if (side.integer(root, "version", "") != kFormatVersion)
    side.fail("/version", fmt::format("unsupported version; this build reads version {}", kFormatVersion));
  if (side.string(root, "split", "") != split)
    side.fail("/split", fmt::format("holds split '{}', expected '{}'", side.string(root, "split", ""), split));

  ImportedScenes out;
  out.generatorFingerprint = side.string(root, "generator_fingerprint", "");
  out.recordedContentHash = side.string(root, "content_hash", "");
  std::map<std::int64_t, std::size_t> indexOf;
  const auto& list = side.array(root, "scenes", "");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string p = "/scenes/" + std::to_string(i);
    const auto& node = list[i];
    Scene s;
    s.id = side.integer(node, "id", p);
    s.split = split;
    s.grid = static_cast<int>(side.integer(node, "grid", p));
    s.height = static_cast<int>(side.integer(node, "height", p));
    s.width = static_cast<int>(side.integer(node, "width", p));
    if (!indexOf.emplace(s.id, i).second) side.fail(p + "/id", fmt::format("scene id {} appears twice", s.id));
    for (const auto& t : side.array(node, "caption_templates", p)) {
      if (!t.is_number_integer()) side.fail(p + "/caption_templates", "expected integers");
      s.captionTemplates.push_back(t.get<int>());
    }
    const auto& cells = side.array(node, "cells", p);
    if (static_cast<int>(cells.size()) != s.grid * s.grid)
      side.fail(p + "/cells", fmt::format("{} cells for a {}x{} grid", cells.size(), s.grid, s.grid));
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string cp = p + "/cells/" + std::to_string(c);
      SceneCell cell;
      cell.label = static_cast<int>(side.integer(cells[c], "label", cp));
      if (cell.label < -1 || cell.label >= kSceneClasses)
        side.fail(cp + "/label", fmt::format("class {} outside [-1, {})", cell.label, kSceneClasses));
      if (!cell.empty()) {
        const std::string shade = side.string(cells[c], "shade", cp), size = side.string(cells[c], "size", cp);
        if (shade != "light" && shade != "dark") side.fail(cp + "/shade", "expected \"light\" or \"dark\"");
        if (size != "large" && size != "small") side.fail(cp + "/size", "expected \"large\" or \"small\"");
        cell.shade = shade == "dark" ? Shade::Dark : Shade::Light;
        cell.size = size == "small" ? ItemSize::Small : ItemSize::Large;
        cell.source = side.integer(cells[c], "source", cp);
      }
      s.cells.push_back(cell);
    }

    const std::string fileName = side.string(node, "file_name", p);
    const fs::path png = dir / "images" / fileName;
    PL_CHECK(fs::exists(png), "fashion_scenes import: image '{}' of scene {} ({} in '{}') not found", png.string(),
             s.id, p, scenesFile(dir, split).string());
    int w = 0, h = 0, channels = 0;
    std::uint8_t* data = stbi_load(png.c_str(), &w, &h, &channels, 1);
    PL_CHECK(data != nullptr, "cannot read PNG '{}' of scene {}: {}", png.string(), s.id,
             stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
    s.pixels.assign(data, data + static_cast<std::size_t>(w) * static_cast<std::size_t>(h));
    stbi_image_free(data);
    PL_CHECK(w == s.width && h == s.height, "PNG '{}' is {}x{}, but scene {} ({} in '{}') says {}x{}", png.string(), w,
             h, s.id, p, scenesFile(dir, split).string(), s.width, s.height);
    out.scenes.push_back(std::move(s));
  }

  const fs::path capFile = captionsFile(dir, split);
  const data::CocoCaptions coco = data::readCocoCaptions(capFile);
  for (std::size_t i = 0; i < coco.images.size(); ++i)
    PL_CHECK(indexOf.count(coco.images[i].id), "'{}' at /images/{}: image id {} has no scene in '{}'", capFile.string(),
             i, coco.images[i].id, scenesFile(dir, split).string());
  for (const data::CocoCaption& c : coco.annotations) {
    const auto it = indexOf.find(c.imageId);
    PL_CHECK(it != indexOf.end(), "'{}': caption {} refers to image {}, which has no scene in '{}'", capFile.string(),
             c.id, c.imageId, scenesFile(dir, split).string());
    out.scenes[it->second].captions.push_back(c.caption);
  }

  const auto vqa = data::readVqa(questionsFile(dir, split), annotationsFile(dir, split));
  for (std::size_t i = 0; i < vqa.size(); ++i) {
    const data::VqaQuestion& v = vqa[i];
    const auto it = indexOf.find(v.imageId);
    PL_CHECK(it != indexOf.end(), "'{}' at /questions/{}: question {} refers to image {}, which has no scene in '{}'",
             questionsFile(dir, split).string(), i, v.questionId, v.imageId, scenesFile(dir, split).string());
    SceneQuestion q;
    q.id = v.questionId;
    try {
      q.type = parseQuestionType(v.questionType);
    } catch (const Error& e) {
      PL_THROW("'{}', question {}: {}", annotationsFile(dir, split).string(), v.questionId, e.what());
    }
    q.question = v.question;
    q.answers = v.answers;
    q.answerType = v.answerType;
    q.multipleChoiceAnswer = v.multipleChoiceAnswer;
    out.scenes[it->second].questions.push_back(std::move(q));
  }
  return out;
}

}  // namespace prunelab::datasets
