#pragma once

#include "framework/run/Registries.h"

namespace prunelab::pruners {

/// Registers every pruner plugin of this folder.
void registerAll(run::Registries& registries);

}  // namespace prunelab::pruners
