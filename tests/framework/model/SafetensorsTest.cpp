#include <gtest/gtest.h>

#include "tests/support/Fixtures.h"
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/model/Safetensors.h"

namespace prunelab::model {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// Runs fn, expecting a prunelab::Error whose message contains every fragment.
void expectError(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected prunelab::Error containing '" << fragments.front() << "'";
  } catch (const Error& e) {
    std::string message = e.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "message: " << message << "\nmissing: " << fragment;
    }
  }
}

// Same dtype, shape and bytes (so NaN payloads and -0.0 count).
void expectBitIdentical(const torch::Tensor& expected, const torch::Tensor& actual) {
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type());
  ASSERT_EQ(actual.sizes(), expected.sizes());
  torch::Tensor e = expected.contiguous();
  ASSERT_TRUE(actual.is_contiguous());
  const size_t bytes = size_t(e.numel()) * e.element_size();
  if (bytes > 0) {
    EXPECT_EQ(std::memcmp(e.data_ptr(), actual.data_ptr(), bytes), 0);
  }
}

Bytes le64(uint64_t v) {
  Bytes out;
  for (int i = 0; i < 8; ++i) {
    out.push_back(uint8_t(v >> (8 * i)));
  }
  return out;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void writeBytes(const fs::path& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    ASSERT_TRUE(out.good());
  }

  Bytes readBytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // A hand-built file: u64 LE length of `header`, `header`, then `data`.
  fs::path writeRaw(const std::string& header, const Bytes& data, const std::string& name = "raw.safetensors") {
    Bytes bytes = le64(header.size());
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.insert(bytes.end(), data.begin(), data.end());
    writeBytes(dir_ / name, bytes);
    return dir_ / name;
  }

  prunelab::testing::TempDir tmp_;
  fs::path dir_{tmp_.path()};
};

TEST_F(SafetensorsTest, RoundTripsEveryDtypeBitExactly) {
  torch::manual_seed(7);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  torch::Tensor specials = torch::tensor({0.0f, -0.0f, nan, inf, -inf, 1e-40f, 3.4e38f, -1.5f});
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"f64", torch::randn({3, 4}, torch::kFloat64)},
      {"f32", torch::randn({2, 3, 4})},
      {"f32.specials", specials},
      {"f16", torch::cat({torch::randn({5}), specials}).to(torch::kHalf)},
      {"bf16", torch::cat({torch::randn({5}), specials}).to(torch::kBFloat16)},
      {"i64", torch::tensor(
                  {std::numeric_limits<int64_t>::min(), int64_t(-1), int64_t(0), std::numeric_limits<int64_t>::max()})},
      {"i32", torch::randint(-100000, 100000, {7}, torch::kInt32)},
      {"i16", torch::randint(-32768, 32767, {2, 2}, torch::kInt16)},
      {"i8", torch::randint(-128, 127, {9}, torch::kInt8)},
      {"u8", torch::randint(0, 255, {3, 3}, torch::kUInt8)},
      {"bool", torch::randint(0, 2, {6}).to(torch::kBool)},
      {"scalar", torch::scalar_tensor(2.25, torch::kFloat64)},
      {"empty", torch::empty({0, 3})},
      {"transposed", torch::arange(12, torch::kFloat32).reshape({3, 4}).t()},
  };
  ASSERT_EQ(tensors.back().second.is_contiguous(), false);
  const fs::path path = dir_ / "all.safetensors";
  saveSafetensors(path, tensors);

  SafetensorsFile file = loadSafetensors(path);
  ASSERT_EQ(file.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    SCOPED_TRACE(tensors[i].first);
    EXPECT_EQ(file.tensors[i].first, tensors[i].first);  // header order is the given order
    expectBitIdentical(tensors[i].second, file.tensors[i].second);
  }
  EXPECT_EQ(file.get("scalar").dim(), 0);
  EXPECT_EQ(file.get("scalar").item<double>(), 2.25);
  EXPECT_EQ(file.get("empty").sizes(), (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(file.metadata.empty());
}

TEST_F(SafetensorsTest, RoundTripsMetadataAndOverwritesAtomically) {
  const fs::path path = dir_ / "sub" / "m.safetensors";
  std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "é \"quoted\" \n"}, {"empty", ""}};
  saveSafetensors(path, {{"w", torch::ones({2})}}, metadata);
  saveSafetensors(path, {{"w", torch::full({3}, 4.0f)}}, metadata);

  SafetensorsFile file = loadSafetensors(path);
  EXPECT_EQ(file.metadata, metadata);
  EXPECT_TRUE(torch::equal(file.get("w"), torch::full({3}, 4.0f)));
  EXPECT_TRUE(file.contains("w"));
  EXPECT_FALSE(file.contains("v"));
  // No temporary file is left beside the result.
  EXPECT_EQ(std::distance(fs::directory_iterator(path.parent_path()), fs::directory_iterator()), 1);
}

