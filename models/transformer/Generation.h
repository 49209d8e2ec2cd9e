#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "framework/model/Model.h"

namespace prunelab::models {

/// Next-token log-probabilities [N, V] for N rows: row r continues item items[r] (int64 [N]) whose
/// token ids so far are tokens[r] (int64 [N, L]; every row the same length L).
using NextTokenLogProbs = std::function<torch::Tensor(const torch::Tensor& items, const torch::Tensor& tokens)>;

/// Decodes items 0..n-1 from prompts [n, L] (token ids, the same length L for every item; callers
/// group prompts by length), greedily when options.numBeams == 1, else by beam search:
///  - [EOS] (`eos`) is masked out until options.minLength tokens were generated;
///  - each step every alive hypothesis of every unfinished item is one row of one `step` call;
///  - beam search keeps numBeams alive hypotheses per item; among the 2*numBeams best candidates
///    an [EOS] ranked within the first numBeams finishes its hypothesis with score
///    sum(log p) / length^lengthPenalty (length = generated tokens, [EOS] included), as
///    HuggingFace's BeamSearchScorer does; an item is done once it has numBeams finished
///    hypotheses and its best alive sum(log p) / length^lengthPenalty is no better than the worst
///    finished one; at maxLength the alive hypotheses finish as they are;
///  - greedy stops an item at [EOS] or after maxLength tokens.
/// Returns each item's best generated ids, without [EOS]. Ties go to the lower token id.
std::vector<std::vector<std::int64_t>> decodeTokens(const NextTokenLogProbs& step, const torch::Tensor& prompts,
                                                    const model::GenerationOptions& options, std::int64_t eos);

}  // namespace prunelab::models
