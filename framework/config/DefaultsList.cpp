#include "framework/config/DefaultsList.h"

#include <algorithm>
#include <sstream>

#include "framework/config/ConfigTree.h"
#include "framework/config/Value.h"
#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace fs = std::filesystem;

namespace prunelab::config {

namespace {

std::string joinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

std::string dotted(const std::string& path) {
  std::string out = path;
  std::replace(out.begin(), out.end(), '/', '.');
  return out;
}

bool hasDotDot(const std::string& path) {
  std::stringstream in(path);
  std::string seg;
  while (std::getline(in, seg, '/'))
    if (seg == "..") return true;
  return false;
}

// Hydra's InputDefault._get_final_package: the package relative to the parent's, cut at the last
// `_global_` (which makes what follows absolute).
std::string finalPackage(const std::string& parentPackage, const std::optional<std::string>& package,
                         const std::string& relGroup) {
  const std::string pkg = package ? *package : dotted(relGroup);
  std::string ret;
  if (parentPackage.empty()) {
    ret = pkg;
  } else {
    ret = pkg.empty() ? parentPackage : parentPackage + "." + pkg;
  }
  const std::size_t g = ret.rfind("_global_");
  if (g == std::string::npos) return ret;
  const std::size_t after = g + std::string("_global_").size() + 1;
  return after >= ret.size() ? "" : ret.substr(after);
}

// `# @package X` is absolute: Hydra prefixes it with `_global_`.
std::optional<std::string> headerPackage(const std::optional<std::string>& header) {
  if (!header || *header == "_group_") return std::nullopt;
  if (*header == "_global_" || header->rfind("_global_.", 0) == 0) return *header;
  if (header->empty()) return std::string("_global_");
  return "_global_." + *header;
}

}  // namespace

DefaultsList::DefaultsList(fs::path dir) : dir_(std::move(dir)) {}

std::string DefaultsList::displayName(const fs::path& dir, const fs::path& file) {
  fs::path root = dir.lexically_normal();
  if (root.filename().empty()) root = root.parent_path();
  std::string name = root.filename().string();
  if (name.empty() || name == "." || name == "..") {
    fs::path abs = fs::absolute(root).lexically_normal();
    if (abs.filename().empty()) abs = abs.parent_path();
    name = abs.filename().string();
  }
  return (fs::path(name) / file.lexically_relative(dir)).lexically_normal().generic_string();
}

std::vector<std::string> DefaultsList::optionsIn(const fs::path& dir, const std::string& group) {
  std::vector<std::string> out;
  std::error_code ec;
  const fs::path g = dir / group;
  if (!fs::is_directory(g, ec)) return out;
  for (const auto& entry : fs::directory_iterator(g, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") out.push_back(entry.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> DefaultsList::groupsIn(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it.depth() > 4) it.disable_recursion_pending();
    if (it->is_directory()) out.push_back(it->path().lexically_relative(dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void DefaultsList::overrideGroup(const std::string& key, const std::string& option, bool isNull,
                                 const std::string& source, bool appendIfMissing) {
  Choice c;
  c.option = option;
  c.isNull = isNull;
  c.source = source;
  c.external = true;
  c.appendIfMissing = appendIfMissing;
  overrides_[key] = c;  // the command line's last word wins
}

void DefaultsList::appendGroup(const std::string& key, const std::string& option, const std::string& source) {
  Entry e;
  e.kind = Entry::Kind::Group;
  const std::size_t at = key.find('@');
  const std::string group = key.substr(0, at);
  if (at != std::string::npos) e.package = key.substr(at + 1);
  e.written = key + ": " + option;
  e.groupPath = group;
  e.relGroup = group;
  e.name = option;
  e.isNull = option == "null";
  e.source = source;
  e.appended = true;
  appended_.push_back(e);
}

void DefaultsList::deleteGroup(const std::string& key, std::optional<std::string> option, const std::string& source) {
  deletions_[key] = Deletion{std::move(option), source, false};
}

std::map<std::string, std::string> DefaultsList::choices() const {
  std::map<std::string, std::string> out;
  for (const auto& [k, s] : selected_) out[k] = s.option;
  return out;
}

void DefaultsList::build(const std::string& primary) {
  std::string name = primary;
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".yaml") == 0) name.resize(name.size() - 5);
  const fs::path file = dir_ / (name + ".yaml");
  if (!fs::is_regular_file(file)) {
    std::vector<std::string> available;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec))
      if (entry.is_regular_file() && entry.path().extension() == ".yaml")
        available.push_back(entry.path().stem().string());
    std::sort(available.begin(), available.end());
    PL_THROW("Could not find the primary config '{}' ({}){}. Available: {}. Pick one with --config-name or create it",
             name, file.string(), didYouMean(name, available), available.empty() ? "none" : quotedList(available));
  }
  const std::string display = displayName(dir_, file);
  const std::string baseDir = fs::path(name).parent_path().generic_string();
  const YamlFile loaded = YamlFile::load(file, display);

  // `++g=opt` is an override when the group is in the list, else an append: try, then append the
  // unused ones and expand again.
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (auto& [k, c] : overrides_)
      if (c.external) c.used = false;
    for (auto it = overrides_.begin(); it != overrides_.end();)
      it = it->second.external ? std::next(it) : overrides_.erase(it);
    for (auto& [k, d] : deletions_) d.used = false;
    selected_.clear();
    sources_.clear();
    expanding_.clear();
    expandConfig(loaded, file, display, baseDir, "", true, sources_);
    bool again = false;
    for (auto it = overrides_.begin(); it != overrides_.end();) {
      if (it->second.external && it->second.appendIfMissing && !it->second.used) {
        appendGroup(it->first, it->second.isNull ? "null" : it->second.option, it->second.source);
        it = overrides_.erase(it);
        again = true;
      } else {
        ++it;
      }
    }
    if (!again) break;
  }
  checkAllUsed();
}

std::vector<DefaultsList::Entry> DefaultsList::parseEntries(const YAML::Node& defaults, const std::string& display,
                                                            const std::string& baseDir) const {
  std::vector<Entry> out;
  if (!defaults.IsDefined() || defaults.IsNull()) return out;
  PL_CHECK(defaults.IsSequence(), "In {}: 'defaults' must be a list (- group: option lines), got a {}", display,
           defaults.IsMap() ? "mapping" : "single value");
  const char* expected =
      "Expected one of: 'group: option', 'optional group: option', 'override group: option', 'group: null', a config "
      "name, or _self_";
  for (const auto& item : defaults) {
    Entry e;
    e.source = display;
    std::string path;
    if (item.IsScalar()) {
      e.written = item.Scalar();
      if (e.written == "_self_") {
        e.kind = Entry::Kind::Self;
        out.push_back(e);
        continue;
      }
      e.kind = Entry::Kind::Config;
      path = e.written;
    } else if (item.IsMap() && item.size() == 1) {
      const auto it = item.begin();
      PL_CHECK(it->first.IsScalar(), "In {}: bad defaults entry. {}", display, expected);
      std::istringstream words(it->first.Scalar());
      std::vector<std::string> tokens;
      for (std::string w; words >> w;) tokens.push_back(w);
      PL_CHECK(!tokens.empty(), "In {}: a defaults entry has an empty key. {}", display, expected);
      for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
        if (tokens[i] == "optional") {
          e.optional = true;
        } else if (tokens[i] == "override") {
          e.isOverride = true;
        } else {
          PL_THROW("In {}: unknown keyword '{}' in defaults entry '{}'. {}", display, tokens[i], it->first.Scalar(),
                   expected);
        }
      }
      e.kind = Entry::Kind::Group;
      path = tokens.back();
      const YAML::Node v = it->second;
      if (v.IsNull()) {
        e.isNull = true;
        e.written = it->first.Scalar() + ": null";
      } else if (v.IsScalar()) {
        e.name = v.Scalar();
        e.written = it->first.Scalar() + ": " + e.name;
        PL_CHECK(e.name.find("${") == std::string::npos,
                 "In {}: '{}': interpolations in the defaults list are not supported; choose the option on the command "
                 "line ({}=...)",
                 display, e.written, path);
      } else {
        PL_THROW("In {}: '{}' lists several options; pick one option per group (several are not supported)", display,
                 it->first.Scalar());
      }
    } else {
      PL_THROW("In {}: bad defaults entry. {}", display, expected);
    }
    PL_CHECK(!hasDotDot(path),
             "In {}: '{}' uses '..', which defaults lists do not allow. Use an absolute path starting with '/', e.g. "
             "/group: option",
             display, e.written);
    const std::size_t at = path.find('@');
    if (at != std::string::npos) {
      std::string pkg = path.substr(at + 1);
      path = path.substr(0, at);
      if (pkg == "_here_") pkg = "";
      e.package = pkg;
    }
    const bool absolute = !path.empty() && path[0] == '/';
    const std::string rel = absolute ? path.substr(1) : path;
    PL_CHECK(!rel.empty(), "In {}: defaults entry '{}' has an empty path", display, e.written);
    if (e.kind == Entry::Kind::Group) {
      e.groupPath = absolute ? rel : joinPath(baseDir, rel);
      e.relGroup = rel;
    } else {
      const std::size_t slash = rel.rfind('/');
      const std::string folder = slash == std::string::npos ? "" : rel.substr(0, slash);
      e.name = slash == std::string::npos ? rel : rel.substr(slash + 1);
      e.groupPath = absolute ? folder : joinPath(baseDir, folder);
      e.relGroup = folder;
    }
    if (e.package && e.package->find("_group_") != std::string::npos) {
      std::string pkg = *e.package;
      const std::string group = dotted(e.groupPath);
      for (std::size_t p; (p = pkg.find("_group_")) != std::string::npos;) pkg.replace(p, 7, group);
      e.package = "_global_." + pkg;
    }
    out.push_back(e);
  }
  return out;
}

