#pragma once

#include <string>
#include <vector>

#include "framework/model/PrunableLinear.h"

namespace prunelab::prune {

/// Glob match of a canonical dotted name (`*` matches within and across dots, `?` one char,
/// `[...]` classes), e.g. "vision.blocks.*.mlp.fc1".
bool globMatch(const std::string& pattern, const std::string& name);

/// The linears whose names match any include pattern and no exclude pattern, in model order.
/// An include pattern matching no linear is an error listing some names the model has.
std::vector<model::LinearRef> selectTargets(const std::vector<model::LinearRef>& linears,
                                            const std::vector<std::string>& include,
                                            const std::vector<std::string>& exclude = {});

}  // namespace prunelab::prune
