#include "framework/model/Safetensors.h"

#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::model {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// The reference implementation refuses larger headers; so do we, before allocating them.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";
constexpr size_t kMaxListedNames = 20;

struct DtypeInfo {
  const char* name;
  torch::Dtype dtype;
  size_t size;
};

constexpr std::array<DtypeInfo, 10> kDtypes = {{
    {"F64", torch::kFloat64, 8},
    {"F32", torch::kFloat32, 4},
    {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2},
    {"I64", torch::kInt64, 8},
    {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},
    {"I8", torch::kInt8, 1},
    {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
}};

// Valid in the safetensors spec but without a LibTorch 1.13 counterpart.
constexpr std::array<const char*, 5> kSpecOnlyDtypes = {"F8_E4M3", "F8_E5M2", "U16", "U32", "U64"};

std::string supportedDtypeNames() {
  std::string out;
  for (const DtypeInfo& info : kDtypes) {
    out += out.empty() ? "" : " ";
    out += info.name;
  }
  return out;
}

const DtypeInfo* findDtype(const std::string& name) {
  for (const DtypeInfo& info : kDtypes) {
    if (name == info.name) {
      return &info;
    }
  }
  return nullptr;
}

const DtypeInfo* findDtype(torch::Dtype dtype) {
  for (const DtypeInfo& info : kDtypes) {
    if (dtype == info.dtype) {
      return &info;
    }
  }
  return nullptr;
}

// safetensors stores little-endian data; copying raw bytes is only right on a little-endian host.
void checkLittleEndianHost() {
  const uint16_t probe = 1;
  uint8_t first = 0;
  std::memcpy(&first, &probe, 1);
  PL_CHECK(first == 1,
           "safetensors I/O needs a little-endian host; this host is big-endian (byte swapping is not "
           "implemented) — run on x86-64 or aarch64");
}

std::string shapeString(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

std::string listNames(const std::vector<std::string>& names) {
  if (names.size() <= kMaxListedNames) {
    return quotedList(names);
  }
  std::vector<std::string> head(names.begin(), names.begin() + kMaxListedNames);
  return fmt::format("{} and {} more", quotedList(head), names.size() - kMaxListedNames);
}

// One tensor's header entry, validated on its own (cross-tensor checks come later).
struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Entry parseEntry(const fs::path& path, const std::string& name, const Json& value) {
  const std::string where = fmt::format("safetensors file '{}', tensor '{}'", path.string(), name);
  const char* fix =
      "the header is corrupt; re-export the file (e.g. with saveSafetensors or safetensors.torch.save_file)";
  PL_CHECK(value.is_object(), "{}: header entry must be a JSON object with dtype, shape and data_offsets, got {}; {}",
           where, value.dump(), fix);
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    PL_CHECK(value.contains(key), "{}: header entry lacks '{}'; {}", where, key, fix);
  }

  Entry entry;
  entry.name = name;
  const Json& dtype = value.at("dtype");
  PL_CHECK(dtype.is_string(), "{}: dtype must be a string, got {}; {}", where, dtype.dump(), fix);
  const std::string dtypeName = dtype.get<std::string>();
  entry.dtype = findDtype(dtypeName);
  if (entry.dtype == nullptr) {
    bool specOnly = std::find_if(kSpecOnlyDtypes.begin(), kSpecOnlyDtypes.end(),
                                 [&](const char* n) { return dtypeName == n; }) != kSpecOnlyDtypes.end();
    PL_CHECK(!specOnly,
             "{}: dtype '{}' is valid safetensors but has no LibTorch counterpart here; convert the tensor to one of "
             "{} before exporting",
             where, dtypeName, supportedDtypeNames());
    PL_THROW(
        "{}: unknown dtype '{}'; safetensors dtypes supported here are {} — the header is corrupt or the "
        "file is not safetensors",
        where, dtypeName, supportedDtypeNames());
  }

  const Json& shape = value.at("shape");
  PL_CHECK(shape.is_array(), "{}: shape must be an array of non-negative integers, got {}; {}", where, shape.dump(),
           fix);
  uint64_t numel = 1;
  bool overflow = false;
  for (const Json& dim : shape) {
    PL_CHECK(dim.is_number_unsigned(), "{}: shape {} has an entry that is not a non-negative integer; {}", where,
             shape.dump(), fix);
    uint64_t d = dim.get<uint64_t>();
    PL_CHECK(d <= uint64_t(std::numeric_limits<int64_t>::max()), "{}: shape {} has a dimension too large; {}", where,
             shape.dump(), fix);
    entry.shape.push_back(int64_t(d));
    if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / d) {
      overflow = true;
    }
    numel *= d;
  }

  const Json& offsets = value.at("data_offsets");
  PL_CHECK(
      offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(),
      "{}: data_offsets must be [begin, end] with non-negative integers, got {}; {}", where, offsets.dump(), fix);
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  PL_CHECK(entry.begin <= entry.end, "{}: data_offsets [{}, {}] end before they begin; {}", where, entry.begin,
           entry.end, fix);

  const bool sizeFits = !overflow && (numel == 0 || numel <= std::numeric_limits<uint64_t>::max() / entry.dtype->size);
  const uint64_t expected = sizeFits ? numel * entry.dtype->size : 0;
  PL_CHECK(sizeFits && expected == entry.end - entry.begin,
           "{}: shape {} of {} needs {} bytes but data_offsets [{}, {}] span {} bytes; {}", where,
           shapeString(entry.shape), dtypeName, sizeFits ? fmt::to_string(expected) : "an overflowing number of",
           entry.begin, entry.end, entry.end - entry.begin, fix);
  return entry;
}

