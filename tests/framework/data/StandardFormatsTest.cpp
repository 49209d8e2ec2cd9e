#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/data/StandardFormats.h"
#include "tests/support/Assertions.h"
#include "tests/support/Fixtures.h"

namespace prunelab::data {
namespace {

namespace fs = std::filesystem;
using prunelab::testing::errorOf;

// Abridged from captions_val2014.json: the real top-level keys and image fields, real ids and captions.
const char* const kCocoCaptions = R"({
  "info": {"description": "This is stable 1.0 version of the 2014 MS COCO dataset.", "url": "http://mscoco.org",
           "version": "1.0", "year": 2014, "contributor": "Microsoft COCO group",
           "date_created": "2015-01-27 09:11:52.357475"},
  "images": [
    {"license": 3, "url": "http://farm4.staticflickr.com/3153/2970773875_164f0c0b83_z.jpg",
     "file_name": "COCO_val2014_000000203564.jpg", "height": 400, "width": 400,
     "date_captured": "2013-11-14 16:29:45", "id": 203564},
    {"license": 4, "url": "http://farm4.staticflickr.com/3004/2598458566_9f5c6ef1df_z.jpg",
     "file_name": "COCO_val2014_000000179765.jpg", "height": 480, "width": 640,
     "date_captured": "2013-11-15 14:18:23", "id": 179765}
  ],
  "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1,
                "name": "Attribution-NonCommercial-ShareAlike License"}],
  "type": "captions",
  "annotations": [
    {"image_id": 203564, "id": 37, "caption": "A bicycle replica with a clock as the front wheel."},
    {"image_id": 179765, "id": 38, "caption": "A black Honda motorcycle parked in front of a garage."},
    {"image_id": 203564, "id": 181, "caption": "A bicycle figurine in which the front wheel is replaced with a clock\n"}
  ]
})";

// Abridged from v2_OpenEnded_mscoco_val2014_questions.json and v2_mscoco_val2014_annotations.json.
const char* const kVqaQuestions = R"({
  "info": {"description": "This is v2.0 of the VQA dataset.", "url": "http://visualqa.org", "version": "2.0",
           "year": 2017, "contributor": "VQA Team", "date_created": "2017-04-26 17:07:13"},
  "task_type": "Open-Ended", "data_type": "mscoco",
  "license": {"url": "http://creativecommons.org/licenses/by/4.0/", "name": "Creative Commons Attribution 4.0 International License"},
  "data_subtype": "val2014",
  "questions": [
    {"image_id": 262148, "question": "Where is he looking?", "question_id": 262148000},
    {"image_id": 262148, "question": "What are the people in the background doing?", "question_id": 262148001},
    {"image_id": 393225, "question": "Is the bowl full?", "question_id": 393225001}
  ]
})";
const char* const kVqaAnnotations = R"({
  "info": {"description": "This is v2.0 of the VQA dataset."},
  "license": {"url": "http://creativecommons.org/licenses/by/4.0/", "name": "Creative Commons"},
  "data_subtype": "val2014",
  "annotations": [
    {"question_type": "is the", "multiple_choice_answer": "no",
     "answers": [{"answer": "no", "answer_confidence": "yes", "answer_id": 1},
                 {"answer": "yes", "answer_confidence": "maybe", "answer_id": 2}],
     "image_id": 393225, "answer_type": "yes/no", "question_id": 393225001},
    {"question_type": "none of the above", "multiple_choice_answer": "down",
     "answers": [{"answer": "down", "answer_confidence": "yes", "answer_id": 1},
                 {"answer": "at table", "answer_confidence": "yes", "answer_id": 2},
                 {"answer": "skateboard", "answer_confidence": "yes", "answer_id": 3}],
     "image_id": 262148, "answer_type": "other", "question_id": 262148000},
    {"question_type": "what are the", "multiple_choice_answer": "watching",
     "answers": [{"answer": "spectating", "answer_confidence": "yes", "answer_id": 1},
                 {"answer": "watching", "answer_confidence": "yes", "answer_id": 2}],
     "image_id": 262148, "answer_type": "other", "question_id": 262148001}
  ],
  "data_type": "mscoco"
})";

class StandardFormatsTest : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  static std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::vector<std::string> filesInDir() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_.path())) names.push_back(entry.path().filename().string());
    return names;
  }

  prunelab::testing::TempDir dir_;
};

