#include "datasets/fashion_scenes/WordTokenizer.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "framework/core/Error.h"

namespace prunelab::datasets {

namespace {

constexpr const char* kType = "prunelab.word_tokenizer";
constexpr int kVersion = 1;
const std::vector<std::string> kSpecial = {"[PAD]", "[UNK]", "[BOS]", "[EOS]", "[SEP]", "[MASK]"};
const std::vector<std::string> kSpecialKeys = {"pad", "unk", "bos", "eos", "sep", "mask"};

bool isWordChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '\'' || c >= 0x80;
}

}  // namespace

WordTokenizer::WordTokenizer() : WordTokenizer(std::vector<std::string>{}) {}

WordTokenizer::WordTokenizer(const std::vector<std::string>& words) : tokens_(kSpecial) {
  std::set<std::string> unique;
  for (const auto& w : words)
    for (const auto& normalised : WordTokenizer::words(w)) unique.insert(normalised);
  tokens_.insert(tokens_.end(), unique.begin(), unique.end());
  for (std::size_t i = 0; i < tokens_.size(); ++i) ids_.emplace(tokens_[i], static_cast<std::int64_t>(i));
}

std::vector<std::string> WordTokenizer::words(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    // Hyphens and apostrophes only join words: "- " or "'quoted'" leave them out.
    const auto first = current.find_first_not_of("-'");
    if (first != std::string::npos) {
      const auto last = current.find_last_not_of("-'");
      out.push_back(current.substr(first, last - first + 1));
    }
    current.clear();
  };
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    if (isWordChar(c))
      current.push_back(static_cast<char>(c));
    else
      flush();
  }
  flush();
  return out;
}

std::vector<std::int64_t> WordTokenizer::encode(const std::string& text, std::int64_t maxLen, bool addBos,
                                                bool addEos) const {
  const std::int64_t framing = static_cast<std::int64_t>(addBos) + static_cast<std::int64_t>(addEos);
  PL_CHECK(maxLen < 0 || maxLen >= framing, "encode: maxLen={} leaves no room for the {} [BOS]/[EOS] token(s)", maxLen,
           framing);
  std::vector<std::int64_t> ids;
  if (addBos) ids.push_back(kBos);
  const auto ws = words(text);
  const std::size_t room = maxLen < 0 ? ws.size() : static_cast<std::size_t>(maxLen - framing);
  for (std::size_t i = 0; i < std::min(room, ws.size()); ++i) ids.push_back(id(ws[i]));
  if (addEos) ids.push_back(kEos);
  return ids;
}

std::string WordTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::string out;
  for (std::int64_t i : ids) {
    if (i == kEos) break;
    if (i == kPad || i == kBos) continue;
    if (!out.empty()) out += ' ';
    out += token(i);
  }
  return out;
}

std::int64_t WordTokenizer::id(const std::string& word) const {
  const auto it = ids_.find(word);
  return it == ids_.end() ? kUnk : it->second;
}

const std::string& WordTokenizer::token(std::int64_t id) const {
  if (id < 0 || id >= size()) return tokens_[static_cast<std::size_t>(kUnk)];
  return tokens_[static_cast<std::size_t>(id)];
}

std::string WordTokenizer::toJson() const {
  nlohmann::ordered_json j;
  j["type"] = kType;
  j["version"] = kVersion;
  j["lowercase"] = true;
  nlohmann::ordered_json special;
  for (std::size_t i = 0; i < kSpecial.size(); ++i) special[kSpecialKeys[i]] = kSpecial[i];
  j["special_tokens"] = special;
  j["vocab"] = tokens_;
  return j.dump(1);
}

WordTokenizer WordTokenizer::fromJson(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    PL_THROW("tokenizer JSON does not parse: {}", e.what());
  }
  PL_CHECK(j.is_object() && j.contains("type") && j["type"] == kType,
           "tokenizer JSON: expected an object with \"type\": \"{}\" (a word tokenizer saved by prunelab)", kType);
  PL_CHECK(j.contains("version") && j["version"].is_number_integer() && j["version"].get<int>() == kVersion,
           "tokenizer JSON: unsupported version {} (this build reads version {})",
           j.contains("version") ? j["version"].dump() : std::string("<missing>"), kVersion);
  PL_CHECK(j.contains("vocab") && j["vocab"].is_array(), "tokenizer JSON: expected \"vocab\" to be a list of tokens");
  const auto& vocab = j["vocab"];
  PL_CHECK(vocab.size() >= kSpecial.size(), "tokenizer JSON: the vocab has {} tokens, fewer than the {} special ones",
           vocab.size(), kSpecial.size());
  WordTokenizer t;
  t.tokens_.clear();
  t.ids_.clear();
  for (std::size_t i = 0; i < vocab.size(); ++i) {
    PL_CHECK(vocab[i].is_string(), "tokenizer JSON: /vocab/{} is not a string", i);
    const std::string tok = vocab[i].get<std::string>();
    if (i < kSpecial.size())
      PL_CHECK(tok == kSpecial[i], "tokenizer JSON: /vocab/{} is '{}', expected the special token '{}' at that id", i,
               tok, kSpecial[i]);
    PL_CHECK(t.ids_.emplace(tok, static_cast<std::int64_t>(i)).second,
             "tokenizer JSON: token '{}' appears twice (/vocab/{})", tok, i);
    t.tokens_.push_back(tok);
  }
  return t;
}

void WordTokenizer::save(const std::filesystem::path& file) const {
  std::ofstream out(file, std::ios::binary);
  PL_CHECK(out, "cannot write tokenizer file '{}'", file.string());
  out << toJson();
  PL_CHECK(out.good(), "writing tokenizer file '{}' failed", file.string());
}

WordTokenizer WordTokenizer::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  PL_CHECK(in, "cannot read tokenizer file '{}'", file.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    return fromJson(ss.str());
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", file.string(), e.what()), e.file(), e.line());
  }
}

}  // namespace prunelab::datasets
