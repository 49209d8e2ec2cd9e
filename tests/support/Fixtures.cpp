#include "tests/support/Fixtures.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <random>

namespace prunelab::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("prunelab-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path repoConfigDir() { return fs::path(PRUNELAB_SOURCE_DIR) / "experiments" / "conf"; }

std::vector<std::string> tinyRunOverrides(const fs::path& dir) {
  return {"model=mlp_tiny", "dataset=fashion_mnist_tiny", "cache_dir=" + (dir / "cache").string(),
          "output_root=" + (dir / "outputs").string()};
}

bool haveFashionMnist() { return fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"); }

std::string shellQuote(const std::string& arg) {
  std::string s = "'";
  for (char c : arg) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return s + "'";
}

CommandResult runPrunelab(const std::vector<std::string>& args) {
  std::string cmd = shellQuote(PRUNELAB_BINARY);
  for (const auto& a : args) cmd += " " + shellQuote(a);
  cmd += " 2>&1";
  CommandResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace prunelab::testing
