#include "experiments/verbs/PruneMatrixVerb.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "framework/config/ConfigTree.h"
#include "framework/config/Override.h"
#include "framework/config/Value.h"
#include "framework/core/Error.h"
#include "framework/core/Options.h"
#include "framework/model/Safetensors.h"
#include "framework/prune/Selection.h"

namespace prunelab::app {

namespace fs = std::filesystem;

namespace {

// The options struct the overrides are parsed into: exactly the fine step's keys.
struct FineStepKeys {
  prune::FineStepOptions fine;
  template <class V>
  void visit(V& v) {
    fine.visitFields(v);
  }
  void validate() const { fine.validate(); }
};

// "inputs.2" < "inputs.10": digit runs compare by value.
bool naturalLess(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      const std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      const auto ta = na.find_first_not_of('0'), tb = nb.find_first_not_of('0');
      const std::string sa = ta == std::string::npos ? "" : na.substr(ta), sb = tb == std::string::npos ? "" : nb.substr(tb);
      if (sa.size() != sb.size()) return sa.size() < sb.size();
      if (sa != sb) return sa < sb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::string dtypeName(const torch::Tensor& t) { return std::string(c10::toString(t.scalar_type())); }

torch::Tensor chooseWeight(const model::SafetensorsFile& file, const std::string& requested, std::string& name) {
  const auto names = file.names();
  PL_CHECK(!names.empty(), "'{}' holds no tensors: write the weight matrix into it", file.path.string());
  if (!requested.empty()) {
    name = requested;
  } else if (names.size() == 1) {
    name = names.front();
  } else {
    PL_CHECK(file.contains("weight"),
             "'{}' holds {} tensors and none is called 'weight': pass --weight-name NAME (one of: {})",
             file.path.string(), names.size(), fmt::join(names, ", "));
    name = "weight";
  }
  auto w = file.get(name);
  PL_CHECK(w.dim() == 2, "tensor '{}' in '{}' has shape {}, but the weight must be 2-D (out x in)", name,
           file.path.string(), c10::str(w.sizes()));
  PL_CHECK(w.is_floating_point(), "tensor '{}' in '{}' is {}, but the weight must be a float tensor", name,
           file.path.string(), dtypeName(w));
  PL_CHECK(w.numel() > 0, "tensor '{}' in '{}' is empty", name, file.path.string());
  return w;
}

// Frobenius norm of W·Xᵀ accumulated over input batches, in fp64.
struct ReconstructionError {
  double diffSq = 0, refSq = 0;
  void add(const torch::Tensor& w, const torch::Tensor& wNew, const torch::Tensor& x) {
    auto x2 = x.reshape({-1, x.size(-1)}).to(torch::kFloat64);
    auto ref = torch::matmul(x2, w.to(torch::kFloat64).t());
    auto out = torch::matmul(x2, wNew.to(torch::kFloat64).t());
    diffSq += (ref - out).pow(2).sum().item<double>();
    refSq += ref.pow(2).sum().item<double>();
  }
  double value() const { return refSq > 0 ? std::sqrt(diffSq / refSq) : (diffSq > 0 ? INFINITY : 0.0); }
};

}  // namespace

prune::FineStepOptions fineStepFromOverrides(const std::vector<std::string>& overrides) {
  YAML::Node node(YAML::NodeType::Map);
  for (const auto& text : overrides) {
    const auto o = config::Override::parse(text);
    PL_CHECK(o.kind == config::Override::Kind::Change && o.value,
             "prune-matrix options are plain key=value (e.g. sparsity=0.5 selection=nm nm.n=2 nm.m=4), got '{}'", text);
    config::setKey(node, o.key, config::parseValue(*o.value));
  }
  FineStepKeys keys;
  OptionsReader reader(node, "", nullptr);
  keys.visit(reader);
  reader.checkUnknown();
  keys.validate();
  return keys.fine;
}

PruneMatrixSummary pruneMatrixFiles(const PruneMatrixRequest& request) {
  // Everything is checked before any pruning starts.
  PruneMatrixSummary summary;
  summary.options = fineStepFromOverrides(request.overrides);
  const auto& options = summary.options;
  PL_CHECK(!request.outFile.empty(), "prune-matrix needs --out FILE.safetensors for the mask and the new weight");
  const auto weightFile = model::loadSafetensors(request.weightFile);
  const torch::Tensor weight = chooseWeight(weightFile, request.weightName, summary.weightName);
  const std::int64_t in = weight.size(1);
  try {
    options.checkShape(weight.size(0), in);
  } catch (const Error& e) {
    throw Error(fmt::format("weight '{}' in '{}': {}", summary.weightName, request.weightFile.string(), e.what()),
                e.file(), e.line());
  }
  summary.shape = weight.sizes().vec();
  summary.dtype = dtypeName(weight);

  std::vector<std::pair<std::string, torch::Tensor>> inputs;  // (where, tensor)
  prune::InputStats given;
  for (const auto& path : request.inputFiles) {
    const auto file = model::loadSafetensors(path);
    auto names = file.names();
    std::stable_sort(names.begin(), names.end(), naturalLess);
    for (const auto& name : names) {
      const auto where = fmt::format("'{}' in '{}'", name, path.string());
      const auto t = file.get(name);
      if (name == "weight") continue;
      PL_CHECK(t.is_floating_point(), "tensor {} is {}, but inputs and statistics must be float tensors", where,
               dtypeName(t));
      if (name == "sq_norms") {
        PL_CHECK(t.dim() == 1 && t.size(0) == in,
                 "tensor {} has shape {}, but sq_norms must be a vector of the weight's input width {}", where,
                 c10::str(t.sizes()), in);
        PL_CHECK(!given.sqNorms.defined(), "sq_norms is given twice (again as {}): keep one", where);
        given.sqNorms = t.to(torch::kFloat32);
      } else if (name == "hessian") {
        PL_CHECK(t.dim() == 2 && t.size(0) == in && t.size(1) == in,
                 "tensor {} has shape {}, but the hessian must be [{}, {}] (the weight's input width)", where,
                 c10::str(t.sizes()), in, in);
        PL_CHECK(!given.hessian.defined(), "hessian is given twice (again as {}): keep one", where);
        given.hessian = t.to(torch::kFloat32);
      } else {
        PL_CHECK((t.dim() == 2 || t.dim() == 3) && t.size(-1) == in,
                 "input {} has shape {}, but inputs must be (tokens x {}) or (batch x seq x {}) to match the weight "
                 "{} of shape {}",
                 where, c10::str(t.sizes()), in, in, summary.weightName, c10::str(weight.sizes()));
        inputs.emplace_back(where, t);
      }
    }
  }
  const bool haveStats = given.sqNorms.defined() || given.hessian.defined();
  PL_CHECK(inputs.empty() || !haveStats,
           "the input files hold both input batches and precomputed statistics: pass one or the other");
  if (options.needsSqNorms())
    PL_CHECK(!inputs.empty() || given.sqNorms.defined(),
             "score=wanda needs calibration inputs or a 'sq_norms' tensor: pass --inputs FILE.safetensors");
  if (options.needsHessian())
    PL_CHECK(!inputs.empty() || given.hessian.defined(),
             "reconstruction=obs needs calibration inputs or a 'hessian' tensor: pass --inputs FILE.safetensors");

  // The statistics, accumulated by the observer the blockwise driver uses.
  prune::InputStats stats = given;
  if (!inputs.empty()) {
    prune::InputStatsCollector collector(options);
    for (const auto& [where, x] : inputs) {
      collector.add(x);
      summary.inputRows += x.numel() / in;
    }
    summary.inputBatches = static_cast<std::int64_t>(inputs.size());
    if (options.needsSqNorms() || options.needsHessian()) stats = collector.stats(request.weightFile.string());
  }

  const auto result = prune::pruneMatrix(weight, stats, options);
  const auto keep = result.keepMask.to(torch::kCPU);
  summary.targetSparsity = result.targetSparsity;
  summary.achievedSparsity = prune::maskSparsity(keep);
  const auto rowSparsity = 1.0 - keep.to(torch::kFloat64).mean(1);
  summary.rowSparsityMin = rowSparsity.min().item<double>();
  summary.rowSparsityMax = rowSparsity.max().item<double>();
  summary.dampUsed = result.dampUsed;
  summary.maskSha256 = prune::maskHash(keep);
  if (!inputs.empty()) {
    ReconstructionError err;
    for (const auto& [where, x] : inputs) err.add(weight, result.weight, x);
    summary.reconstructionError = err.value();
  }

  std::vector<std::pair<std::string, torch::Tensor>> out = {{"mask", keep.to(torch::kUInt8)}, {"weight", result.weight}};
  if (stats.sqNorms.defined()) {
    out.emplace_back("sq_norms", stats.sqNorms);
    summary.statistics.push_back("sq_norms");
  }
  if (stats.hessian.defined()) {
    out.emplace_back("hessian", stats.hessian);
    summary.statistics.push_back("hessian");
  }
  model::saveSafetensors(request.outFile, out,
                         {{"source", request.weightFile.string() + ":" + summary.weightName},
                          {"options", config::toJson(dumpOptions(FineStepKeys{options})).dump()},
                          {"summary", summary.toJson().dump()}});
  return summary;
}

std::string PruneMatrixSummary::line() const {
  std::string s = fmt::format("{} {}x{} {}: sparsity {:.4f} (target {:.4f}), per-row {:.4f}..{:.4f}", weightName,
                              shape.at(0), shape.at(1), dtype, achievedSparsity, targetSparsity, rowSparsityMin,
                              rowSparsityMax);
  if (reconstructionError)
    s += fmt::format(", ||WX-ŴX||/||WX|| {:.6g} over {} input rows", *reconstructionError, inputRows);
  if (options.reconstruction == "obs") s += fmt::format(", percdamp used {:g}", dampUsed);
  return s;
}

nlohmann::ordered_json PruneMatrixSummary::toJson() const {
  nlohmann::ordered_json j;
  j["weight"] = weightName;
  j["shape"] = shape;
  j["dtype"] = dtype;
  j["options"] = config::toJson(dumpOptions(FineStepKeys{options}));
  j["target_sparsity"] = targetSparsity;
  j["achieved_sparsity"] = achievedSparsity;
  j["row_sparsity_min"] = rowSparsityMin;
  j["row_sparsity_max"] = rowSparsityMax;
  j["input_batches"] = inputBatches;
  j["input_rows"] = inputRows;
  j["reconstruction_error"] = reconstructionError ? nlohmann::ordered_json(*reconstructionError) : nullptr;
  j["statistics"] = statistics;
  if (options.reconstruction == "obs") j["percdamp_used"] = dampUsed;
  j["mask_sha256"] = maskSha256;
  return j;
}

Verb addPruneMatrixVerb(CLI::App& app) {
  auto request = std::make_shared<PruneMatrixRequest>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "prune-matrix",
      "prune one weight matrix from safetensors files with a pruner's fine step (options as key=value: "
      "score=wanda|magnitude selection=per_row|per_matrix|nm|variant|adaptive sparsity=0.5 nm.n=2 nm.m=4 "
      "reconstruction=none|obs blocksize=128 percdamp=0.01)");
  cmd->add_option("--weight", request->weightFile, "safetensors file with the weight (out x in)")->required();
  cmd->add_option("--weight-name", request->weightName, "tensor name of the weight (default: the only one, or 'weight')");
  cmd->add_option("--inputs", request->inputFiles,
                  "safetensors files of calibration inputs (tokens x in, or batch x seq x in), or of precomputed "
                  "'sq_norms' / 'hessian' (repeat --inputs for several files)")
      ->allow_extra_args(false);
  cmd->add_option("--out", request->outFile, "where to write mask, weight and statistics (safetensors)")->required();
  cmd->add_flag("--json", *json, "print the summary as JSON");
  cmd->add_option("options", request->overrides, "fine-step options as key=value");
  return {cmd, [request, json](const CliGlobals&) {
            const auto summary = pruneMatrixFiles(*request);
            if (*json)
              std::cout << summary.toJson().dump(2) << "\n";
            else
              std::cout << summary.line() << "\nwrote " << request->outFile.string() << "\n";
            return 0;
          }};
}

}  // namespace prunelab::app
