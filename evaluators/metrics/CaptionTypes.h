#pragma once

#include <string>
#include <vector>

namespace prunelab::evaluators {

/// One image's captions as the pycocoevalcap scorers receive them: already tokenized strings
/// (tokens separated by spaces, e.g. the output of cocoTokenize), one hypothesis and its references.
struct ImageCaptions {
  std::string hypothesis;
  std::vector<std::string> references;
};

}  // namespace prunelab::evaluators
