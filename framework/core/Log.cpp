#include "framework/core/Log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>

namespace prunelab {

namespace {
std::mutex gMutex;
std::ofstream gFile;

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}
}  // namespace

void setLogFile(const std::filesystem::path& path) {
  std::lock_guard<std::mutex> lock(gMutex);
  if (gFile.is_open()) gFile.close();
  if (!path.empty()) gFile.open(path, std::ios::app);
}

void logLine(const std::string& level, const std::string& message) {
  const std::string line = fmt::format("[{}] {}: {}\n", timestamp(), level, message);
  std::lock_guard<std::mutex> lock(gMutex);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  if (gFile.is_open()) {
    gFile << line;
    gFile.flush();
  }
}

}  // namespace prunelab
