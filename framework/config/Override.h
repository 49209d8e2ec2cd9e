#pragma once

#include <optional>
#include <string>

namespace prunelab::config {

/// One command-line override, split into its prefix, key and raw value text (Hydra grammar:
/// `key=value`, `+key=value`, `++key=value`, `~key`, `~key=value`). Whether the key names a config
/// group or a config value is decided by the Composer, which knows the config directory.
struct Override {
  enum class Kind {
    Change,    ///< key=value: the key (or group default) must exist
    Add,       ///< +key=value: the key must not exist yet
    ForceAdd,  ///< ++key=value: add or change
    Delete,    ///< ~key or ~key=value
  };

  Kind kind = Kind::Change;
  /// The key without prefix: "pruner.sparsity", "pruner", "model/encoder", "db@backup".
  std::string key;
  /// The raw text after '=', untouched (quotes and escapes still in place); absent for `~key`.
  std::optional<std::string> value;
  /// The override exactly as given.
  std::string text;

  /// Parses one override; throws prunelab::Error naming the text and the expected form.
  static Override parse(const std::string& text);

  /// "", "+", "++" or "~".
  std::string prefix() const;
  /// The key part as written: prefix + key ("+db", "~pruner.sparsity").
  std::string keyElement() const { return prefix() + key; }
};

}  // namespace prunelab::config
