#pragma once

#include "framework/run/Registries.h"

namespace prunelab::evaluators {

/// Registers every evaluator plugin of this folder.
void registerAll(run::Registries& registries);

}  // namespace prunelab::evaluators