TEST_F(StandardFormatsTest, ReadsRealCocoCaptionsWithExtraKeys) {
  const CocoCaptions c = readCocoCaptions(write("captions_val2014.json", kCocoCaptions));
  ASSERT_EQ(c.images.size(), 2u);
  EXPECT_EQ(c.images[0].id, 203564);
  EXPECT_EQ(c.images[0].fileName, "COCO_val2014_000000203564.jpg");
  EXPECT_EQ(c.images[1].height, 480);
  EXPECT_EQ(c.images[1].width, 640);
  ASSERT_EQ(c.annotations.size(), 3u);
  EXPECT_EQ(c.annotations[2].id, 181);
  EXPECT_EQ(c.annotations[2].imageId, 203564);
  EXPECT_EQ(c.annotations[2].caption, "A bicycle figurine in which the front wheel is replaced with a clock\n");
}

TEST_F(StandardFormatsTest, ReadsGroundTruthFilesThatListOnlyImageIds) {
  // LAVIS' coco_karpathy_test_gt.json style: images carry just their id.
  const CocoCaptions c = readCocoCaptions(
      write("gt.json", R"({"annotations": [{"image_id": 7, "caption": "a dog", "id": 1}], "images": [{"id": 7}]})"));
  ASSERT_EQ(c.images.size(), 1u);
  EXPECT_EQ(c.images[0].fileName, "");
  EXPECT_EQ(c.images[0].height, 0);
  EXPECT_EQ(c.annotations[0].caption, "a dog");
}

TEST_F(StandardFormatsTest, CocoCaptionsRoundTripKeepsUtf8) {
  CocoCaptions c;
  c.images = {{1, "a.jpg", 10, 20}, {2, "b/c.jpg", 30, 40}};
  c.annotations = {{5, 1, "Café au lait ☕ in 東京"}, {6, 2, "a \"quoted\" word"}, {7, 1, ""}};
  const fs::path path = dir_ / "sub" / "captions.json";
  writeCocoCaptions(path, c);
  EXPECT_CONTAINS(read(path), "Café au lait ☕ in 東京");  // raw UTF-8, not \u escapes
  const CocoCaptions back = readCocoCaptions(path);
  ASSERT_EQ(back.images.size(), 2u);
  EXPECT_EQ(back.images[1].id, 2);
  EXPECT_EQ(back.images[1].fileName, "b/c.jpg");
  EXPECT_EQ(back.images[1].height, 30);
  EXPECT_EQ(back.images[1].width, 40);
  ASSERT_EQ(back.annotations.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.annotations[i].id, c.annotations[i].id);
    EXPECT_EQ(back.annotations[i].imageId, c.annotations[i].imageId);
    EXPECT_EQ(back.annotations[i].caption, c.annotations[i].caption);
  }
  // The keys pycocotools' COCO() and loadRes() use.
  const auto json = nlohmann::json::parse(read(path));
  EXPECT_TRUE(json.contains("info"));
  EXPECT_TRUE(json["images"][0].contains("file_name"));
  EXPECT_EQ(json["annotations"][0]["image_id"], 1);
}

TEST_F(StandardFormatsTest, ReadsRealVqaAndJoinsAnnotationsByQuestionId) {
  const std::vector<VqaQuestion> q = readVqa(write("q.json", kVqaQuestions), write("a.json", kVqaAnnotations));
  ASSERT_EQ(q.size(), 3u);  // questions-file order, whatever the annotations' order
  EXPECT_EQ(q[0].questionId, 262148000);
  EXPECT_EQ(q[0].imageId, 262148);
  EXPECT_EQ(q[0].question, "Where is he looking?");
  EXPECT_EQ(q[0].questionType, "none of the above");
  EXPECT_EQ(q[0].answerType, "other");
  EXPECT_EQ(q[0].multipleChoiceAnswer, "down");
  EXPECT_EQ(q[0].answers, (std::vector<std::string>{"down", "at table", "skateboard"}));
  EXPECT_EQ(q[2].questionId, 393225001);
  EXPECT_EQ(q[2].answerType, "yes/no");
  EXPECT_EQ(q[2].answers, (std::vector<std::string>{"no", "yes"}));
}