std::map<std::string, std::string> parseMetadata(const fs::path& path, const Json& value) {
  PL_CHECK(value.is_object(),
           "safetensors file '{}': __metadata__ must be an object of strings, got {}; re-export "
           "the file with string-valued metadata",
           path.string(), value.dump());
  std::map<std::string, std::string> metadata;
  for (const auto& item : value.items()) {
    PL_CHECK(item.value().is_string(),
             "safetensors file '{}': __metadata__ value of '{}' must be a string, got {}; re-export the file with "
             "string-valued metadata",
             path.string(), item.key(), item.value().dump());
    metadata[item.key()] = item.value().get<std::string>();
  }
  return metadata;
}

// Offsets, sorted, must tile [0, dataSize) exactly: no overlap, no gap, nothing past the end.
void checkLayout(const fs::path& path, const std::vector<Entry>& entries, uint64_t dataSize) {
  std::vector<const Entry*> sorted;
  for (const Entry& entry : entries) {
    PL_CHECK(entry.end <= dataSize,
             "safetensors file '{}', tensor '{}': data_offsets [{}, {}] reach past the {}-byte data region; the file "
             "is truncated or its header is wrong — re-download or re-export it",
             path.string(), entry.name, entry.begin, entry.end, dataSize);
    sorted.push_back(&entry);
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t cursor = 0;
  const Entry* previous = nullptr;
  for (const Entry* entry : sorted) {
    PL_CHECK(entry->begin >= cursor,
             "safetensors file '{}', tensor '{}': data_offsets [{}, {}] overlap tensor '{}' (which ends at {}); the "
             "header is corrupt — re-export the file",
             path.string(), entry->name, entry->begin, entry->end, previous ? previous->name : "", cursor);
    PL_CHECK(entry->begin == cursor,
             "safetensors file '{}', tensor '{}': data_offsets begin at {} but the previous tensor ends at {}, "
             "leaving a gap; the header is corrupt — re-export the file",
             path.string(), entry->name, entry->begin, cursor);
    cursor = entry->end;
    previous = entry;
  }
  PL_CHECK(cursor == dataSize,
           "safetensors file '{}': tensors cover {} bytes but the data region holds {}; the file has trailing bytes "
           "or its header is wrong — re-export it",
           path.string(), cursor, dataSize);
}

void readExact(std::ifstream& in, const fs::path& path, uint64_t offset, void* dst, uint64_t bytes,
               const std::string& what) {
  if (bytes == 0) {
    return;
  }
  in.seekg(std::streamoff(offset));
  in.read(static_cast<char*>(dst), std::streamsize(bytes));
  PL_CHECK(in.good() && uint64_t(in.gcount()) == bytes,
           "safetensors file '{}': reading {} ({} bytes at offset {}) failed after {} bytes; the file changed or is "
           "unreadable — check the disk and re-export it",
           path.string(), what, bytes, offset, in.gcount());
}

void checkBoolBytes(const fs::path& path, const std::string& name, const torch::Tensor& tensor) {
  const auto* bytes = static_cast<const uint8_t*>(tensor.data_ptr());
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    PL_CHECK(bytes[i] <= 1,
             "safetensors file '{}', tensor '{}': BOOL element {} has byte value {}, but must be 0 or 1; the data is "
             "corrupt — re-export the file",
             path.string(), name, i, int(bytes[i]));
  }
}

}  // namespace

