#pragma once

#include <filesystem>
#include <string>

namespace prunelab::run {

/// Code version of a source checkout: commit, dirty flag and a hash of the uncommitted diff.
struct GitInfo {
  std::string commit;  ///< empty when not a git checkout
  int dirty = -1;      ///< 1 dirty, 0 clean, -1 unknown
  std::string diffSha256;
};
GitInfo readGitInfo(const std::filesystem::path& sourceDir);

/// Library versions, build settings, thread counts and relevant environment variables, as JSON.
std::string environmentJson();

/// Device, CPU model, core count and memory, as JSON.
std::string hardwareJson();

/// Host name.
std::string hostName();

/// SHA-256 of the running executable (/proc/self/exe), or "" if unreadable.
std::string binarySha256();

/// A fresh 32-hex-character run id (random, with the time mixed in).
std::string newRunId();

}  // namespace prunelab::run
