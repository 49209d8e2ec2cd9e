#include "framework/data/StandardFormats.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <utility>

#include "framework/core/Error.h"

namespace prunelab::data {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
// Written files keep the reference layout's key order (id first, images before annotations).
using OrderedJson = nlohmann::ordered_json;

constexpr std::size_t kIdsInMessage = 5;

// "1, 2, 3 and 7 more" for error messages.
std::string someIds(const std::vector<std::int64_t>& ids) {
  std::string text;
  for (std::size_t i = 0; i < ids.size() && i < kIdsInMessage; ++i) {
    text += (i == 0 ? "" : ", ") + std::to_string(ids[i]);
  }
  if (ids.size() > kIdsInMessage) {
    text += fmt::format(" and {} more", ids.size() - kIdsInMessage);
  }
  return text;
}

std::string fileText(const fs::path& file) {
  std::error_code ec;
  const fs::file_status status = fs::status(file, ec);
  PL_CHECK(fs::exists(status), "cannot read '{}': no such file; check the path", file.string());
  PL_CHECK(!fs::is_directory(status), "cannot read '{}': it is a directory; pass the JSON file inside it",
           file.string());
  std::ifstream in(file, std::ios::binary);
  PL_CHECK(in.is_open(), "cannot open '{}' ({}); check its permissions", file.string(), std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  PL_CHECK(!in.bad(), "reading '{}' failed; check the file and the disk", file.string());
  return text;
}

Json parseFile(const fs::path& file) {
  const std::string text = fileText(file);
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    std::string detail = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; the rest names line, column and the cause.
    if (const std::size_t close = detail.find("] ");
        !detail.empty() && detail[0] == '[' && close != std::string::npos) {
      detail.erase(0, close + 2);
    }
    PL_THROW("'{}' is not valid JSON: byte {}: {}; fix or re-export the file", file.string(), e.byte, detail);
  }
}

// RFC 6901 escaping of one reference token.
std::string escapePointerToken(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string article(const Json& value) {
  const std::string type = value.type_name();
  return (type == "array" || type == "object") ? "an " + type : "a " + type;
}

// A JSON value and where it sits (file + JSON pointer), so every structural error names both.
class Node {
 public:
  Node(const Json& value, const fs::path& file, std::string pointer)
      : value_(value), file_(file), pointer_(std::move(pointer)) {}

  const Json& json() const { return value_; }
  const std::string& pointer() const { return pointer_; }

  [[noreturn]] void fail(const std::string& what) const {
    PL_THROW("'{}': {}: {}", file_.string(), pointer_.empty() ? "top level" : pointer_, what);
  }

  void expectObject(const std::string& hint = "") const {
    if (!value_.is_object()) {
      fail(fmt::format("expected an object, found {}{}", article(value_), hint));
    }
  }

  // Required member of an object.
  Node at(const std::string& key, const std::string& hint = "") const {
    expectObject(hint);
    const auto it = value_.find(key);
    if (it == value_.end()) {
      fail(fmt::format("missing key '{}'{}", key, hint));
    }
    return child(*it, key);
  }

  // Optional member; null counts as absent, as in the reference loaders' ann.get(...).
  std::optional<Node> find(const std::string& key) const {
    expectObject();
    const auto it = value_.find(key);
    if (it == value_.end() || it->is_null()) {
      return std::nullopt;
    }
    return child(*it, key);
  }

  // Elements of an array, each with its pointer.
  std::vector<Node> elements(const std::string& hint = "") const {
    if (!value_.is_array()) {
      fail(fmt::format("expected a list, found {}{}", article(value_), hint));
    }
    std::vector<Node> out;
    out.reserve(value_.size());
    for (std::size_t i = 0; i < value_.size(); ++i) {
      out.push_back(child(value_[i], std::to_string(i)));
    }
    return out;
  }

  std::string asString() const {
    if (!value_.is_string()) {
      fail(fmt::format("expected a string, found {}", article(value_)));
    }
    return value_.get<std::string>();
  }

  // Ids are JSON integers; an integral float (42.0, as some tools write) is accepted too.
  std::int64_t asId() const { return asInteger("an integer id"); }

  int asInt() const {
    const std::int64_t v = asInteger("an integer");
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
      fail(fmt::format("{} does not fit in an int", v));
    }
    return static_cast<int>(v);
  }

 private:
  std::int64_t asInteger(const char* expected) const {
    if (value_.is_number_unsigned()) {
      const auto v = value_.get<std::uint64_t>();
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail(fmt::format("{} does not fit in a signed 64-bit integer", v));
      }
      return static_cast<std::int64_t>(v);
    }
    if (value_.is_number_integer()) {
      return value_.get<std::int64_t>();
    }
    if (value_.is_number_float()) {
      const double v = value_.get<double>();
      if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9.2e18) {
        return static_cast<std::int64_t>(v);
      }
      fail(fmt::format("expected {}, found {}", expected, v));
    }
    fail(fmt::format(
        "expected {}, found {}{}", expected, article(value_),
        value_.is_string() ? " (ids and sizes are JSON numbers in the standard formats, e.g. 42 not \"42\")" : ""));
  }

  Node child(const Json& value, const std::string& token) const {
    return Node(value, file_, pointer_ + "/" + escapePointerToken(token));
  }

  const Json& value_;
  const fs::path& file_;
  std::string pointer_;
};