TEST_F(StandardFormatsTest, VqaRoundTripWritesWhatTheReferenceToolsRead) {
  std::vector<VqaQuestion> q(2);
  q[0] = {11, 1, "What color is the ½ cup?", "what color is the", "other", "blue", {"blue", "blue", "navy"}};
  q[1] = {12, 1, "Is it raining?", "is it", "yes/no", "no", {"no"}};
  const fs::path qf = dir_ / "questions.json", af = dir_ / "annotations.json";
  writeVqa(qf, af, q);
  const std::vector<VqaQuestion> back = readVqa(qf, af);
  ASSERT_EQ(back.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back[i].questionId, q[i].questionId);
    EXPECT_EQ(back[i].imageId, q[i].imageId);
    EXPECT_EQ(back[i].question, q[i].question);
    EXPECT_EQ(back[i].questionType, q[i].questionType);
    EXPECT_EQ(back[i].answerType, q[i].answerType);
    EXPECT_EQ(back[i].multipleChoiceAnswer, q[i].multipleChoiceAnswer);
    EXPECT_EQ(back[i].answers, q[i].answers);
  }
  // vqa.py's loadRes copies these from the questions file and reads these from each annotation.
  const auto qj = nlohmann::json::parse(read(qf));
  for (const char* key : {"info", "task_type", "data_type", "data_subtype", "license"}) {
    EXPECT_TRUE(qj.contains(key)) << key;
  }
  const auto aj = nlohmann::json::parse(read(af));
  for (const char* key : {"image_id", "question_type", "answer_type", "answers", "multiple_choice_answer"}) {
    EXPECT_TRUE(aj["annotations"][0].contains(key)) << key;
  }
  EXPECT_EQ(aj["annotations"][0]["answers"][2]["answer_id"], 3);
}

TEST_F(StandardFormatsTest, PredictionRoundTrips) {
  const std::vector<VqaPrediction> vqa = {{5, "yes"}, {3, "two dogs ☺"}};
  writeVqaPredictions(dir_ / "vqa_result.json", vqa);
  const auto vqaBack = readVqaPredictions(dir_ / "vqa_result.json");
  ASSERT_EQ(vqaBack.size(), 2u);
  EXPECT_EQ(vqaBack[1].questionId, 3);
  EXPECT_EQ(vqaBack[1].answer, "two dogs ☺");

  const std::vector<CaptionPrediction> cap = {{42, "a man riding a wave"}, {7, ""}};
  writeCaptionPredictions(dir_ / "cap_result.json", cap);
  EXPECT_EQ(nlohmann::json::parse(read(dir_ / "cap_result.json"))[0],
            (nlohmann::json{{"image_id", 42}, {"caption", "a man riding a wave"}}));
  const auto capBack = readCaptionPredictions(dir_ / "cap_result.json");
  ASSERT_EQ(capBack.size(), 2u);
  EXPECT_EQ(capBack[0].imageId, 42);
  EXPECT_EQ(capBack[1].caption, "");
}

TEST_F(StandardFormatsTest, ResultFilesMayCarryExtraKeysAndIntegralFloatIds) {
  const auto vqa = readVqaPredictions(
      write("r.json", R"([{"question_id": 262148000, "answer": "down", "score": 0.9}, {"question_id": 3.0,
                           "answer": "no"}])"));
  ASSERT_EQ(vqa.size(), 2u);
  EXPECT_EQ(vqa[0].questionId, 262148000);
  EXPECT_EQ(vqa[1].questionId, 3);
  const auto cap = readCaptionPredictions(write("c.json", R"([{"image_id": 1, "caption": "x", "id": 9}])"));
  EXPECT_EQ(cap[0].caption, "x");
  EXPECT_CONTAINS(errorOf([&] { readCaptionPredictions(write("f.json", R"([{"image_id": 1.5, "caption": "x"}])")); }),
                  "/0/image_id: expected an integer id, found 1.5");
}

TEST_F(StandardFormatsTest, MalformedJsonNamesFileAndBytePosition) {
  const fs::path path = write("broken.json", R"({"images": [1,]})");  // ']' is byte 15
  const std::string message = errorOf([&] { readCocoCaptions(path); });
  EXPECT_CONTAINS(message, path.string());
  EXPECT_CONTAINS(message, "not valid JSON: byte 15");
  EXPECT_CONTAINS(message, "line 1, column 15");
  EXPECT_CONTAINS(errorOf([&] { readVqaPredictions(write("empty.json", "")); }), "byte 1");
  EXPECT_CONTAINS(errorOf([&] { readVqaPredictions(write("bad_utf8.json", "[{\"answer\": \"\xff\"}]")); }),
                  "not valid JSON");
}

