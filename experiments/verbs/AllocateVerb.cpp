#include "experiments/verbs/AllocateVerb.h"

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::app {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

const std::vector<std::string> kMethods = {"ecoflap", "owl", "uniform"};

double numberAt(const Json& item, const std::string& key, const std::string& where) {
  PL_CHECK(item.contains(key), "{}: missing \"{}\"", where, key);
  PL_CHECK(item[key].is_number(), "{}/{}: expected a number, got {}", where, key, item[key].dump());
  const double v = item[key].get<double>();
  PL_CHECK(std::isfinite(v), "{}/{}: must be finite, got {}", where, key, item[key].dump());
  return v;
}

}  // namespace

std::vector<prune::AllocationGroup> readAllocationGroups(const fs::path& file, const std::string& method) {
  std::ifstream in(file);
  PL_CHECK(in, "cannot read groups file '{}': check the path", file.string());
  Json doc;
  try {
    doc = Json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    PL_THROW("groups file '{}' is not valid JSON at byte {}: {}", file.string(), e.byte, e.what());
  }
  const Json* list = &doc;
  std::string base = file.string() + ": ";
  if (doc.is_object()) {
    PL_CHECK(doc.contains("groups"), "{}expected an object with a \"groups\" list, or a bare list of groups",
             base);
    list = &doc["groups"];
    base += "/groups";
  } else {
    base += "";
  }
  PL_CHECK(list->is_array() && !list->empty(), "{}: expected a non-empty list of groups", base);
  std::vector<prune::AllocationGroup> groups;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Json& item = (*list)[i];
    const std::string where = fmt::format("{}/{}", base, i);
    PL_CHECK(item.is_object(), "{}: expected an object with name, numel, score", where);
    prune::AllocationGroup g;
    g.name = item.contains("name") && item["name"].is_string() ? item["name"].get<std::string>()
                                                               : fmt::format("group{}", i);
    if (item.contains("modality") && item["modality"].is_string()) g.modality = item["modality"].get<std::string>();
    const double numel = numberAt(item, "numel", where);
    PL_CHECK(numel >= 1 && numel == std::floor(numel), "{}/numel: must be a positive integer, got {}", where, numel);
    g.numel = static_cast<std::int64_t>(numel);
    if (method == "ecoflap" || item.contains("score")) {
      g.score = numberAt(item, "score", where);
      PL_CHECK(g.score >= 0, "{}/score: must be >= 0, got {}", where, g.score);
    }
    if (method == "owl" || item.contains("outlier_ratio")) g.outlierRatio = numberAt(item, "outlier_ratio", where);
    groups.push_back(g);
  }
  return groups;
}

prune::Allocation allocateFromRequest(const AllocateRequest& r, const std::vector<prune::AllocationGroup>& groups) {
  PL_CHECK(r.sparsity >= 0 && r.sparsity < 1, "--sparsity must be in [0, 1), got {}", r.sparsity);
  if (r.method == "ecoflap") {
    if (r.maxSparsity)
      PL_CHECK(*r.maxSparsity >= r.sparsity && *r.maxSparsity <= 1,
               "--max-sparsity must be in [sparsity, 1] = [{}, 1], got {}: no group can be capped below the target",
               r.sparsity, *r.maxSparsity);
    double total = 0;
    for (const auto& g : groups) total += g.score;
    PL_CHECK(total > 0, "every group's score is 0: ECoFLaP splits the budget in proportion to the scores");
    return prune::allocateEcoflap(groups, r.sparsity, r.maxSparsity);
  }
  PL_CHECK(!r.maxSparsity, "--max-sparsity applies to --method ecoflap only");
  if (r.method == "owl") {
    PL_CHECK(r.lambda >= 0 && std::isfinite(r.lambda), "--lambda must be >= 0, got {}", r.lambda);
    return prune::allocateOwl(groups, r.sparsity, r.lambda, r.numelWeightedMean);
  }
  return prune::allocateUniform(groups, r.sparsity);
}