std::string optionalString(const Node& object, const std::string& key) {
  const std::optional<Node> node = object.find(key);
  return node ? node->asString() : std::string();
}

// Records where each id was first seen; a second occurrence is an error naming both places.
class IdIndex {
 public:
  explicit IdIndex(std::string what) : what_(std::move(what)) {}

  void add(std::int64_t id, const Node& at) {
    const auto [it, inserted] = where_.emplace(id, at.pointer());
    if (!inserted) {
      at.fail(fmt::format("duplicate {} {} (first at {}); each {} must appear once", what_, id, it->second, what_));
    }
  }
  bool contains(std::int64_t id) const { return where_.count(id) > 0; }
  const std::string& pointerOf(std::int64_t id) const { return where_.at(id); }

 private:
  std::string what_;
  std::map<std::int64_t, std::string> where_;
};

std::string dumpJson(const OrderedJson& json, const fs::path& file) {
  try {
    return json.dump();
  } catch (const OrderedJson::type_error& e) {
    PL_THROW("writing '{}': a string is not valid UTF-8 ({}); pass UTF-8 text", file.string(), e.what());
  }
}

// Temp file + rename, so a reader never sees a half-written file and a failed write leaves the old one.
void writeAtomically(const fs::path& file, const std::string& text) {
  std::error_code ec;
  if (file.has_parent_path()) {
    fs::create_directories(file.parent_path(), ec);
  }
  const fs::path temp = file.string() + ".tmp-" + std::to_string(::getpid());
  try {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    PL_CHECK(out.is_open(), "writing '{}': cannot create '{}' ({}); check that the directory is writable",
             file.string(), temp.string(), std::strerror(errno));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.put('\n');
    out.close();
    PL_CHECK(!out.fail(), "writing '{}': writing '{}' failed; check free disk space and permissions", file.string(),
             temp.string());
    fs::rename(temp, file, ec);
    PL_CHECK(!ec, "writing '{}': renaming '{}' into place failed ({}); check permissions", file.string(), temp.string(),
             ec.message());
  } catch (...) {
    fs::remove(temp, ec);
    throw;
  }
}

template <class T, class IdOf>
void checkUniqueIds(const std::vector<T>& items, IdOf idOf, const fs::path& file, const char* what) {
  std::map<std::int64_t, std::size_t> seen;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto [it, inserted] = seen.emplace(idOf(items[i]), i);
    PL_CHECK(inserted, "writing '{}': {} {} appears at positions {} and {}; ids must be unique", file.string(), what,
             idOf(items[i]), it->second, i);
  }
}

const char* const kVqaResultsHint = " (a VQA results file is a list of {\"question_id\", \"answer\"} objects)";
const char* const kCaptionResultsHint =
    " (a COCO caption results file is a list of {\"image_id\", \"caption\"} objects)";

}  // namespace

CocoCaptions readCocoCaptions(const fs::path& file) {
  const Json json = parseFile(file);
  const Node root(json, file, "");
  const std::string hint = " (a COCO captions file is an object with 'images' and 'annotations')";
  CocoCaptions out;
  IdIndex images("image id");
  for (const Node& node : root.at("images", hint).elements()) {
    CocoImage image;
    const Node id = node.at("id");
    image.id = id.asId();
    images.add(image.id, id);
    // The evaluation ground-truth files (e.g. LAVIS coco_karpathy_test_gt.json) list only ids.
    image.fileName = optionalString(node, "file_name");
    if (const auto height = node.find("height")) image.height = height->asInt();
    if (const auto width = node.find("width")) image.width = width->asInt();
    out.images.push_back(std::move(image));
  }
  IdIndex annotations("annotation id");
  for (const Node& node : root.at("annotations", hint).elements()) {
    CocoCaption caption;
    const Node id = node.at("id");
    caption.id = id.asId();
    annotations.add(caption.id, id);
    const Node imageId = node.at("image_id");
    caption.imageId = imageId.asId();
    if (!images.contains(caption.imageId)) {
      imageId.fail(
          fmt::format("image id {} is not in the file's 'images' list; add the image or fix the id", caption.imageId));
    }
    caption.caption = node.at("caption").asString();
    out.annotations.push_back(std::move(caption));
  }
  return out;
}

