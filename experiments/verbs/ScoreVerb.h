#pragma once

#include <nlohmann/json.hpp>

#include "evaluators/score/ScoreFiles.h"
#include "experiments/verbs/Verb.h"

namespace prunelab::app {

/// The object `prunelab score ... --json` prints: metrics (key -> value, in report order), version,
/// complete, num_scored, missing_ids, unknown_ids.
nlohmann::ordered_json scoreReportJson(const evaluators::ScoreReport& report);

/// Adds the `score` subcommand with its `vqa` and `caption` subcommands: thin wrappers over
/// scoreVqaFiles / scoreCaptionFiles, so files written elsewhere (another toolkit, `prunelab data
/// export`) are scored by the same evaluators as an in-process run. Nothing is written to the store.
Verb addScoreVerb(CLI::App& app);

}  // namespace prunelab::app
