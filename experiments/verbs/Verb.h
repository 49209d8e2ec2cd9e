#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "framework/run/Registries.h"

namespace prunelab::app {

/// What every verb may use: the global options (--store, --config-dir) and the plugin registries.
struct CliGlobals {
  std::string storePath = "results/prunelab.sqlite";
  std::string configDir;              ///< empty: ./experiments/conf, else the source tree's
  const run::Registries* registries = nullptr;

  /// The config folder to compose from.
  std::filesystem::path confDir() const;
};

/// A verb of the `prunelab` CLI defined in its own file (experiments/verbs/): the subcommand it
/// added, and what runs when that subcommand was given. `run` returns the exit code and throws
/// prunelab::Error on bad input; runCli catches it once and prints it.
struct Verb {
  CLI::App* command = nullptr;
  std::function<int(const CliGlobals&)> run;
};

}  // namespace prunelab::app
