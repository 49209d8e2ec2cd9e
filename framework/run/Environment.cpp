#include "framework/run/Environment.h"

#include "framework/core/BlasCore.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <yaml-cpp/yaml.h>

#include "framework/core/Hash.h"

namespace prunelab::run {

namespace {
std::string capture(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string quoted(const std::filesystem::path& p) {
  std::string s = "'";
  for (char c : p.string()) s += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return s + "'";
}

std::string envOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

GitInfo readGitInfo(const std::filesystem::path& sourceDir) {
  GitInfo info;
  const std::string git = "git -C " + quoted(sourceDir) + " ";
  info.commit = capture(git + "rev-parse HEAD 2>/dev/null");
  if (info.commit.empty()) return info;
  info.dirty = capture(git + "status --porcelain --untracked-files=no 2>/dev/null").empty() ? 0 : 1;
  if (info.dirty == 1) info.diffSha256 = sha256Hex(capture(git + "diff HEAD 2>/dev/null"));
  return info;
}

std::string environmentJson() {
  nlohmann::ordered_json j;
  j["libtorch"] = TORCH_VERSION;
  j["libtorch_package"] = capture("dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null");
  j["sqlite"] = sqlite3_libversion();
  j["fmt"] = FMT_VERSION;
  j["compiler"] = __VERSION__;
#ifdef NDEBUG
  j["build_type"] = "release";
#else
  j["build_type"] = "debug";
#endif
#ifdef PRUNELAB_CUDA
  j["cuda_build"] = true;
#else
  j["cuda_build"] = false;
#endif
  // Which BLAS the loader picked (Debian's alternatives decide; reference BLAS is ~100x slower).
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> blas;
  for (std::string line; std::getline(maps, line);) {
    auto slash = line.find('/');
    if (slash != std::string::npos && line.find("blas", slash) != std::string::npos) blas.insert(line.substr(slash));
  }
  j["blas_libraries"] = blas;
  j["openblas_core"] = openblasCoreName();  // the kernels OpenBLAS runs (see framework/core/BlasCore.h)
  j["openblas_best_core"] = bestOpenblasCore();
  j["intra_op_threads"] = at::get_num_threads();
  j["inter_op_threads"] = at::get_num_interop_threads();
  j["parallel_info"] = at::get_parallel_info();
  j["deterministic_algorithms"] = at::globalContext().deterministicAlgorithms();
  for (const char* var : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "PRUNELAB_KEEP_BLAS_CORE", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
                          "CUBLAS_WORKSPACE_CONFIG", "PYTORCH_CUDA_ALLOC_CONF", "SLURM_ARRAY_JOB_ID",
                          "SLURM_ARRAY_TASK_ID"}) {
    j["env"][var] = envOr(var);
  }
  return j.dump();
}

std::string hardwareJson() {
  nlohmann::ordered_json j;
  j["device"] = torch::cuda::is_available() ? "cuda" : "cpu";
  j["cuda_devices"] = torch::cuda::device_count();
  std::ifstream cpu("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpu, line)) {
    if (line.rfind("model name", 0) == 0) {
      j["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  }
  j["cores"] = std::thread::hardware_concurrency();
  j["memory_bytes"] = static_cast<std::int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  return j.dump();
}

std::string hostName() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string binarySha256() {
  try {
    return sha256File("/proc/self/exe");
  } catch (...) {
    return "";
  }
}

std::string newRunId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                      static_cast<std::uint64_t>(getpid()));
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

}  // namespace prunelab::run