TEST_F(SafetensorsTest, WritesTheReferenceLayout) {
  const fs::path path = dir_ / "w.safetensors";
  saveSafetensors(path, {{"w", torch::tensor({1.0f, -2.0f})}}, {{"k", "v"}});
  const std::string json = R"({"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string padded = json + std::string((8 - json.size() % 8) % 8, ' ');
  Bytes expected = le64(padded.size());
  expected.insert(expected.end(), padded.begin(), padded.end());
  for (uint8_t b : {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0}) {
    expected.push_back(b);
  }
  EXPECT_EQ(padded.size() % 8, 0u);
  EXPECT_EQ(readBytes(path), expected);
}

// Bytes built by hand, independent of the writer: unpadded header, metadata last, tensors listed
// out of data order.
TEST_F(SafetensorsTest, LoadsHandBuiltGoldenFile) {
  const std::string header = R"({"i":{"dtype":"I16","shape":[2,1],"data_offsets":[14,18]},)"
                             R"("f":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},)"
                             R"("h":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},)"
                             R"("z":{"dtype":"U8","shape":[0,5],"data_offsets":[10,10]},)"
                             R"("m":{"dtype":"BOOL","shape":[4],"data_offsets":[10,14]},)"
                             R"("d":{"dtype":"F64","shape":[1],"data_offsets":[18,26]},)"
                             R"("__metadata__":{"format":"pt"}})";
  const Bytes data = {
      0x00, 0x00, 0xc0, 0x3f,                          // f: F32 1.5
      0x80, 0x3f, 0x00, 0xc0,                          // b: BF16 1.0, -2.0
      0x00, 0x38,                                      // h: F16 0.5
      0x01, 0x00, 0x00, 0x01,                          // m: true false false true
      0x02, 0x01, 0xff, 0xff,                          // i: I16 258, -1
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd0, 0xbf,  // d: F64 -0.25
  };
  SafetensorsFile file = loadSafetensors(writeRaw(header, data));

  std::vector<std::string> names = file.names();
  EXPECT_EQ(names, (std::vector<std::string>{"i", "f", "b", "h", "z", "m", "d"}));
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));

  torch::Tensor f = file.get("f");
  EXPECT_EQ(f.scalar_type(), torch::kFloat32);
  EXPECT_EQ(f.dim(), 0);
  EXPECT_EQ(f.item<float>(), 1.5f);
  torch::Tensor b = file.get("b");
  EXPECT_EQ(b.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(b[0].item<float>(), 1.0f);
  EXPECT_EQ(b[1].item<float>(), -2.0f);
  torch::Tensor h = file.get("h");
  EXPECT_EQ(h.scalar_type(), torch::kHalf);
  EXPECT_EQ(h[0].item<float>(), 0.5f);
  torch::Tensor m = file.get("m");
  EXPECT_EQ(m.scalar_type(), torch::kBool);
  EXPECT_TRUE(torch::equal(m, torch::tensor({true, false, false, true})));
  torch::Tensor i = file.get("i");
  EXPECT_EQ(i.scalar_type(), torch::kInt16);
  EXPECT_EQ(i.sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(i[0][0].item<int>(), 258);
  EXPECT_EQ(i[1][0].item<int>(), -1);
  EXPECT_EQ(file.get("d").item<double>(), -0.25);
  EXPECT_EQ(file.get("z").sizes(), (std::vector<int64_t>{0, 5}));
}

TEST_F(SafetensorsTest, UnknownNameSuggestsNearest) {
  const fs::path path = dir_ / "n.safetensors";
  saveSafetensors(path, {{"layer1.weight", torch::ones({1})}, {"layer1.bias", torch::ones({1})}});
  SafetensorsFile file = loadSafetensors(path);
  expectError([&] { file.get("layer1.wieght"); },
              {"n.safetensors", "no tensor 'layer1.wieght'", "did you mean 'layer1.weight'", "'layer1.bias'"});
}

TEST_F(SafetensorsTest, RejectsCorruptHeaderJson) {
  const fs::path path = writeRaw(R"({"a":{"dtype":"F32",,"shape":[1]}})", Bytes(4));
  expectError([&] { loadSafetensors(path); }, {"raw.safetensors", "not valid JSON", "at header offset 20"});
  expectError([&] { loadSafetensors(writeRaw("[1,2]", {})); }, {"must be a JSON object"});
}

TEST_F(SafetensorsTest, RejectsHeaderLengthBeyondFile) {
  Bytes bytes = le64(1000);
  const std::string header = R"({})";
  bytes.insert(bytes.end(), header.begin(), header.end());
  writeBytes(dir_ / "long.safetensors", bytes);
  expectError([&] { loadSafetensors(dir_ / "long.safetensors"); },
              {"long.safetensors", "header length 1000 exceeds the 2 bytes"});
  writeBytes(dir_ / "tiny.safetensors", {1, 2, 3});
  expectError([&] { loadSafetensors(dir_ / "tiny.safetensors"); }, {"tiny.safetensors", "truncated", "3 bytes"});
}

TEST_F(SafetensorsTest, RejectsOverlappingOffsets) {
  const fs::path path = writeRaw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                 Bytes(12));
  expectError([&] { loadSafetensors(path); }, {"tensor 'b'", "[4, 12]", "overlap tensor 'a'"});
}

