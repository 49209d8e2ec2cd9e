#pragma once

#include "framework/run/Registries.h"

namespace prunelab::models {

/// Registers every model plugin of this folder.
void registerAll(run::Registries& registries);

}  // namespace prunelab::models
