#pragma once

#include <string>
#include <vector>

#include "framework/run/Registries.h"

namespace prunelab::app {

/// Fills the registries with every plugin folder's plugins (the only place that knows them all).
void registerAllPlugins(run::Registries& registries);

/// The `prunelab` command line; returns the exit code. Errors are caught here (the run boundary
/// of the CLI) and printed with their fix.
int runCli(int argc, char** argv);

}  // namespace prunelab::app
