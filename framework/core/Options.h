#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "framework/config/Value.h"
#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab {

/// Options structs declare each field once, with its default as the member initializer:
///
///   struct Options {
///     double sparsity = 0.5;
///     template <class V> void visit(V& v) { v(sparsity, "sparsity", "fraction of weights to remove"); }
///   };
///
/// That one `visit` drives parsing (unknown keys and wrong types are errors with the key, its
/// origin and a "did you mean"), the YAML dump, `--help` and the config hash. A nested options
/// struct (any type with `visit`) becomes a nested mapping. An optional `void validate() const`
/// checks ranges after parsing.

template <class T, class = void>
struct HasVisit : std::false_type {};
template <class T>
struct HasVisit<T, std::void_t<decltype(std::declval<T&>().visit(std::declval<int&>()))>> : std::true_type {};

template <class T, class = void>
struct HasValidate : std::false_type {};
template <class T>
struct HasValidate<T, std::void_t<decltype(std::declval<const T&>().validate())>> : std::true_type {};

/// Human-readable type names for help and error messages.
template <class T>
std::string optionTypeName() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_integral_v<T>) return "int";
  else if constexpr (std::is_floating_point_v<T>) return "float";
  else if constexpr (std::is_same_v<T, std::string>) return "string";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return "list of strings";
  else if constexpr (std::is_same_v<T, std::vector<double>>) return "list of floats";
  else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) return "list of ints";
  else if constexpr (std::is_same_v<T, std::map<std::string, double>>) return "map of floats";
  else return "mapping";
}

namespace detail {

template <class T>
T readScalar(const YAML::Node& node, const std::string& key) {
  if constexpr (std::is_same_v<T, bool>) return config::asBool(node, key);
  else if constexpr (std::is_integral_v<T>) return static_cast<T>(config::asInt(node, key));
  else if constexpr (std::is_floating_point_v<T>) return static_cast<T>(config::asDouble(node, key));
  else if constexpr (std::is_same_v<T, std::string>) return config::asString(node, key);
  else static_assert(sizeof(T) == 0, "unsupported option scalar type");
}

template <class T>
YAML::Node writeValue(const T& value);

}  // namespace detail

/// Where a config key's value came from, for error messages ("from conf/pruner/magnitude.yaml").
using OriginMap = std::map<std::string, std::string>;

/// Reads an options struct from a YAML mapping. `path` is the dotted prefix of the mapping
/// (e.g. "pruner"), used in error messages. Keys listed in `ignoredKeys` (e.g. "type") are
/// allowed without being fields.
class OptionsReader {
 public:
  OptionsReader(const YAML::Node& node, std::string path, const OriginMap* origins,
                std::set<std::string> ignoredKeys = {})
      : node_(node), path_(std::move(path)), origins_(origins), ignored_(std::move(ignoredKeys)) {
    PL_CHECK(!node_ || node_.IsNull() || node_.IsMap(), "{}: expected a mapping of options, got a {}{}", path_,
             node_.IsSequence() ? "list" : "scalar", originOf(path_));
  }

  template <class T>
  void operator()(T& field, const char* name, const char* /*doc*/) {
    names_.push_back(name);
    if (!node_ || node_.IsNull()) return;
    YAML::Node value = node_[name];
    if (!value) return;
    const std::string key = path_.empty() ? name : path_ + "." + name;
    readInto(field, value, key);
  }

