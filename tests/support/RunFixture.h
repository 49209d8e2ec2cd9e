#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "framework/config/Composer.h"
#include "framework/run/Registries.h"
#include "framework/run/Runner.h"
#include "framework/store/RunStore.h"
#include "tests/support/Fixtures.h"

namespace prunelab::testing {

/// A test that drives whole runs in-process on the tiny seeded setup (tinyRunOverrides: tiny
/// model and data, cache and outputs in a temp folder) into an in-memory store. Skipped when
/// dataset-fashion-mnist is not installed.
class TinyRunTest : public ::testing::Test {
 protected:
  void SetUp() override;
  /// The tiny overrides plus `extra` (later overrides win).
  std::vector<std::string> overrides(const std::vector<std::string>& extra) const;
  /// One run with overrides(extra).
  run::RunOutcome run(const std::vector<std::string>& extra);

  run::Registries registries_;
  TempDir dir_;
  store::RunStore store_{":memory:"};
  config::Composer composer_{repoConfigDir()};
};

}  // namespace prunelab::testing