std::vector<VqaQuestion> readVqa(const fs::path& questionsFile, const fs::path& annotationsFile) {
  const Json questionsJson = parseFile(questionsFile);
  const Json annotationsJson = parseFile(annotationsFile);
  const Node questionsRoot(questionsJson, questionsFile, "");
  const Node annotationsRoot(annotationsJson, annotationsFile, "");

  std::vector<VqaQuestion> out;
  IdIndex questionIds("question id");
  for (const Node& node :
       questionsRoot.at("questions", " (a VQA questions file is an object with 'questions')").elements()) {
    VqaQuestion question;
    const Node id = node.at("question_id");
    question.questionId = id.asId();
    questionIds.add(question.questionId, id);
    question.imageId = node.at("image_id").asId();
    question.question = node.at("question").asString();
    out.push_back(std::move(question));
  }

  std::map<std::int64_t, std::size_t> indexOf;
  for (std::size_t i = 0; i < out.size(); ++i) {
    indexOf.emplace(out[i].questionId, i);
  }
  IdIndex annotationIds("question id");
  std::vector<std::int64_t> unmatchedAnnotations;
  std::vector<bool> annotated(out.size(), false);
  for (const Node& node :
       annotationsRoot.at("annotations", " (a VQA annotations file is an object with 'annotations')").elements()) {
    const Node id = node.at("question_id");
    const std::int64_t questionId = id.asId();
    annotationIds.add(questionId, id);
    const auto it = indexOf.find(questionId);
    if (it == indexOf.end()) {
      unmatchedAnnotations.push_back(questionId);
      continue;
    }
    VqaQuestion& question = out[it->second];
    annotated[it->second] = true;
    if (const auto imageId = node.find("image_id"); imageId && imageId->asId() != question.imageId) {
      imageId->fail(fmt::format(
          "image id {} differs from image id {} of question {} in '{}' ({}); the two files do "
          "not belong together",
          imageId->asId(), question.imageId, questionId, questionsFile.string(), questionIds.pointerOf(questionId)));
    }
    // OK-VQA and older exports omit some of these; vqaEval.py only needs answers and the two types.
    question.questionType = optionalString(node, "question_type");
    question.answerType = optionalString(node, "answer_type");
    question.multipleChoiceAnswer = optionalString(node, "multiple_choice_answer");
    const std::vector<Node> answers = node.at("answers").elements();
    if (answers.empty()) {
      node.at("answers").fail("expected at least one answer; VQA accuracy needs the human answers");
    }
    for (const Node& answer : answers) {
      question.answers.push_back(answer.at("answer").asString());
    }
  }
  PL_CHECK(unmatchedAnnotations.empty(),
           "{} annotation(s) in '{}' have no question in '{}': question id(s) {}; the questions and annotations "
           "files must come from the same split",
           unmatchedAnnotations.size(), annotationsFile.string(), questionsFile.string(),
           someIds(unmatchedAnnotations));
  std::vector<std::int64_t> unannotated;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!annotated[i]) {
      unannotated.push_back(out[i].questionId);
    }
  }
  PL_CHECK(unannotated.empty(),
           "{} question(s) in '{}' have no annotation in '{}': question id(s) {}; the questions and annotations "
           "files must come from the same split",
           unannotated.size(), questionsFile.string(), annotationsFile.string(), someIds(unannotated));
  return out;
}

std::vector<VqaPrediction> readVqaPredictions(const fs::path& file) {
  const Json json = parseFile(file);
  const Node root(json, file, "");
  std::vector<VqaPrediction> out;
  IdIndex ids("question id");
  for (const Node& node : root.elements(kVqaResultsHint)) {
    VqaPrediction prediction;
    const Node id = node.at("question_id", kVqaResultsHint);
    prediction.questionId = id.asId();
    ids.add(prediction.questionId, id);
    prediction.answer = node.at("answer", kVqaResultsHint).asString();
    out.push_back(std::move(prediction));
  }
  return out;
}

std::vector<CaptionPrediction> readCaptionPredictions(const fs::path& file) {
  const Json json = parseFile(file);
  const Node root(json, file, "");
  std::vector<CaptionPrediction> out;
  IdIndex ids("image id");
  for (const Node& node : root.elements(kCaptionResultsHint)) {
    CaptionPrediction prediction;
    const Node id = node.at("image_id", kCaptionResultsHint);
    prediction.imageId = id.asId();
    ids.add(prediction.imageId, id);
    prediction.caption = node.at("caption", kCaptionResultsHint).asString();
    out.push_back(std::move(prediction));
  }
  return out;
}