Json allocationJson(const AllocateRequest& r, const std::vector<prune::AllocationGroup>& groups,
                    const prune::Allocation& a) {
  Json j;
  j["method"] = r.method;
  j["sparsity"] = r.sparsity;
  if (r.method == "ecoflap") j["max_sparsity"] = r.maxSparsity ? *r.maxSparsity : std::min(r.sparsity + 0.1, 1.0);
  if (r.method == "owl") {
    j["lambda"] = r.lambda;
    j["numel_weighted_mean"] = r.numelWeightedMean;
  }
  Json list = Json::array();
  for (std::size_t i = 0; i < groups.size(); ++i) {
    Json g;
    g["name"] = groups[i].name;
    g["numel"] = groups[i].numel;
    if (!a.keep.empty()) g["keep"] = a.keep[i];
    g["sparsity"] = a.sparsity[i];
    list.push_back(g);
  }
  j["groups"] = list;
  j["achieved_sparsity"] = a.achieved;
  if (r.method == "ecoflap") j["iterations"] = a.iterations;
  return j;
}

Verb addAllocateVerb(CLI::App& app) {
  auto r = std::make_shared<AllocateRequest>();
  auto json = std::make_shared<bool>(false);
  auto maxSparsity = std::make_shared<double>(-1);
  auto* cmd = app.add_subcommand("allocate", "per-group sparsities from a JSON table of groups (ECoFLaP, OWL or uniform)");
  cmd->add_option("--groups", r->groupsFile, "JSON: [{\"name\", \"numel\", \"score\", \"outlier_ratio\"}, ...]")->required();
  cmd->add_option("--sparsity", r->sparsity, "overall target sparsity in [0, 1)")->required();
  cmd->add_option("--max-sparsity", *maxSparsity, "ecoflap: no group sparser than this (default sparsity + 0.1)");
  cmd->add_option("--method", r->method, "ecoflap, owl or uniform")->capture_default_str();
  cmd->add_option("--lambda", r->lambda, "owl: half the spread of the sparsities")->capture_default_str();
  cmd->add_flag("--numel-weighted", r->numelWeightedMean, "owl: centre on the numel-weighted mean");
  cmd->add_option("--out", r->outFile, "where to write the JSON result (default: <groups>.allocation.json)");
  cmd->add_flag("--json", *json, "print the JSON result instead of the table");
  return {cmd, [r, json, maxSparsity, cmd](const CliGlobals&) {
            PL_CHECK(std::find(kMethods.begin(), kMethods.end(), r->method) != kMethods.end(),
                     "--method '{}' is not known{}; use {}", r->method, didYouMean(r->method, kMethods),
                     quotedList(kMethods));
            if (cmd->count("--max-sparsity")) r->maxSparsity = *maxSparsity;
            const auto groups = readAllocationGroups(r->groupsFile, r->method);
            const auto a = allocateFromRequest(*r, groups);
            const auto j = allocationJson(*r, groups, a);
            fs::path out = r->outFile;
            if (out.empty()) out = r->groupsFile.parent_path() / (r->groupsFile.stem().string() + ".allocation.json");
            {
              const fs::path tmp = out.string() + ".tmp";
              std::ofstream f(tmp);
              PL_CHECK(f, "cannot write '{}': check that the folder exists and is writable", out.string());
              f << j.dump(2) << "\n";
              f.close();
              fs::rename(tmp, out);
            }
            if (*json) {
              std::cout << j.dump(2) << "\n";
              return 0;
            }
            fmt::print("{:<32} {:>12} {:>12} {:>10}\n", "group", "numel", a.keep.empty() ? "" : "keep", "sparsity");
            for (std::size_t i = 0; i < groups.size(); ++i)
              fmt::print("{:<32} {:>12} {:>12} {:>10.6f}\n", groups[i].name, groups[i].numel,
                         a.keep.empty() ? std::string() : std::to_string(a.keep[i]), a.sparsity[i]);
            fmt::print("{} allocation: achieved overall sparsity {:.6f} (target {}), wrote {}\n", r->method, a.achieved,
                       r->sparsity, out.string());
            return 0;
          }};
}

}  // namespace prunelab::app
