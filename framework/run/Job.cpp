#include "framework/run/Job.h"

#include <sstream>

#include "framework/config/Value.h"
#include "framework/core/Hash.h"
#include "framework/core/Options.h"

namespace prunelab::run {

const std::vector<std::string>& pluginSections() {
  static const std::vector<std::string> kSections = {"model", "dataset", "pruner", "eval"};
  return kSections;
}

namespace {
std::set<std::string> nonOptionKeys() {
  std::set<std::string> keys(pluginSections().begin(), pluginSections().end());
  keys.insert("hydra");
  return keys;
}
}  // namespace

Job prepareJob(const config::Composer& composer, const std::vector<std::string>& overrides,
               const Registries& registries) {
  Job job;
  job.composition = composer.compose(overrides);
  // `hydra` holds sweep settings only (consumed by runCommand); its keys may contain dots
  // ("pruner.sparsity"), which are not config paths, so it is left out of resolution.
  YAML::Node unresolved = config::clone(job.composition.config);
  if (unresolved.IsMap()) unresolved.remove("hydra");
  job.resolved = config::resolve(unresolved);
  const OriginMap* origins = &job.composition.origins;
  const YAML::Node& cfg = job.resolved;
  PL_CHECK(cfg.IsMap(), "the composed config is not a mapping: check {}/config.yaml", composer.configDir().string());

  job.options = parseOptions<RunOptions>(cfg, "", origins, nonOptionKeys());
  job.normalized = config::clone(cfg);
  for (const char* required : {"model", "dataset", "pruner"}) {
    PL_CHECK(cfg[required] && !cfg[required].IsNull(),
             "the config has no '{}' section: select one with {}=NAME (options: {})", required, required,
             quotedList(composer.groupOptions(required)));
  }
  job.normalized["model"] = registries.models.parse(cfg["model"], "model", origins);
  job.normalized["dataset"] = registries.datasets.parse(cfg["dataset"], "dataset", origins);
  job.normalized["pruner"] = registries.pruners.parse(cfg["pruner"], "pruner", origins);
  if (cfg["eval"] && !cfg["eval"].IsNull()) {
    PL_CHECK(cfg["eval"].IsMap(), "eval: expected a mapping of evaluator name -> settings (with 'type:')");
    YAML::Node evals(YAML::NodeType::Map);
    for (auto it = cfg["eval"].begin(); it != cfg["eval"].end(); ++it) {
      const std::string name = it->first.as<std::string>();
      evals[name] = registries.evaluators.parse(it->second, "eval." + name, origins);
    }
    job.normalized["eval"] = evals;
  }
  YAML::Node hashed = config::clone(job.normalized);
  hashed.remove("output_root");
  job.configHash = sha256Hex(config::canonicalJson(hashed));
  return job;
}

std::vector<std::string> configSweepParams(const YAML::Node& composed) {
  std::vector<std::string> out;
  // Read-only lookups: assigning one yaml-cpp Node to another would rewrite the config's tree.
  const YAML::Node sweeper = composed["hydra"] ? composed["hydra"]["sweeper"] : YAML::Node();
  const YAML::Node params = sweeper ? sweeper["params"] : YAML::Node();
  if (!params || params.IsNull()) return out;
  PL_CHECK(params.IsMap(), "hydra.sweeper.params must map keys to sweep strings, e.g. pruner.sparsity: 0.3,0.5");
  for (auto it = params.begin(); it != params.end(); ++it) {
    PL_CHECK(it->second.IsScalar(), "hydra.sweeper.params.{}: expected a sweep string like 'a,b,c'",
             it->first.as<std::string>());
    out.push_back(it->first.as<std::string>() + "=" + it->second.Scalar());
  }
  return out;
}

std::vector<std::vector<std::string>> configSweepExtras(const YAML::Node& composed) {
  std::vector<std::vector<std::string>> out;
  const YAML::Node sweeper = composed["hydra"] ? composed["hydra"]["sweeper"] : YAML::Node();
  const YAML::Node extra = sweeper ? sweeper["extra"] : YAML::Node();
  if (!extra || extra.IsNull()) return out;
  PL_CHECK(extra.IsSequence(), "hydra.sweeper.extra must be a list of override strings, e.g. [\"pruner=none\"]");
  for (const auto& job : extra) {
    PL_CHECK(job.IsScalar(), "hydra.sweeper.extra: each entry is one job's overrides as a string, e.g. "
             "\"pruner=none model=mlp\"");
    std::vector<std::string> overrides;
    std::istringstream words(job.Scalar());
    for (std::string w; words >> w;) {
      PL_CHECK(!isSweepOverride(w), "hydra.sweeper.extra: '{}' is a sweep; an extra job takes single values (put "
               "sweeps in hydra.sweeper.params)", w);
      overrides.push_back(w);
    }
    PL_CHECK(!overrides.empty(), "hydra.sweeper.extra has an empty entry: give its overrides or remove it");
    out.push_back(std::move(overrides));
  }
  return out;
}

std::string overrideKey(const std::string& override) {
  std::size_t start = override.find_first_not_of("+~");
  if (start == std::string::npos) return "";
  auto eq = override.find('=', start);
  return override.substr(start, eq == std::string::npos ? std::string::npos : eq - start);
}

bool isSweepOverride(const std::string& override) {
  auto expanded = config::expandSweep({override});
  return expanded.size() != 1 || expanded[0].size() != 1 || expanded[0][0] != override;
}

}  // namespace prunelab::run