void writeCocoCaptions(const fs::path& file, const CocoCaptions& captions) {
  checkUniqueIds(
      captions.images, [](const CocoImage& i) { return i.id; }, file, "image id");
  checkUniqueIds(
      captions.annotations, [](const CocoCaption& c) { return c.id; }, file, "annotation id");
  std::map<std::int64_t, bool> known;
  for (const CocoImage& image : captions.images) known[image.id] = true;
  for (const CocoCaption& caption : captions.annotations) {
    PL_CHECK(known.count(caption.imageId) > 0,
             "writing '{}': annotation {} refers to image {}, which is not in the image list; add the image",
             file.string(), caption.id, caption.imageId);
  }
  // The layout of captions_*2014.json; pycocotools and pycocoevalcap read images/annotations by these keys.
  OrderedJson root;
  root["info"] = {{"description", "exported by prunelab"}};
  root["images"] = OrderedJson::array();
  for (const CocoImage& image : captions.images) {
    root["images"].push_back(
        {{"id", image.id}, {"file_name", image.fileName}, {"height", image.height}, {"width", image.width}});
  }
  root["licenses"] = OrderedJson::array();
  root["annotations"] = OrderedJson::array();
  for (const CocoCaption& caption : captions.annotations) {
    root["annotations"].push_back({{"id", caption.id}, {"image_id", caption.imageId}, {"caption", caption.caption}});
  }
  writeAtomically(file, dumpJson(root, file));
}

void writeVqa(const fs::path& questionsFile, const fs::path& annotationsFile,
              const std::vector<VqaQuestion>& questions) {
  checkUniqueIds(
      questions, [](const VqaQuestion& q) { return q.questionId; }, questionsFile, "question id");
  for (const VqaQuestion& question : questions) {
    PL_CHECK(!question.answers.empty(),
             "writing '{}': question {} has no answers; VQA annotations need the human answers",
             annotationsFile.string(), question.questionId);
  }
  // vqa.py's loadRes copies info/task_type/data_type/data_subtype/license from the questions file, and
  // vqa.info() prints the annotations' info, so both carry them like the official files.
  const OrderedJson info = {{"description", "exported by prunelab"}};
  const OrderedJson license = {{"name", ""}, {"url", ""}};
  OrderedJson questionsRoot;
  questionsRoot["info"] = info;
  questionsRoot["task_type"] = "Open-Ended";
  questionsRoot["data_type"] = "mscoco";
  questionsRoot["license"] = license;
  questionsRoot["data_subtype"] = "prunelab";
  questionsRoot["questions"] = OrderedJson::array();
  OrderedJson annotationsRoot;
  annotationsRoot["info"] = info;
  annotationsRoot["license"] = license;
  annotationsRoot["data_subtype"] = "prunelab";
  annotationsRoot["annotations"] = OrderedJson::array();
  annotationsRoot["data_type"] = "mscoco";
  for (const VqaQuestion& q : questions) {
    questionsRoot["questions"].push_back(
        {{"image_id", q.imageId}, {"question", q.question}, {"question_id", q.questionId}});
    OrderedJson answers = OrderedJson::array();
    for (std::size_t i = 0; i < q.answers.size(); ++i) {
      answers.push_back({{"answer", q.answers[i]}, {"answer_confidence", "yes"}, {"answer_id", i + 1}});
    }
    annotationsRoot["annotations"].push_back({{"question_type", q.questionType},
                                              {"multiple_choice_answer", q.multipleChoiceAnswer},
                                              {"answers", std::move(answers)},
                                              {"image_id", q.imageId},
                                              {"answer_type", q.answerType},
                                              {"question_id", q.questionId}});
  }
  // Serialise both before writing either, so a bad string leaves neither file half-updated.
  const std::string questionsText = dumpJson(questionsRoot, questionsFile);
  const std::string annotationsText = dumpJson(annotationsRoot, annotationsFile);
  writeAtomically(questionsFile, questionsText);
  writeAtomically(annotationsFile, annotationsText);
}

void writeVqaPredictions(const fs::path& file, const std::vector<VqaPrediction>& predictions) {
  checkUniqueIds(
      predictions, [](const VqaPrediction& p) { return p.questionId; }, file, "question id");
  OrderedJson root = OrderedJson::array();
  for (const VqaPrediction& p : predictions) {
    root.push_back({{"question_id", p.questionId}, {"answer", p.answer}});
  }
  writeAtomically(file, dumpJson(root, file));
}

void writeCaptionPredictions(const fs::path& file, const std::vector<CaptionPrediction>& predictions) {
  checkUniqueIds(
      predictions, [](const CaptionPrediction& p) { return p.imageId; }, file, "image id");
  OrderedJson root = OrderedJson::array();
  for (const CaptionPrediction& p : predictions) {
    root.push_back({{"image_id", p.imageId}, {"caption", p.caption}});
  }
  writeAtomically(file, dumpJson(root, file));
}

}  // namespace prunelab::data
