#include "framework/config/YamlFile.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

#include "framework/config/ConfigTree.h"
#include "framework/config/Value.h"
#include "framework/core/Error.h"

namespace prunelab::config {

namespace {

bool isMergeKey(const YAML::Node& key) { return key.IsScalar() && key.Scalar() == "<<" && key.Tag() == "?"; }

void checkDuplicates(const YAML::Node& node, const std::string& display, const std::string& path) {
  if (node.IsMap()) {
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string k = it->first.Scalar();
      const std::string key = joinKey(path, k);
      if (!isMergeKey(it->first) && !seen.insert(k).second) {
        PL_THROW("Duplicate key '{}' in {} (line {}). Remove one of the two; YAML keeps only one of them", key, display,
                 it->first.Mark().line + 1);
      }
      checkDuplicates(it->second, display, key);
    }
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) checkDuplicates(node[i], display, joinKey(path, std::to_string(i)));
  }
}

// Copies the tree, applying YAML merge keys: own keys win over merged ones, and among merged
// mappings the earlier one in `<<: [*a, *b]` wins (PyYAML's flatten_mapping).
YAML::Node withMerges(const YAML::Node& node, const std::string& display) {
  if (node.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    out.SetStyle(node.Style());
    for (const auto& item : node) out.push_back(withMerges(item, display));
    return out;
  }
  if (!node.IsMap()) return clone(node);
  std::vector<YAML::Node> sources;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!isMergeKey(it->first)) continue;
    const YAML::Node v = it->second;
    if (v.IsMap()) {
      sources.push_back(v);
    } else if (v.IsSequence()) {
      for (const auto& s : v) {
        PL_CHECK(s.IsMap(), "{}: a '<<' merge list must hold mappings (line {})", display, s.Mark().line + 1);
        sources.push_back(s);
      }
    } else {
      PL_THROW("{}: '<<' must merge a mapping or a list of mappings (line {})", display, v.Mark().line + 1);
    }
  }
  YAML::Node out(YAML::NodeType::Map);
  out.SetStyle(node.Style());
  if (!node.Tag().empty()) out.SetTag(node.Tag());
  for (auto s = sources.rbegin(); s != sources.rend(); ++s)
    for (auto it = s->begin(); it != s->end(); ++it) out[it->first.Scalar()] = withMerges(it->second, display);
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (isMergeKey(it->first)) continue;
    if (it->first.IsScalar()) {
      out[it->first.Scalar()] = withMerges(it->second, display);
    } else {
      out.force_insert(clone(it->first), withMerges(it->second, display));
    }
  }
  return out;
}

std::optional<std::string> packageHeader(const std::string& text) {
  static const std::regex header(R"(^#\s*@package\s*:?\s*(\S*)\s*$)");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    line = line.substr(b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line[0] != '#') break;
    std::smatch m;
    if (std::regex_match(line, m, header)) return m[1].str();
  }
  return std::nullopt;
}

}  // namespace

YamlFile YamlFile::parse(const std::string& text, const std::string& displayName) {
  YamlFile f;
  YAML::Node raw;
  try {
    raw = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    PL_THROW("Could not parse {}: {} (line {}, column {}). Fix the YAML syntax there", displayName, e.msg,
             e.mark.line + 1, e.mark.column + 1);
  }
  if (!raw.IsDefined() || raw.IsNull()) {
    f.body = YAML::Node(YAML::NodeType::Null);
  } else {
    PL_CHECK(raw.IsMap(), "{}: a config file must be a mapping of keys to values, but it holds a {}", displayName,
             raw.IsSequence() ? "list" : "single value");
    checkDuplicates(raw, displayName, "");
    f.body = withMerges(raw, displayName);
  }
  f.package = packageHeader(text);
  return f;
}

YamlFile YamlFile::load(const std::filesystem::path& file, const std::string& displayName) {
  std::ifstream in(file, std::ios::binary);
  PL_CHECK(in.good(), "Could not read config file {} ({}). Check that it exists and is readable", displayName,
           file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), displayName);
}

}  // namespace prunelab::config
