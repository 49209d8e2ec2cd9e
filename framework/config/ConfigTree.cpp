#include "framework/config/ConfigTree.h"

#include <cctype>

#include "framework/config/Value.h"
#include "framework/core/Error.h"

namespace prunelab::config {

namespace {

bool isIndex(const std::string& s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool isMissingValue(const YAML::Node& n) { return n.IsScalar() && n.Scalar() == "???"; }

// Points `handle` at `node`. Plain assignment between engaged optionals would call
// YAML::Node::operator=, which overwrites the data of the node `handle` referred to.
void rebind(std::optional<YAML::Node>& handle, const std::optional<YAML::Node>& node) {
  handle.reset();
  if (node) handle.emplace(*node);
}

void collectKeys(const YAML::Node& node, const std::string& prefix, bool leavesOnly, std::vector<std::string>& out) {
  if (node.IsMap() && node.size() > 0) {
    if (!leavesOnly && !prefix.empty()) out.push_back(prefix);
    for (auto it = node.begin(); it != node.end(); ++it)
      collectKeys(it->second, joinKey(prefix, it->first.Scalar()), leavesOnly, out);
    return;
  }
  if (!prefix.empty()) out.push_back(prefix);
}

}  // namespace

std::vector<std::string> splitKey(const std::string& dotted) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : dotted) {
    if (c == '.' || c == '[' || c == ']') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string joinKey(const std::string& prefix, const std::string& child) {
  return prefix.empty() ? child : prefix + "." + child;
}

std::optional<YAML::Node> child(const YAML::Node& node, const std::string& key) {
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
    return std::nullopt;
  }
  if (node.IsSequence() && isIndex(key)) {
    const std::size_t i = std::stoul(key);
    if (i < node.size()) return node[i];
  }
  return std::nullopt;
}

std::optional<YAML::Node> findKey(const YAML::Node& root, const std::string& dotted) {
  const auto segs = splitKey(dotted);
  if (segs.empty()) return root;
  std::optional<YAML::Node> cur = child(root, segs[0]);
  for (std::size_t i = 1; cur && i < segs.size(); ++i) rebind(cur, child(*cur, segs[i]));
  return cur;
}

std::vector<std::string> dottedKeys(const YAML::Node& root, bool leavesOnly) {
  std::vector<std::string> out;
  if (root.IsMap())
    for (auto it = root.begin(); it != root.end(); ++it) collectKeys(it->second, it->first.Scalar(), leavesOnly, out);
  return out;
}

void setKey(YAML::Node root, const std::string& dotted, const YAML::Node& value) {
  const auto segs = splitKey(dotted);
  PL_CHECK(!segs.empty(), "Cannot set an empty key");
  YAML::Node cur = root;
  for (std::size_t i = 0; i + 1 < segs.size(); ++i) {
    std::optional<YAML::Node> next = child(cur, segs[i]);
    if (!next || !(next->IsMap() || next->IsSequence())) {
      PL_CHECK(cur.IsMap() || cur.IsNull(), "Cannot set '{}': '{}' is not a mapping", dotted, segs[i]);
      cur[segs[i]] = YAML::Node(YAML::NodeType::Map);
      rebind(next, child(cur, segs[i]));
    }
    // reset() rebinds the handle; `cur = *next` would overwrite cur's data with next's.
    cur.reset(*next);
  }
  const std::string& last = segs.back();
  if (cur.IsSequence()) {
    PL_CHECK(isIndex(last) && std::stoul(last) < cur.size(), "Cannot set '{}': index {} is out of range (size {})",
             dotted, last, cur.size());
    cur[std::stoul(last)] = clone(value);
  } else {
    cur[last] = clone(value);
  }
}

bool removeKey(YAML::Node root, const std::string& dotted) {
  const auto segs = splitKey(dotted);
  if (segs.empty()) return false;
  std::optional<YAML::Node> parent = root;
  for (std::size_t i = 0; parent && i + 1 < segs.size(); ++i) rebind(parent, child(*parent, segs[i]));
  if (!parent || !child(*parent, segs.back())) return false;
  if (parent->IsSequence()) return parent->remove(std::stoul(segs.back()));
  return parent->remove(segs.back());
}

void eraseOrigins(const std::string& key, std::map<std::string, std::string>* origins) {
  if (!origins) return;
  for (auto it = origins->lower_bound(key); it != origins->end();) {
    const std::string& k = it->first;
    if (k.compare(0, key.size(), key) != 0) break;
    if (k.size() == key.size() || k[key.size()] == '.') {
      it = origins->erase(it);
    } else {
      ++it;
    }
  }
}

void recordOrigins(const YAML::Node& value, const std::string& key, const std::string& source,
                   std::map<std::string, std::string>* origins) {
  if (!origins) return;
  eraseOrigins(key, origins);
  if (value.IsMap() && value.size() > 0) {
    for (auto it = value.begin(); it != value.end(); ++it)
      recordOrigins(it->second, joinKey(key, it->first.Scalar()), source, origins);
  } else if (!key.empty()) {
    (*origins)[key] = source;
  }
}

void mergeInto(YAML::Node dst, const YAML::Node& src, const std::string& prefix, const std::string& source,
               std::map<std::string, std::string>* origins) {
  if (!src.IsMap()) return;
  for (auto it = src.begin(); it != src.end(); ++it) {
    const std::string k = it->first.Scalar();
    const std::string key = joinKey(prefix, k);
    const YAML::Node value = it->second;
    auto existing = child(dst, k);
    if (existing && existing->IsMap() && value.IsMap()) {
      mergeInto(*existing, value, key, source, origins);
      continue;
    }
    // OmegaConf: merging MISSING (???) never erases a value that is already there.
    if (existing && isMissingValue(value) && !existing->IsNull()) continue;
    dst[k] = clone(value);
    recordOrigins(value, key, source, origins);
  }
}

}  // namespace prunelab::config