void saveSafetensors(const std::filesystem::path& path,
                     const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata) {
  checkLittleEndianHost();
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) {
      meta[key] = value;
    }
    header[kMetadataKey] = std::move(meta);
  }

  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    PL_CHECK(!name.empty(), "saving safetensors file '{}': a tensor has an empty name; give every tensor a name",
             path.string());
    PL_CHECK(name != kMetadataKey, "saving safetensors file '{}': '{}' is reserved for metadata; rename the tensor",
             path.string(), name);
    PL_CHECK(!header.contains(name),
             "saving safetensors file '{}': tensor name '{}' appears twice; names must be unique", path.string(), name);
    PL_CHECK(tensor.defined(), "saving safetensors file '{}': tensor '{}' is undefined; pass a defined tensor",
             path.string(), name);
    const DtypeInfo* info = findDtype(tensor.scalar_type());
    PL_CHECK(info != nullptr,
             "saving safetensors file '{}': tensor '{}' has dtype {}, which is not supported; convert "
             "it to one of {} (as torch dtypes) first",
             path.string(), name, std::string(c10::toString(tensor.scalar_type())), supportedDtypeNames());
    torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = uint64_t(cpu.numel()) * info->size;
    header[name] = Json{{"dtype", info->name},
                        {"shape", std::vector<int64_t>(cpu.sizes().begin(), cpu.sizes().end())},
                        {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(cpu));
  }

  std::string headerText;
  try {
    headerText = header.dump();
  } catch (const Json::exception& e) {
    PL_THROW("saving safetensors file '{}': a tensor name or metadata string is not valid UTF-8 ({}); use UTF-8 text",
             path.string(), e.what());
  }
  // The reference writer pads with spaces so the data starts 8-byte aligned.
  headerText.append((8 - headerText.size() % 8) % 8, ' ');

  std::error_code ec;
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
  }
  const fs::path temp = path.string() + ".tmp-" + std::to_string(::getpid());
  try {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    PL_CHECK(out.is_open(),
             "saving safetensors file '{}': cannot create '{}' ({}); check that the directory exists and "
             "is writable",
             path.string(), temp.string(), std::strerror(errno));
    std::array<char, 8> length{};
    const uint64_t n = headerText.size();
    for (size_t i = 0; i < 8; ++i) {
      length[i] = char((n >> (8 * i)) & 0xff);
    }
    out.write(length.data(), length.size());
    out.write(headerText.data(), std::streamsize(headerText.size()));
    for (const torch::Tensor& t : data) {
      const uint64_t bytes = uint64_t(t.numel()) * t.element_size();
      if (bytes > 0) {
        out.write(static_cast<const char*>(t.data_ptr()), std::streamsize(bytes));
      }
    }
    out.close();
    PL_CHECK(!out.fail(), "saving safetensors file '{}': writing '{}' failed; check free disk space and permissions",
             path.string(), temp.string());
    fs::rename(temp, path, ec);
    PL_CHECK(!ec, "saving safetensors file '{}': renaming '{}' into place failed ({}); check permissions",
             path.string(), temp.string(), ec.message());
  } catch (...) {
    fs::remove(temp, ec);
    throw;
  }
}

