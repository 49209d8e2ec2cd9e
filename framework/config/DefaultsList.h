#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "framework/config/YamlFile.h"

namespace prunelab::config {

/// One config file's body, to be merged into the composed config at `package`, in list order.
struct ConfigSource {
  std::filesystem::path file;
  /// The file as named in origins and errors: "conf/model/mlp.yaml".
  std::string display;
  /// Dotted key the body lands under; "" for the root (`# @package _global_`).
  std::string package;
  /// The file's content without its `defaults` list.
  YAML::Node body;
};

/// Hydra's defaults list: starting from the primary config, expands every `defaults:` entry
/// depth-first (`group: option`, `optional`, `override`, `null`, `/absolute`, `group@pkg`, plain
/// config names, `_self_`), after applying the command line's group overrides (`g=opt`, `+g=opt`,
/// `++g=opt`, `~g`, `~g=opt`). The result is the ordered list of files to merge and the choices.
///
/// Override precedence follows Hydra: command line first, then `override` entries in the order
/// Hydra registers them (it expands each list back to front, so of two configs overriding the same
/// group the one that comes later in the final list wins).
/// Not supported (error when met): several options for a group (`db: [a, b]`) and interpolations
/// in the defaults list.
class DefaultsList {
 public:
  /// `dir` is the config directory; files are named "<dir's name>/<relative path>" in messages.
  explicit DefaultsList(std::filesystem::path dir);

  /// `g=opt` (or `g=null` with `isNull`): replaces the option of group `key` in the defaults list.
  /// With `appendIfMissing` (`++g=opt`), appends to the primary list when the group is not there.
  void overrideGroup(const std::string& key, const std::string& option, bool isNull, const std::string& source,
                     bool appendIfMissing = false);
  /// `+g=opt`: appends a group entry to the primary config's defaults list.
  void appendGroup(const std::string& key, const std::string& option, const std::string& source);
  /// `~g` / `~g=opt`: removes the group from the defaults list (the second only if its choice is opt).
  void deleteGroup(const std::string& key, std::optional<std::string> option, const std::string& source);

  /// Expands the primary config (`primary` is a name without `.yaml`, relative to the directory).
  void build(const std::string& primary);

  /// The files to merge, in order.
  const std::vector<ConfigSource>& sources() const { return sources_; }
  /// Group choices: override key ("pruner", "model/encoder", "db@backup") -> option, or "null".
  std::map<std::string, std::string> choices() const;

  /// Option names (file stems) of a group directory, sorted; empty when there is no such group.
  static std::vector<std::string> optionsIn(const std::filesystem::path& dir, const std::string& group);
  /// Every group (sub-directory path) under the config directory, sorted.
  static std::vector<std::string> groupsIn(const std::filesystem::path& dir);
  /// How a file under `dir` is named in messages and origins.
  static std::string displayName(const std::filesystem::path& dir, const std::filesystem::path& file);

 private:
  /// One item of a `defaults:` list, with paths made absolute.
  struct Entry {
    enum class Kind { Self, Group, Config };
    Kind kind = Kind::Self;
    bool optional = false;
    bool isOverride = false;
    std::string written;    // the entry as written, for messages
    std::string groupPath;  // Group: the group ("model/encoder"); Config: the config's folder ("" at the root)
    std::string relGroup;   // the group relative to the containing config, which gives the default package
    std::optional<std::string> package;  // an explicit `@pkg`, normalised as Hydra does
    std::string name;                    // Group: the option; Config: the config name
    bool isNull = false;
    std::string source;     // containing file, or the command-line override
    bool appended = false;  // added by +g=opt / ++g=opt
  };
  struct Choice {
    std::string option;
    bool isNull = false;
    std::string source;
    bool external = false;
    bool appendIfMissing = false;
    bool used = false;
  };
  struct Deletion {
    std::optional<std::string> option;
    std::string source;
    bool used = false;
  };
  struct Selected {
    std::string option;
    std::string source;
    bool appended = false;
  };

  void expandConfig(const YamlFile& file, const std::filesystem::path& path, const std::string& display,
                    const std::string& baseDir, const std::string& package, bool isRoot,
                    std::vector<ConfigSource>& out);
  void expandGroup(const Entry& e, const std::string& parentPackage, std::vector<ConfigSource>& out);
  void expandConfigEntry(const Entry& e, const std::string& parentPackage, std::vector<ConfigSource>& out);
  std::vector<Entry> parseEntries(const YAML::Node& defaults, const std::string& display,
                                  const std::string& baseDir) const;
  void select(const std::string& key, const std::string& option, const std::string& source, bool appended);
  void checkAllUsed() const;
  [[noreturn]] void unknownOption(const std::string& group, const std::string& option, const std::string& source) const;

  std::filesystem::path dir_;
  std::vector<Entry> appended_;
  std::map<std::string, Choice> overrides_;
  std::map<std::string, Deletion> deletions_;
  std::map<std::string, Selected> selected_;
  std::vector<std::string> expanding_;  // files being expanded, to catch include cycles
  std::vector<ConfigSource> sources_;
};

}  // namespace prunelab::config
