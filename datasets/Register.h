#pragma once

#include "framework/run/Registries.h"

namespace prunelab::datasets {

/// Registers every dataset plugin of this folder.
void registerAll(run::Registries& registries);

}  // namespace prunelab::datasets