SafetensorsFile loadSafetensors(const std::filesystem::path& path) {
  checkLittleEndianHost();
  std::error_code ec;
  const uint64_t fileSize = fs::file_size(path, ec);
  PL_CHECK(!ec, "safetensors file '{}' cannot be read ({}); check the path", path.string(), ec.message());
  PL_CHECK(fileSize >= 8,
           "safetensors file '{}' is truncated: {} bytes, but the header length alone takes 8; re-download or "
           "re-export it",
           path.string(), fileSize);
  std::ifstream in(path, std::ios::binary);
  PL_CHECK(in.is_open(), "safetensors file '{}' cannot be opened ({}); check its permissions", path.string(),
           std::strerror(errno));

  std::array<uint8_t, 8> lengthBytes{};
  readExact(in, path, 0, lengthBytes.data(), 8, "the header length");
  uint64_t headerSize = 0;
  for (size_t i = 0; i < 8; ++i) {
    headerSize |= uint64_t(lengthBytes[i]) << (8 * i);
  }
  PL_CHECK(headerSize <= fileSize - 8,
           "safetensors file '{}': header length {} exceeds the {} bytes that follow it; the file is truncated or "
           "not safetensors — re-download or re-export it",
           path.string(), headerSize, fileSize - 8);
  PL_CHECK(headerSize <= kMaxHeaderBytes,
           "safetensors file '{}': header length {} exceeds the {}-byte limit; the file is corrupt or not "
           "safetensors",
           path.string(), headerSize, kMaxHeaderBytes);

  std::string headerText(headerSize, '\0');
  readExact(in, path, 8, headerText.data(), headerSize, "the header");
  Json header;
  try {
    header = Json::parse(headerText);
  } catch (const Json::parse_error& e) {
    // nlohmann counts bytes from 1; report the 0-based offset into the header.
    PL_THROW(
        "safetensors file '{}': header is not valid JSON (at header offset {} of {} bytes): {}; the file is "
        "corrupt or not safetensors — re-export it",
        path.string(), e.byte > 0 ? e.byte - 1 : 0, headerSize, e.what());
  }
  PL_CHECK(header.is_object(), "safetensors file '{}': header must be a JSON object, got {}; the file is corrupt",
           path.string(), header.type_name());

  SafetensorsFile file;
  file.path = path;
  std::vector<Entry> entries;
  for (const auto& item : header.items()) {
    if (item.key() == kMetadataKey) {
      file.metadata = parseMetadata(path, item.value());
    } else {
      entries.push_back(parseEntry(path, item.key(), item.value()));
    }
  }
  const uint64_t dataStart = 8 + headerSize;
  checkLayout(path, entries, fileSize - dataStart);

  for (const Entry& entry : entries) {
    torch::Tensor tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(entry.dtype->dtype));
    readExact(in, path, dataStart + entry.begin, tensor.data_ptr(), entry.end - entry.begin,
              fmt::format("tensor '{}'", entry.name));
    if (entry.dtype->dtype == torch::kBool) {
      checkBoolBytes(path, entry.name, tensor);
    }
    file.tensors.emplace_back(entry.name, std::move(tensor));
  }
  return file;
}

torch::Tensor SafetensorsFile::get(const std::string& name) const {
  for (const auto& [tensorName, tensor] : tensors) {
    if (tensorName == name) {
      return tensor;
    }
  }
  const std::vector<std::string> all = names();
  PL_THROW("safetensors file '{}' has no tensor '{}'{}; it holds {} tensors: {}", path.string(), name,
           didYouMean(name, all), all.size(), listNames(all));
}

bool SafetensorsFile::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(), [&](const auto& item) { return item.first == name; });
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& item : tensors) {
    out.push_back(item.first);
  }
  return out;
}

}  // namespace prunelab::model
