#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

namespace prunelab::config {

/// One config file as OmegaConf loads it: duplicate keys are an error (yaml-cpp silently keeps
/// both), `<<: *anchor` merge keys are applied (yaml-cpp 0.7 leaves them as a plain `<<` key),
/// aliases become independent copies, and a leading `# @package X` comment is read.
struct YamlFile {
  /// The document: a mapping, or null for an empty file.
  YAML::Node body;
  /// The package header's value ("_global_", "foo.bar"), when the file has one.
  std::optional<std::string> package;

  /// Reads and checks a file; `displayName` names it in errors ("conf/model/mlp.yaml").
  static YamlFile load(const std::filesystem::path& file, const std::string& displayName);
  /// Parses YAML text the same way.
  static YamlFile parse(const std::string& text, const std::string& displayName);
};

}  // namespace prunelab::config
