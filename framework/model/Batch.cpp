#include "framework/model/Batch.h"

#include <algorithm>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::model {

const torch::Tensor& Batch::at(const std::string& name) const {
  auto it = fields.find(name);
  if (it == fields.end()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : fields) names.push_back(k);
    PL_THROW("batch has no field '{}'{}; it holds {}. The dataset and the model/evaluator disagree on what a "
             "batch carries: pick a dataset that provides '{}'",
             name, didYouMean(name, names), quotedList(names), name);
  }
  return it->second;
}

std::int64_t Batch::size() const {
  if (fields.empty()) return 0;
  const auto& t = fields.begin()->second;
  return t.dim() > 0 ? t.size(0) : 1;
}

Batch concatBatches(const std::vector<Batch>& parts, const std::vector<std::string>& shared) {
  PL_CHECK(!parts.empty(), "concatBatches needs at least one batch");
  Batch out;
  for (const auto& [name, first] : parts.front().fields) {
    const bool isShared = std::find(shared.begin(), shared.end(), name) != shared.end();
    if (isShared) {
      out.set(name, first);
      continue;
    }
    std::vector<torch::Tensor> pieces;
    pieces.reserve(parts.size());
    for (const auto& p : parts) pieces.push_back(p.at(name));
    out.set(name, torch::cat(pieces, 0));
  }
  for (std::size_t i = 1; i < parts.size(); ++i)
    for (const auto& [name, t] : parts[i].fields)
      PL_CHECK(parts.front().has(name), "concatBatches: part {} has field '{}' that part 0 lacks: join states of "
               "the same kind only", i, name);
  return out;
}

}  // namespace prunelab::model