TEST_F(SafetensorsTest, RejectsGapsAndTrailingBytes) {
  const fs::path gap = writeRaw(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", Bytes(4));
  expectError([&] { loadSafetensors(gap); }, {"tensor 'a'", "begin at 2", "gap"});
  const fs::path trailing = writeRaw(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", Bytes(5));
  expectError([&] { loadSafetensors(trailing); }, {"cover 2 bytes but the data region holds 5"});
}

TEST_F(SafetensorsTest, RejectsOffsetsOutOfRange) {
  const fs::path path = writeRaw(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", Bytes(8));
  expectError([&] { loadSafetensors(path); }, {"tensor 'a'", "[0, 16]", "past the 8-byte data region", "truncated"});
  const fs::path reversed = writeRaw(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", Bytes(8));
  expectError([&] { loadSafetensors(reversed); }, {"tensor 'a'", "end before they begin"});
}

TEST_F(SafetensorsTest, RejectsShapeThatDisagreesWithOffsets) {
  const fs::path path = writeRaw(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", Bytes(8));
  expectError([&] { loadSafetensors(path); }, {"tensor 'w'", "shape [3] of F32 needs 12 bytes", "span 8 bytes"});
  const fs::path negative = writeRaw(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", Bytes(8));
  expectError([&] { loadSafetensors(negative); }, {"tensor 'w'", "not a non-negative integer"});
  const fs::path huge =
      writeRaw(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", Bytes(8));
  expectError([&] { loadSafetensors(huge); }, {"tensor 'w'", "overflowing"});
  const fs::path missing = writeRaw(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", Bytes(8));
  expectError([&] { loadSafetensors(missing); }, {"tensor 'w'", "lacks 'shape'"});
}

TEST_F(SafetensorsTest, RejectsTruncatedFile) {
  const fs::path path = dir_ / "t.safetensors";
  saveSafetensors(path, {{"a", torch::ones({4})}, {"b", torch::ones({8})}});
  Bytes bytes = readBytes(path);
  bytes.resize(bytes.size() - 5);
  writeBytes(path, bytes);
  expectError([&] { loadSafetensors(path); }, {"t.safetensors", "tensor 'b'", "past the 43-byte data region"});
}

TEST_F(SafetensorsTest, RejectsUnknownDtype) {
  const fs::path path = writeRaw(R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", Bytes(4));
  expectError([&] { loadSafetensors(path); }, {"tensor 'w'", "unknown dtype 'F33'", "BF16"});
  const fs::path fp8 = writeRaw(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", Bytes(1));
  expectError([&] { loadSafetensors(fp8); }, {"tensor 'w'", "'F8_E4M3'", "no LibTorch counterpart"});
}

TEST_F(SafetensorsTest, RejectsBadMetadataAndBoolBytes) {
  const fs::path meta = writeRaw(R"({"__metadata__":{"epochs":3}})", {});
  expectError([&] { loadSafetensors(meta); }, {"__metadata__ value of 'epochs' must be a string"});
  const fs::path boolean = writeRaw(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", Bytes{1, 7});
  expectError([&] { loadSafetensors(boolean); }, {"tensor 'm'", "byte value 7"});
}

TEST_F(SafetensorsTest, RejectsMissingFile) {
  expectError([&] { loadSafetensors(dir_ / "absent.safetensors"); }, {"absent.safetensors", "cannot be read"});
}

TEST_F(SafetensorsTest, SaveRejectsBadInput) {
  const fs::path path = dir_ / "bad.safetensors";
  expectError(
      [&] {
        saveSafetensors(path, {{"a", torch::ones({1})}, {"a", torch::ones({1})}});
      },
      {"'a' appears twice"});
  expectError([&] { saveSafetensors(path, {{"__metadata__", torch::ones({1})}}); }, {"reserved"});
  expectError(
      [&] {
        saveSafetensors(path, {{"c", torch::ones({1}, torch::kComplexFloat)}});
      },
      {"tensor 'c'", "not supported"});
  expectError([&] { saveSafetensors(path, {{"u", torch::Tensor()}}); }, {"tensor 'u' is undefined"});
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace prunelab::model
