#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace prunelab::config {

/// Helpers for walking and editing a config tree by dotted key ("pruner.sparsity", "layers.0").
/// They never assign one yaml-cpp handle to another (which would alias the two nodes' data); new
/// values are deep copies.

/// Splits "a.b[0].c" into {"a", "b", "0", "c"}.
std::vector<std::string> splitKey(const std::string& dotted);

/// Joins a prefix and a child key with '.', or returns the child alone for an empty prefix.
std::string joinKey(const std::string& prefix, const std::string& child);

/// The child of a mapping with the given key (or of a sequence at a decimal index), or nullopt.
/// Never inserts into the node (yaml-cpp's operator[] can).
std::optional<YAML::Node> child(const YAML::Node& node, const std::string& key);

/// The node at a dotted key, or nullopt when any step is missing.
std::optional<YAML::Node> findKey(const YAML::Node& root, const std::string& dotted);

/// Every dotted key of the tree: all of them, or only leaves (scalars, lists, empty mappings).
std::vector<std::string> dottedKeys(const YAML::Node& root, bool leavesOnly);

/// Sets `value` (deep-copied) at `dotted`, creating missing parent mappings (a parent that is not a
/// mapping or a sequence is replaced by a mapping: callers that must not do that check first).
void setKey(YAML::Node root, const std::string& dotted, const YAML::Node& value);

/// Removes the key; returns false when it was not there.
bool removeKey(YAML::Node root, const std::string& dotted);

/// OmegaConf merge of `src` into the mapping `dst`: mappings merge recursively, everything else
/// (lists included) is replaced; a `???` in `src` does not replace a value `dst` already has.
/// Records `source` in `origins` for every leaf written (under dotted `prefix`) and forgets the
/// origins of leaves that were replaced.
void mergeInto(YAML::Node dst, const YAML::Node& src, const std::string& prefix, const std::string& source,
               std::map<std::string, std::string>* origins);

/// Records `source` for every leaf of `value` placed at `key`, forgetting origins below `key` first.
void recordOrigins(const YAML::Node& value, const std::string& key, const std::string& source,
                   std::map<std::string, std::string>* origins);

/// Forgets the origins of `key` and of every key below it.
void eraseOrigins(const std::string& key, std::map<std::string, std::string>* origins);

}  // namespace prunelab::config
