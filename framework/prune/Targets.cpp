#include "framework/prune/Targets.h"

#include <fnmatch.h>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::prune {

bool globMatch(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

std::vector<model::LinearRef> selectTargets(const std::vector<model::LinearRef>& linears,
                                            const std::vector<std::string>& include,
                                            const std::vector<std::string>& exclude) {
  std::vector<std::string> names;
  for (const auto& l : linears) names.push_back(l.name);
  for (const auto& pattern : include) {
    bool any = false;
    for (const auto& n : names) any = any || globMatch(pattern, n);
    if (!any) {
      std::vector<std::string> shown(names.begin(), names.begin() + std::min<std::size_t>(names.size(), 8));
      PL_THROW("target pattern '{}' matches no linear of this model{}; its linears include {}{}. Fix the "
               "pruner's targets list",
               pattern, didYouMean(pattern, names), quotedList(shown), names.size() > 8 ? ", ..." : "");
    }
  }
  std::vector<model::LinearRef> out;
  for (const auto& l : linears) {
    bool in = false, out_ = false;
    for (const auto& p : include) in = in || globMatch(p, l.name);
    for (const auto& p : exclude) out_ = out_ || globMatch(p, l.name);
    if (in && !out_) out.push_back(l);
  }
  return out;
}

}  // namespace prunelab::prune