void DefaultsList::expandConfig(const YamlFile& file, const fs::path& path, const std::string& display,
                                const std::string& baseDir, const std::string& package, bool isRoot,
                                std::vector<ConfigSource>& out) {
  if (std::find(expanding_.begin(), expanding_.end(), display) != expanding_.end()) {
    std::string chain;
    for (const auto& d : expanding_) chain += d + " -> ";
    PL_THROW("Defaults list cycle: {}{}. Remove one of these includes", chain, display);
  }
  expanding_.push_back(display);

  YAML::Node body = file.body;
  YAML::Node defaultsNode;
  if (body.IsMap()) {
    if (auto d = child(body, "defaults")) {
      defaultsNode = *d;
      YAML::Node rest(YAML::NodeType::Map);
      for (auto it = body.begin(); it != body.end(); ++it)
        if (it->first.Scalar() != "defaults") rest[it->first.Scalar()] = it->second;
      body.reset(rest);
    }
  }
  std::vector<Entry> entries = parseEntries(defaultsNode, display, baseDir);
  if (isRoot) entries.insert(entries.end(), appended_.begin(), appended_.end());

  std::size_t selfCount = 0;
  for (const auto& e : entries) selfCount += e.kind == Entry::Kind::Self ? 1 : 0;
  PL_CHECK(selfCount <= 1, "In {}: _self_ appears {} times in the defaults list; keep one", display, selfCount);
  if (selfCount == 0) entries.push_back(Entry{});  // the config's own body merges last (Hydra >= 1.1)

  // Register this list's `override` entries before expanding anything (Hydra's _update_overrides).
  const Entry* lastOverride = nullptr;
  for (const auto& e : entries) {
    if (e.kind == Entry::Kind::Self) continue;
    if (e.isOverride) {
      PL_CHECK(e.kind == Entry::Kind::Group, "In {}: 'override' applies to group entries only ('{}')", display,
               e.written);
      lastOverride = &e;
      std::optional<std::string> pkg = e.package;
      const std::string fin = finalPackage(package, pkg, e.relGroup);
      std::string key = e.groupPath;
      if (fin != dotted(e.groupPath)) key += "@" + (fin.empty() ? std::string("_global_") : fin);
      if (!overrides_.count(key)) {
        Choice c;
        c.option = e.name;
        c.isNull = e.isNull;
        c.source = display;
        overrides_[key] = c;
      }
    } else if (lastOverride) {
      PL_THROW(
          "In {}: '{}' must come after the non-override entries of the defaults list, but '{}' follows it. "
          "Move the override entries to the end of the list",
          display, lastOverride->written, e.written);
    }
  }

  // Expand back to front, as Hydra does: later entries register their overrides before earlier
  // entries pick their options.
  std::vector<std::vector<ConfigSource>> parts(entries.size());
  for (std::size_t i = entries.size(); i-- > 0;) {
    const Entry& e = entries[i];
    if (e.kind == Entry::Kind::Self) {
      parts[i].push_back(ConfigSource{path, display, package, body});
    } else if (e.isOverride) {
      continue;
    } else if (e.kind == Entry::Kind::Group) {
      expandGroup(e, package, parts[i]);
    } else {
      expandConfigEntry(e, package, parts[i]);
    }
  }
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  expanding_.pop_back();
}

