#include "framework/model/Batch.h"

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

}  // namespace prunelab::model
