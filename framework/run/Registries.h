#pragma once

#include "framework/core/Registry.h"
#include "framework/data/Dataset.h"
#include "framework/model/Model.h"
#include "framework/prune/Pruner.h"
#include "framework/run/Evaluator.h"

namespace prunelab::run {

/// One typed registry per plugin kind; passed by reference (no singletons), filled by each plugin
/// folder's registerAll, so a test can build one holding only fakes.
struct Registries {
  Registry<model::Model> models{"model"};
  Registry<data::DataSource> datasets{"dataset"};
  Registry<prune::Pruner> pruners{"pruner"};
  Registry<Evaluator> evaluators{"evaluator"};
};

}  // namespace prunelab::run
