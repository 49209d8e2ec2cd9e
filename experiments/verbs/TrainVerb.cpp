#include "experiments/verbs/TrainVerb.h"

#include <memory>

#include "framework/config/Composer.h"
#include "framework/config/Override.h"
#include "framework/core/Error.h"
#include "framework/run/Runner.h"

namespace prunelab::app {

std::vector<std::string> trainOverrides(const std::vector<std::string>& userOverrides) {
  for (const auto& text : userOverrides) {
    const auto o = config::Override::parse(text);
    const std::string group = o.key.substr(0, o.key.find_first_of("./@"));
    PL_CHECK(group != "pruner" && group != "eval",
             "'{}': train only prepares the model (nothing is pruned or evaluated); use `prunelab run` to prune or "
             "evaluate",
             text);
  }
  std::vector<std::string> out = {"pruner=none", "~eval", "name=train"};
  out.insert(out.end(), userOverrides.begin(), userOverrides.end());
  return out;
}

Verb addTrainVerb(CLI::App& app) {
  auto overrides = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand(
      "train", "train a model (or load it from the cache) as a recorded run: prunelab train model=NAME [dataset=NAME]");
  cmd->add_option("overrides", *overrides, "overrides, as for run (model=..., dataset=..., model.epochs=...)");
  return {cmd, [overrides](const CliGlobals& globals) {
            config::Composer composer(globals.confDir());
            run::RunnerSettings settings;
            settings.storePath = globals.storePath;
            settings.sourceDir = PRUNELAB_SOURCE_DIR;
            settings.argv = {"prunelab", "train"};
            settings.argv.insert(settings.argv.end(), overrides->begin(), overrides->end());
            return run::runCommand(composer, trainOverrides(*overrides), /*multirun=*/false, *globals.registries,
                                   settings);
          }};
}

}  // namespace prunelab::app