void DefaultsList::expandGroup(const Entry& e, const std::string& parentPackage, std::vector<ConfigSource>& out) {
  const std::string defaultPackage = dotted(e.groupPath);
  const std::string fin = finalPackage(parentPackage, e.package, e.relGroup);
  std::string key = e.groupPath;
  if (fin != defaultPackage) key += "@" + (fin.empty() ? std::string("_global_") : fin);

  std::string option = e.name;
  bool isNull = e.isNull;
  std::string source = e.source;
  auto ov = overrides_.find(key);
  if (ov != overrides_.end()) {
    option = ov->second.option;
    isNull = ov->second.isNull;
    source = ov->second.source;
    ov->second.used = true;
  }
  auto del = deletions_.find(key);
  if (del != deletions_.end()) {
    const std::string current = isNull ? "null" : option;
    PL_CHECK(!del->second.option || *del->second.option == current,
             "Could not delete group '{}' with '{}': its choice is '{}', not '{}'. Use ~{} to delete it whatever the "
             "choice",
             key, del->second.source, current, del->second.option.value_or(""), key);
    del->second.used = true;
    return;
  }
  select(key, isNull ? "null" : option, source, e.appended);
  if (isNull) return;
  if (option == "???") {
    const auto options = optionsIn(dir_, e.groupPath);
    PL_THROW(
        "You must choose an option for group '{}' (its default in {} is '?\?\?'): add {}=<option> to the command "
        "line. Available: {}",
        e.groupPath, e.source, e.groupPath, options.empty() ? "none" : quotedList(options));
  }
  const fs::path file = dir_ / e.groupPath / (option + ".yaml");
  if (!fs::is_regular_file(file)) {
    if (e.optional) return;
    unknownOption(e.groupPath, option, source);
  }
  const std::string display = displayName(dir_, file);
  const YamlFile loaded = YamlFile::load(file, display);
  const std::optional<std::string> pkg = e.package ? e.package : headerPackage(loaded.package);
  expandConfig(loaded, file, display, e.groupPath, finalPackage(parentPackage, pkg, e.relGroup), false, out);
}

