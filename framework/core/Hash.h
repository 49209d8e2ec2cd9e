#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace prunelab {

/// Lower-case hex SHA-256 of a byte string (OpenSSL EVP).
std::string sha256Hex(std::string_view data);

/// Lower-case hex SHA-256 of a file's contents; throws prunelab::Error if it cannot be read.
std::string sha256File(const std::filesystem::path& path);

/// Incremental SHA-256 for data that arrives in pieces (e.g. many tensors).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  /// Adds bytes to the digest.
  void update(const void* data, std::size_t size);
  /// Finishes and returns the hex digest; the object is then spent.
  std::string hex();

 private:
  void* ctx_;
};

}  // namespace prunelab