TEST_F(StandardFormatsTest, WrongTypeNamesTheJsonPointer) {
  const fs::path path = write("c.json", R"({"images": [{"id": 1}], "annotations": [
      {"id": 1, "image_id": 1, "caption": "ok"}, {"id": 2, "image_id": 1, "caption": 17}]})");
  const std::string message = errorOf([&] { readCocoCaptions(path); });
  EXPECT_CONTAINS(message, path.string());
  EXPECT_CONTAINS(message, "/annotations/1/caption: expected a string, found a number");
  EXPECT_CONTAINS(errorOf([&] {
                    readCocoCaptions(write("h.json", R"({"images": [{"id": 1, "height": "big"}],
                                                                     "annotations": []})"));
                  }),
                  "/images/0/height: expected an integer, found a string");
  EXPECT_CONTAINS(errorOf([&] { readCocoCaptions(write("s.json", R"({"images": {}, "annotations": []})")); }),
                  "/images: expected a list, found an object");
}

TEST_F(StandardFormatsTest, MissingKeysNameThePointerAndTheFormat) {
  EXPECT_CONTAINS(errorOf([&] {
                    readCocoCaptions(write("c.json", R"({"images": [{"file_name": "a.jpg"}],
                                                                     "annotations": []})"));
                  }),
                  "/images/0: missing key 'id'");
  EXPECT_CONTAINS(errorOf([&] { readCocoCaptions(write("a.json", R"({"images": []})")); }),
                  "top level: missing key 'annotations' (a COCO captions file is an object");
  EXPECT_CONTAINS(errorOf([&] { readVqaPredictions(write("r.json", R"([{"question_id": 1, "text": "yes"}])")); }),
                  "/0: missing key 'answer' (a VQA results file is a list");
}

TEST_F(StandardFormatsTest, AFileOfTheWrongKindSaysWhatWasExpected) {
  const fs::path results = write("results.json", R"([{"image_id": 1, "caption": "a dog"}])");
  EXPECT_CONTAINS(errorOf([&] { readCocoCaptions(results); }),
                  "top level: expected an object, found an array (a COCO captions file");
  EXPECT_CONTAINS(errorOf([&] { readCaptionPredictions(write("gt.json", kCocoCaptions)); }),
                  "top level: expected a list, found an object (a COCO caption results file");
  EXPECT_CONTAINS(errorOf([&] { readVqaPredictions(write("s.json", R"([{"question_id": "7", "answer": "x"}])")); }),
                  "e.g. 42 not \"42\"");
}

TEST_F(StandardFormatsTest, MissingFileOrDirectoryIsNamed) {
  const fs::path missing = dir_ / "nope.json";
  EXPECT_CONTAINS(errorOf([&] { readCocoCaptions(missing); }), "cannot read '" + missing.string() + "': no such file");
  EXPECT_CONTAINS(errorOf([&] { readVqa(missing, write("a.json", kVqaAnnotations)); }), missing.string());
  EXPECT_CONTAINS(errorOf([&] { readVqaPredictions(dir_.path()); }), "is a directory");
}

TEST_F(StandardFormatsTest, CaptionForAnImageNotInTheImageListIsAnError) {
  const std::string message = errorOf([&] {
    readCocoCaptions(write("c.json", R"({"images": [{"id": 1}], "annotations": [{"id": 1, "image_id": 2,
                                                                                   "caption": "x"}]})"));
  });
  EXPECT_CONTAINS(message, "/annotations/0/image_id: image id 2 is not in the file's 'images' list");
}

TEST_F(StandardFormatsTest, VqaIdsThatDoNotMatchNameTheIdsAndBothFiles) {
  const fs::path q = write("q.json", kVqaQuestions);
  // The annotations file lacks question 262148001.
  auto annotations = nlohmann::json::parse(kVqaAnnotations);
  annotations["annotations"].erase(2);
  const fs::path a = write("a.json", annotations.dump());
  std::string message = errorOf([&] { readVqa(q, a); });
  EXPECT_CONTAINS(message, "1 question(s) in '" + q.string() + "' have no annotation in '" + a.string() + "'");
  EXPECT_CONTAINS(message, "262148001");

  // An extra annotation for a question the questions file lacks.
  annotations = nlohmann::json::parse(kVqaAnnotations);
  annotations["annotations"].push_back(annotations["annotations"][0]);
  annotations["annotations"][3]["question_id"] = 999;
  message = errorOf([&] { readVqa(q, write("a2.json", annotations.dump())); });
  EXPECT_CONTAINS(message, "have no question in '" + q.string() + "'");
  EXPECT_CONTAINS(message, "question id(s) 999");

  // Same question id, different image: the files do not belong together.
  annotations = nlohmann::json::parse(kVqaAnnotations);
  annotations["annotations"][0]["image_id"] = 1;
  message = errorOf([&] { readVqa(q, write("a3.json", annotations.dump())); });
  EXPECT_CONTAINS(message, "/annotations/0/image_id: image id 1 differs from image id 393225 of question 393225001");
}

