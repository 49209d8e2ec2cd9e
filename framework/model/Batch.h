#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace prunelab::model {

/// Named tensors travelling together: a data batch ("images", "labels", "tokens") or the state
/// passed between blocks ("hidden", "mask"). Small on purpose: a map with checked access.
struct Batch {
  std::map<std::string, torch::Tensor> fields;

  /// The tensor called `name`; throws an error listing the fields present when it is missing.
  const torch::Tensor& at(const std::string& name) const;
  /// True when the field exists.
  bool has(const std::string& name) const { return fields.count(name) > 0; }
  /// Sets a field (chainable).
  Batch& set(const std::string& name, torch::Tensor t) {
    fields[name] = std::move(t);
    return *this;
  }
  /// Number of examples: the first dimension of the first field (0 when empty).
  std::int64_t size() const;
};

/// Batches with the same fields joined into one, in order: every field is concatenated along
/// dim 0, except the fields named in `shared` (one tensor for all parts, such as an attention
/// mask [T,T] or a scalar), which are taken from the first part. Joining the block states of
/// several perturbations lets a model run them as one forward (Model::lossesFromBlock).
/// Throws when a part lacks a field of the first part or has one the first lacks.
Batch concatBatches(const std::vector<Batch>& parts, const std::vector<std::string>& shared = {});

}  // namespace prunelab::model
