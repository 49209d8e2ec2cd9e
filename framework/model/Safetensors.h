#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace prunelab::model {

/// Writes `tensors` (in the given order) and string `metadata` as a safetensors file: u64 LE header
/// length, space-padded JSON header, raw little-endian data. Tensors are detached, moved to CPU and
/// made contiguous first. The file is written to a temporary name and renamed into place, so a
/// crash never leaves a half-written file under `path`.
/// Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL.
void saveSafetensors(const std::filesystem::path& path,
                     const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata = {});

/// The contents of a safetensors file: CPU tensors owning their memory, in header order.
struct SafetensorsFile {
  std::filesystem::path path;  // where it was loaded from, for error messages
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  std::map<std::string, std::string> metadata;

  /// The tensor called `name`; an error listing the names (and the nearest ones) when absent.
  torch::Tensor get(const std::string& name) const;
  /// Whether a tensor called `name` is present.
  bool contains(const std::string& name) const;
  /// The tensor names, in header order.
  std::vector<std::string> names() const;
};

/// Reads and validates a safetensors file (header length, JSON, dtypes, shapes against offsets,
/// offsets contiguous and covering the data region exactly); any defect is a prunelab::Error naming
/// the file and the tensor.
SafetensorsFile loadSafetensors(const std::filesystem::path& path);

}  // namespace prunelab::model