TEST_F(StandardFormatsTest, DuplicateIdsAreErrors) {
  EXPECT_CONTAINS(
      errorOf([&] { readCocoCaptions(write("c1.json", R"({"images": [{"id": 1}, {"id": 1}], "annotations": []})")); }),
      "/images/1/id: duplicate image id 1 (first at /images/0/id)");
  EXPECT_CONTAINS(errorOf([&] {
                    readCocoCaptions(write("c2.json", R"({"images": [{"id": 1}], "annotations": [
                        {"id": 4, "image_id": 1, "caption": "a"}, {"id": 4, "image_id": 1, "caption": "b"}]})"));
                  }),
                  "/annotations/1/id: duplicate annotation id 4");
  auto questions = nlohmann::json::parse(kVqaQuestions);
  questions["questions"][1]["question_id"] = 262148000;
  EXPECT_CONTAINS(errorOf([&] { readVqa(write("q.json", questions.dump()), write("a.json", kVqaAnnotations)); }),
                  "/questions/1/question_id: duplicate question id 262148000");
  auto annotations = nlohmann::json::parse(kVqaAnnotations);
  annotations["annotations"][1]["question_id"] = 393225001;
  EXPECT_CONTAINS(errorOf([&] { readVqa(write("q2.json", kVqaQuestions), write("a2.json", annotations.dump())); }),
                  "/annotations/1/question_id: duplicate question id 393225001");
  EXPECT_CONTAINS(errorOf([&] {
                    readVqaPredictions(write("r.json", R"([{"question_id": 1, "answer": "a"},
                                                           {"question_id": 1, "answer": "b"}])"));
                  }),
                  "/1/question_id: duplicate question id 1");
  EXPECT_CONTAINS(errorOf([&] {
                    readCaptionPredictions(write("r2.json", R"([{"image_id": 1, "caption": "a"},
                                                                {"image_id": 1, "caption": "b"}])"));
                  }),
                  "/1/image_id: duplicate image id 1");
}

TEST_F(StandardFormatsTest, VqaAnnotationNeedsAnswers) {
  auto annotations = nlohmann::json::parse(kVqaAnnotations);
  annotations["annotations"][2]["answers"] = nlohmann::json::array();
  EXPECT_CONTAINS(errorOf([&] { readVqa(write("q.json", kVqaQuestions), write("a.json", annotations.dump())); }),
                  "/annotations/2/answers: expected at least one answer");
}

TEST_F(StandardFormatsTest, WritersReplaceFilesAtomicallyAndRefuseWhatReadersWouldReject) {
  const fs::path path = dir_ / "r.json";
  writeVqaPredictions(path, {{1, "old"}});
  writeVqaPredictions(path, {{1, "new"}, {2, "x"}});
  EXPECT_EQ(readVqaPredictions(path).at(0).answer, "new");
  EXPECT_EQ(filesInDir(), (std::vector<std::string>{"r.json"}));  // no temp file left behind

  EXPECT_CONTAINS(errorOf([&] {
                    writeVqaPredictions(path, {{3, "a"}, {3, "b"}});
                  }),
                  "question id 3 appears at positions 0 and 1");
  EXPECT_EQ(readVqaPredictions(path).size(), 2u);  // the old file is untouched
  EXPECT_CONTAINS(errorOf([&] { writeCaptionPredictions(path, {{9, "\xff"}}); }), "not valid UTF-8");
  EXPECT_EQ(filesInDir(), (std::vector<std::string>{"r.json"}));

  CocoCaptions orphan;
  orphan.annotations = {{1, 5, "x"}};
  EXPECT_CONTAINS(errorOf([&] { writeCocoCaptions(dir_ / "c.json", orphan); }),
                  "annotation 1 refers to image 5, which is not in the image list");
  std::vector<VqaQuestion> noAnswers(1);
  noAnswers[0].questionId = 4;
  EXPECT_CONTAINS(errorOf([&] { writeVqa(dir_ / "q.json", dir_ / "a.json", noAnswers); }), "question 4 has no answers");
}

}  // namespace
}  // namespace prunelab::data