void DefaultsList::expandConfigEntry(const Entry& e, const std::string& parentPackage, std::vector<ConfigSource>& out) {
  const std::string configPath = joinPath(e.groupPath, e.name);
  const fs::path file = dir_ / (configPath + ".yaml");
  if (!fs::is_regular_file(file)) {
    const auto available = optionsIn(dir_, e.groupPath);
    PL_THROW("In {}: could not find config '{}' (looked for {}){}. Available in '{}': {}", e.source, e.written,
             displayName(dir_, file), didYouMean(e.name, available), e.groupPath.empty() ? "." : e.groupPath,
             available.empty() ? "none" : quotedList(available));
  }
  const std::string display = displayName(dir_, file);
  const YamlFile loaded = YamlFile::load(file, display);
  const std::optional<std::string> pkg = e.package ? e.package : headerPackage(loaded.package);
  expandConfig(loaded, file, display, e.groupPath, finalPackage(parentPackage, pkg, e.relGroup), false, out);
}

void DefaultsList::select(const std::string& key, const std::string& option, const std::string& source, bool appended) {
  auto it = selected_.find(key);
  if (it == selected_.end()) {
    selected_[key] = Selected{option, source, appended};
    return;
  }
  const Selected& other = it->second;
  if (appended || other.appended) {
    const Selected& added = appended ? Selected{option, source, true} : other;
    const Selected& existing = appended ? other : Selected{option, source, false};
    PL_THROW(
        "Could not append group '{}' ({}): the defaults list already selects '{}' for it (in {}). To change it "
        "use {}={}",
        key, added.source, existing.option, existing.source, key, added.option);
  }
  PL_THROW(
      "Group '{}' is selected twice in the defaults list: '{}' (in {}) and '{}' (in {}). To replace an earlier "
      "choice write 'override {}: {}' in the later config",
      key, other.option, other.source, option, source, key, option);
}

void DefaultsList::checkAllUsed() const {
  std::vector<std::string> known;
  for (const auto& [k, s] : selected_) known.push_back(k);
  for (const auto& [key, c] : overrides_) {
    if (c.used) continue;
    if (c.external) {
      PL_THROW(
          "Could not override group '{}' with {}: the defaults list has no entry for it{}. To add it use "
          "+{}={}",
          key, c.source, didYouMean(key, known), key, c.isNull ? "null" : c.option);
    }
    const auto chosen = selected_.find(key);
    PL_CHECK(chosen == selected_.end(),
             "In {}: could not override group '{}': it was already chosen ('{}', by {}) when this config expanded. "
             "Entries expand back to front, as in Hydra, so an override reaches only groups listed before the config "
             "that holds it: move '{}' above that config's entry in the primary defaults list",
             c.source, key, chosen->second.option, chosen->second.source, key);
    PL_THROW(
        "In {}: could not override group '{}': no '{}: <option>' entry comes before it in the defaults list{}. "
        "Add one to the primary config, or drop 'override' to add the group",
        c.source, key, key, didYouMean(key, known));
  }
  for (const auto& [key, d] : deletions_) {
    PL_CHECK(d.used, "Could not delete group '{}' with {}: it is not in the defaults list{}", key, d.source,
             didYouMean(key, known));
  }
}

void DefaultsList::unknownOption(const std::string& group, const std::string& option, const std::string& source) const {
  if (!fs::is_directory(dir_ / group)) {
    const auto groups = groupsIn(dir_);
    PL_THROW("Unknown config group '{}' ({}){}. Available groups: {}", group, source, didYouMean(group, groups),
             groups.empty() ? "none" : quotedList(groups));
  }
  const auto options = optionsIn(dir_, group);
  PL_THROW("Unknown option '{}' for group '{}'{}. Available: {} (from {}). Choose one with {}=<option>", option, group,
           didYouMean(option, options), options.empty() ? "none" : quotedList(options), source, group);
}

}  // namespace prunelab::config
