#include "evaluators/common/TextTask.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <typeinfo>
#include <sstream>

#include "framework/core/Error.h"

namespace prunelab::evaluators {

const data::TextSource& requireTextSource(const data::DataSource& data, const std::string& evaluator,
                                          const std::string& purpose) {
  const auto* text = dynamic_cast<const data::TextSource*>(&data);
  PL_CHECK(text != nullptr,
           "evaluator '{}' needs {} from the data source (a data::TextSource); dataset '{}' has none: use a dataset "
           "with text (dataset=fashion_scenes)",
           evaluator, purpose, data.name());
  return *text;
}

model::GenerativeHead& requireGenerativeHead(model::Model& model, const std::string& evaluator) {
  auto* head = dynamic_cast<model::GenerativeHead*>(&model);
  PL_CHECK(head != nullptr,
           "evaluator '{}' needs a model that generates text (a model::GenerativeHead, e.g. model=mini_blip2); "
           "model '{}' has none: choose another evaluator or model",
           evaluator, c10::demangle(typeid(model).name()));
  return *head;
}

model::GenerationOptions generationOptions(std::int64_t numBeams, std::int64_t maxLen, std::int64_t minLen,
                                           double lengthPenalty) {
  PL_CHECK(numBeams >= 1, "num_beams must be >= 1 (1 = greedy), got {}", numBeams);
  PL_CHECK(maxLen >= 1, "max_len must be >= 1, got {}", maxLen);
  PL_CHECK(minLen >= 0 && minLen <= maxLen, "min_len must be in [0, max_len={}], got {}", maxLen, minLen);
  PL_CHECK(std::isfinite(lengthPenalty), "length_penalty must be a finite number, got {}", lengthPenalty);
  model::GenerationOptions o;
  o.numBeams = numBeams;
  o.maxLength = maxLen;
  o.minLength = minLen;
  o.lengthPenalty = lengthPenalty;
  return o;
}

std::vector<std::string> unknownWords(const data::TextSource& source, const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string piece;
  // Punctuation around a piece ("answer:") is no part of its word, so messages name the bare word.
  auto isWordChar = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '\''; };
  while (in >> piece) {
    if (source.knowsAllWords(piece)) continue;
    const auto begin = std::find_if(piece.begin(), piece.end(), isWordChar);
    const auto end = std::find_if(piece.rbegin(), piece.rend(), isWordChar).base();
    out.push_back(begin < end ? std::string(begin, end) : piece);
  }
  return out;
}

std::string fillPlaceholder(std::string pattern, const std::string& value) {
  const std::string placeholder = "{}";
  for (std::size_t at = pattern.find(placeholder); at != std::string::npos;
       at = pattern.find(placeholder, at + value.size()))
    pattern.replace(at, placeholder.size(), value);
  return pattern;
}

std::vector<std::int64_t> encodePrompt(const data::TextSource& source, const std::string& prompt,
                                       const std::string& evaluator, const std::string& optionKey) {
  const auto unknown = unknownWords(source, prompt);
  PL_CHECK(unknown.empty(),
           "{}: the word '{}' of prompt '{}' is not in the data source's vocabulary (unknown words would be [UNK]): "
           "change eval.*.{}",
           evaluator, unknown.empty() ? "" : unknown.front(), prompt, optionKey);
  auto ids = source.encodeText(prompt, -1, /*addBos=*/true, /*addEos=*/false);
  PL_CHECK(static_cast<std::int64_t>(ids.size()) <= source.maxTextLength(),
           "{}: prompt '{}' is {} tokens with [BOS], more than the data source's text length {}: shorten eval.*.{}",
           evaluator, prompt, ids.size(), source.maxTextLength(), optionKey);
  return ids;
}

std::string limitedSplitName(const std::string& split, std::int64_t limit, std::int64_t size) {
  if (limit < 0 || limit >= size) return split;
  return split + "[:" + std::to_string(limit) + "]";
}

std::string metricKeyField(const std::string& text) {
  std::string out = text;
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '/' || c == ' '; }, '_');
  return out;
}

std::filesystem::path outputFile(const std::string& option, const std::filesystem::path& outputDir) {
  const std::filesystem::path file(option);
  if (option.empty()) return {};
  if (file.is_absolute()) return file;
  if (outputDir.empty()) return {};
  return outputDir / file;
}

std::filesystem::path withStemSuffix(const std::filesystem::path& file, const std::string& suffix) {
  return file.parent_path() / (file.stem().string() + suffix + file.extension().string());
}

}  // namespace prunelab::evaluators