  /// Throws when the mapping holds a key no field declared; call after `visit`.
  void checkUnknown() const {
    if (!node_ || node_.IsNull()) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string k = it->first.as<std::string>();
      if (ignored_.count(k)) continue;
      bool known = false;
      for (const auto& n : names_) known = known || n == k;
      if (!known) {
        const std::string key = path_.empty() ? k : path_ + "." + k;
        std::vector<std::string> full;
        for (const auto& n : names_) full.push_back(path_.empty() ? n : path_ + "." + n);
        for (const auto& n : ignored_) full.push_back(path_.empty() ? n : path_ + "." + n);
        PL_THROW("Unknown config key '{}'{}{}. Valid keys here: {}", key, originOf(key), didYouMean(key, full),
                 quotedList(full));
      }
    }
  }

  /// " (from FILE)" for a key, or "" when the origin is unknown.
  std::string originOf(const std::string& key) const {
    if (!origins_) return "";
    auto it = origins_->find(key);
    if (it != origins_->end()) return " (from " + it->second + ")";
    // A whole mapping set by one source: look for the nearest parent with a recorded origin.
    for (const auto& [k, v] : *origins_) {
      if (k.size() > key.size() && k.compare(0, key.size(), key) == 0 && k[key.size()] == '.')
        return " (from " + v + ")";
    }
    return "";
  }

 private:
  template <class T>
  void readInto(T& field, const YAML::Node& value, const std::string& key) {
    try {
      if constexpr (HasVisit<T>::value) {
        OptionsReader sub(value, key, origins_);
        field.visit(sub);
        sub.checkUnknown();
      } else if constexpr (std::is_same_v<T, std::map<std::string, double>>) {
        PL_CHECK(value.IsMap() || value.IsNull(), "{}: expected a mapping of floats", key);
        field.clear();
        for (auto it = value.begin(); it != value.end(); ++it) {
          auto k = it->first.as<std::string>();
          field[k] = config::asDouble(it->second, key + "." + k);
        }
      } else if constexpr (std::is_same_v<T, std::vector<std::string>> || std::is_same_v<T, std::vector<double>> ||
                           std::is_same_v<T, std::vector<std::int64_t>>) {
        using E = typename T::value_type;
        field.clear();
        if (value.IsNull()) return;
        PL_CHECK(value.IsSequence(), "{}: expected a {}, got '{}'", key, optionTypeName<T>(),
                 value.IsScalar() ? value.Scalar() : std::string("a mapping"));
        for (std::size_t i = 0; i < value.size(); ++i)
          field.push_back(detail::readScalar<E>(value[i], key + "[" + std::to_string(i) + "]"));
      } else {
        PL_CHECK(value.IsScalar() || value.IsNull(), "{}: expected a {}, got a {}", key, optionTypeName<T>(),
                 value.IsMap() ? "mapping" : "list");
        field = detail::readScalar<T>(value, key);
      }
    } catch (const Error& e) {
      const std::string origin = originOf(key);
      if (origin.empty() || std::string(e.what()).find("(from ") != std::string::npos) throw;
      throw Error(std::string(e.what()) + origin, e.file(), e.line());
    }
  }

  YAML::Node node_;
  std::string path_;
  const OriginMap* origins_;
  std::set<std::string> ignored_;
  std::vector<std::string> names_;
};

/// Writes an options struct back to YAML (the resolved, typed view with every default filled in).
class OptionsWriter {
 public:
  template <class T>
  void operator()(const T& field, const char* name, const char* /*doc*/) {
    node_[name] = detail::writeValue(field);
  }
  YAML::Node node() const { return node_; }

 private:
  YAML::Node node_{YAML::NodeType::Map};
};

/// One line of `--help` per field: "  key (type, default X): doc".
struct OptionHelp {
  std::string key, type, defaultValue, doc;
};

class OptionsHelpCollector {
 public:
  explicit OptionsHelpCollector(std::string prefix = "") : prefix_(std::move(prefix)) {}
  template <class T>
  void operator()(const T& field, const char* name, const char* doc) {
    const std::string key = prefix_.empty() ? name : prefix_ + "." + name;
    if constexpr (HasVisit<T>::value) {
      OptionsHelpCollector sub(key);
      const_cast<T&>(field).visit(sub);
      for (auto& h : sub.lines_) lines_.push_back(h);
    } else {
      YAML::Emitter out;
      out << YAML::Flow << detail::writeValue(field);
      lines_.push_back({key, optionTypeName<T>(), out.c_str(), doc});
    }
  }
  const std::vector<OptionHelp>& lines() const { return lines_; }

 private:
  std::string prefix_;
  std::vector<OptionHelp> lines_;
};

namespace detail {
template <class T>
YAML::Node writeValue(const T& value) {
  if constexpr (HasVisit<T>::value) {
    OptionsWriter w;
    const_cast<T&>(value).visit(w);
    return w.node();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return config::stringNode(value);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    YAML::Node n(YAML::NodeType::Sequence);
    for (const auto& v : value) n.push_back(config::stringNode(v));
    return n;
  } else if constexpr (std::is_same_v<T, std::map<std::string, double>>) {
    YAML::Node n(YAML::NodeType::Map);
    for (const auto& [k, v] : value) n[k] = v;
    return n;
  } else if constexpr (std::is_same_v<T, bool>) {
    return YAML::Node(value ? "true" : "false");
  } else if constexpr (std::is_floating_point_v<T>) {
    // Keep floats recognisable as floats when re-read (1.0, not 1).
    std::string s = fmt::format("{}", value);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return YAML::Node(s);
  } else {
    return YAML::Node(value);
  }
}
}  // namespace detail

/// Parses `node` (at dotted `path`) into a fresh T, rejecting unknown keys (except `ignored`) and
/// running T::validate() when present.
template <class T>
T parseOptions(const YAML::Node& node, const std::string& path, const OriginMap* origins = nullptr,
               std::set<std::string> ignored = {"type"}) {
  T options;
  OptionsReader reader(node, path, origins, std::move(ignored));
  options.visit(reader);
  reader.checkUnknown();
  if constexpr (HasValidate<T>::value) {
    try {
      options.validate();
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", path, e.what()), e.file(), e.line());
    }
  }
  return options;
}

/// The YAML view of an options struct (all fields, defaults filled in).
template <class T>
YAML::Node dumpOptions(const T& options) {
  return detail::writeValue(options);
}

/// Help lines of an options struct's fields.
template <class T>
std::vector<OptionHelp> optionsHelp() {
  T options;
  OptionsHelpCollector c;
  options.visit(c);
  return c.lines();
}

}  // namespace prunelab
