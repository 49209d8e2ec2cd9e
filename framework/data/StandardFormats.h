#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace prunelab::data {

/// COCO captions (captions_*.json): {"images":[{"id","file_name","height","width"}],
/// "annotations":[{"id","image_id","caption"}]}. Flickr30k in Karpathy/COCO form reads the same.
struct CocoImage {
  std::int64_t id = 0;
  std::string fileName;
  int height = 0, width = 0;
};
struct CocoCaption {
  std::int64_t id = 0;
  std::int64_t imageId = 0;
  std::string caption;
};
struct CocoCaptions {
  std::vector<CocoImage> images;
  std::vector<CocoCaption> annotations;
};

/// VQAv2 questions file {"questions":[{"question_id","image_id","question"}]} plus annotations file
/// {"annotations":[{"question_id","image_id","question_type","answer_type","multiple_choice_answer",
/// "answers":[{"answer","answer_confidence","answer_id"}]}]}.
struct VqaQuestion {
  std::int64_t questionId = 0;
  std::int64_t imageId = 0;
  std::string question;
  std::string questionType;            ///< from the annotations file
  std::string answerType;              ///< yes/no, number, other
  std::string multipleChoiceAnswer;    ///< the most common answer
  std::vector<std::string> answers;    ///< the (usually 10) human answers
};

/// Predictions in the standard result formats: VQA [{"question_id","answer"}], COCO captions
/// [{"image_id","caption"}].
struct VqaPrediction {
  std::int64_t questionId = 0;
  std::string answer;
};
struct CaptionPrediction {
  std::int64_t imageId = 0;
  std::string caption;
};

/// Readers: every malformed file is a prunelab::Error naming the file and the position (byte
/// offset / JSON pointer) and what was expected; ids that do not match between files are errors.
CocoCaptions readCocoCaptions(const std::filesystem::path& file);
std::vector<VqaQuestion> readVqa(const std::filesystem::path& questionsFile, const std::filesystem::path& annotationsFile);
std::vector<VqaPrediction> readVqaPredictions(const std::filesystem::path& file);
std::vector<CaptionPrediction> readCaptionPredictions(const std::filesystem::path& file);

/// Writers (atomic: temp file + rename), producing files the readers above and the reference tools read.
void writeCocoCaptions(const std::filesystem::path& file, const CocoCaptions& captions);
void writeVqa(const std::filesystem::path& questionsFile, const std::filesystem::path& annotationsFile,
              const std::vector<VqaQuestion>& questions);
void writeVqaPredictions(const std::filesystem::path& file, const std::vector<VqaPrediction>& predictions);
void writeCaptionPredictions(const std::filesystem::path& file, const std::vector<CaptionPrediction>& predictions);

}  // namespace prunelab::data
