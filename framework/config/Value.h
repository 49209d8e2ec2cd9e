#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace prunelab::config {

/// OmegaConf's typing of a YAML scalar (YAML 1.1 core + float resolver, spec §1.3).
enum class ScalarKind { Null, Bool, Int, Float, String };

/// The kind of a scalar node: a quoted scalar (Tag() == "!") is always a String; a plain one is
/// typed by OmegaConf's rules: `1e-3` Float, `1_000` Int, `yes/No/ON` Bool, `~`/`null`/empty Null,
/// `.inf`/`inf`/`nan` Float; `y`/`n` are Strings.
ScalarKind scalarKind(const YAML::Node& node);

/// Typed accessors; each throws prunelab::Error naming `key` and the expected type when the node
/// is not of that kind (an Int is accepted where a Float is expected).
bool asBool(const YAML::Node& node, const std::string& key);
std::int64_t asInt(const YAML::Node& node, const std::string& key);
double asDouble(const YAML::Node& node, const std::string& key);
std::string asString(const YAML::Node& node, const std::string& key);

/// A scalar node holding a string that stays a string (quoted: Tag "!").
YAML::Node stringNode(const std::string& s);

/// Parses one override value the way Hydra's grammar does (int, float, bool, null, quoted string,
/// [list], {dict}, plain string, `\` escapes) into a YAML node carrying the right kind.
YAML::Node parseValue(const std::string& text);

/// Converts a (resolved) config to JSON with typed scalars; object keys keep YAML order.
/// JSON has no inf/nan: nlohmann writes them as null when dumped.
nlohmann::ordered_json toJson(const YAML::Node& node);

/// Sorted-key compact JSON of a config, the text hashed into config_hash.
std::string canonicalJson(const YAML::Node& node);

/// Flattens a config into dotted keys -> scalar text (lists as JSON), for the store's params table.
std::map<std::string, std::string> flatten(const YAML::Node& node);

/// Deep copy of a node (yaml-cpp nodes share structure on copy). Anchored/aliased nodes become
/// independent copies, so editing one place of the copy never changes another.
YAML::Node clone(const YAML::Node& node);

/// The text of a scalar as a user reads it: `1_000` -> "1000", `yes` -> "true", `1e-3` -> "0.001",
/// `.inf` -> "inf", null -> "null"; strings unchanged. Lists and mappings give compact JSON.
std::string scalarText(const YAML::Node& node);

/// The YAML text of a config such that reading it back gives the same kinds: strings that would
/// otherwise read as another kind (`'1'`, `'yes'`, `''`) are quoted (yaml-cpp's emitter drops the
/// quoted-ness that Tag "!" records).
std::string toYamlText(const YAML::Node& node);

}  // namespace prunelab::config
