#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "framework/config/Composer.h"
#include "framework/run/Registries.h"
#include "framework/run/RunOptions.h"

namespace prunelab::run {

/// A composed, resolved and validated job: everything checked before any weight is loaded.
struct Job {
  config::Composition composition;  ///< unresolved composition (saved as .hydra/config.yaml)
  YAML::Node resolved;              ///< interpolations resolved
  YAML::Node normalized;            ///< resolved, with every plugin option's default filled in
  std::string configHash;           ///< sha256 of the normalized config (minus output settings)
  RunOptions options;               ///< the top-level run options
  int jobNum = -1;                  ///< 0-based number within a sweep, -1 for a single run
};

/// The top-level config sections that hold plugins (besides RunOptions' keys and `hydra`).
const std::vector<std::string>& pluginSections();

/// Composes `overrides`, resolves interpolations and parses every plugin's options through the
/// registries. Throws prunelab::Error naming the bad key, its origin and the fix.
Job prepareJob(const config::Composer& composer, const std::vector<std::string>& overrides,
               const Registries& registries);

/// Sweep parameters declared in a config (`hydra.sweeper.params: {key: "a,b"}`), as overrides.
std::vector<std::string> configSweepParams(const YAML::Node& composed);

/// Extra jobs declared in a config (`hydra.sweeper.extra: ["pruner=none", ...]`), each a
/// space-separated list of overrides run once besides the grid of `params` (e.g. the dense
/// baseline of a sparsity sweep, which has no sparsity to sweep). Not part of Hydra.
std::vector<std::vector<std::string>> configSweepExtras(const YAML::Node& composed);

/// The key an override refers to ("+pruner.sparsity=0.5" -> "pruner.sparsity", "~a" -> "a").
std::string overrideKey(const std::string& override);

/// True when an override is a sweep (`a,b`, `range(...)`, `choice(...)`) rather than one value.
bool isSweepOverride(const std::string& override);

}  // namespace prunelab::run
