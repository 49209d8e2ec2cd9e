#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/data/Dataset.h"
#include "framework/data/TextSource.h"
#include "framework/model/Model.h"

namespace prunelab::evaluators {

// Helpers shared by the evaluators whose inputs or outputs are words (zeroshot, vqa, caption).

/// The text side of `data` for evaluator `evaluator`; an error saying what it is needed for
/// (`purpose`) and which dataset has one when `data` is not a data::TextSource.
const data::TextSource& requireTextSource(const data::DataSource& data, const std::string& evaluator,
                                          const std::string& purpose);

/// The model's GenerativeHead; an error naming `evaluator` and the fix when it has none.
model::GenerativeHead& requireGenerativeHead(model::Model& model, const std::string& evaluator);

/// The generation settings of a vqa/caption evaluator's options (num_beams, max_len, min_len,
/// length_penalty), checked: an error naming the option when one is out of range.
model::GenerationOptions generationOptions(std::int64_t numBeams, std::int64_t maxLen, std::int64_t minLen,
                                           double lengthPenalty);

/// The whitespace-separated pieces of `text` that hold a word `source` does not know, in order,
/// without surrounding punctuation ("query:" -> "query"), for error messages.
std::vector<std::string> unknownWords(const data::TextSource& source, const std::string& text);

/// `pattern` with every "{}" replaced by `value`.
std::string fillPlaceholder(std::string pattern, const std::string& value);

/// The token ids of a generation prompt: [BOS] and the words of `prompt`, no [EOS]. An error
/// naming `optionKey` when a word is unknown or the prompt is longer than the source's texts.
std::vector<std::int64_t> encodePrompt(const data::TextSource& source, const std::string& prompt,
                                       const std::string& evaluator, const std::string& optionKey);

/// The split field of the metric keys of an evaluation of the first `limit` (-1 = all) of the `size`
/// examples of `split`: "test" when every example is used, else "test[:N]", so that a subset never
/// passes for the full split.
std::string limitedSplitName(const std::string& split, std::int64_t limit, std::int64_t size);

/// A metric key field made of free text ("yes/no" -> "yes_no"): '/' and spaces become '_', as
/// `prunelab score` names its per-type keys.
std::string metricKeyField(const std::string& text);

/// Where an evaluator writes a file named by option `option`: the option itself when absolute, else
/// under the run's folder `outputDir`; empty (write nothing) when the option is "" or when it is
/// relative and there is no run folder (an evaluator called outside a run).
std::filesystem::path outputFile(const std::string& option, const std::filesystem::path& outputDir);

/// `file` with `suffix` added to its stem: ("d/p.json", "_questions") -> "d/p_questions.json".
std::filesystem::path withStemSuffix(const std::filesystem::path& file, const std::string& suffix);

}  // namespace prunelab::evaluators
