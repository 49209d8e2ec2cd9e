#pragma once

#include <string>
#include <vector>

#include "experiments/verbs/Verb.h"

namespace prunelab::app {

/// The overrides `prunelab train` runs with: the user's (model=..., dataset=..., model.epochs=...)
/// plus a dense, evaluation-free job named "train". Overrides that pick a pruner or evaluators are
/// an error: training a model has nothing to prune or score (use `prunelab run` for that).
std::vector<std::string> trainOverrides(const std::vector<std::string>& userOverrides);

/// Adds the `train` subcommand: one recorded run that only prepares the model, so its weights are
/// trained (progress line, training curves in the store) and cached under the recipe hash, or
/// found in the cache and loaded in seconds.
Verb addTrainVerb(CLI::App& app);

}  // namespace prunelab::app
