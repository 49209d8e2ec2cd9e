#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace prunelab::datasets {

/// Word-level tokenizer over a closed vocabulary (FashionScenes' words) plus special tokens at fixed
/// ids: [PAD]=0, [UNK]=1, [BOS]=2, [EOS]=3, [SEP]=4, [MASK]=5; words follow, sorted. Text is
/// lower-cased and every character other than a letter, digit, '-' or '\'' separates words, so
/// "What is at the top left?" gives the words what/is/at/the/top/left and "t-shirt" stays one word.
/// Unknown words map to [UNK]; no input makes it fail. Saved with each model as JSON.
class WordTokenizer {
 public:
  static constexpr std::int64_t kPad = 0, kUnk = 1, kBos = 2, kEos = 3, kSep = 4, kMask = 5;
  static constexpr std::int64_t kNumSpecial = 6;

  /// Special tokens only.
  WordTokenizer();
  /// Special tokens followed by `words` (normalised, de-duplicated, sorted).
  explicit WordTokenizer(const std::vector<std::string>& words);

  /// The normalised words of `text` (lower case, punctuation removed).
  static std::vector<std::string> words(const std::string& text);

  /// Token ids of `text`, optionally framed by [BOS]/[EOS]; with maxLen >= 0 the words are cut so
  /// that the result (framing included) has at most maxLen ids. Not padded.
  std::vector<std::int64_t> encode(const std::string& text, std::int64_t maxLen = -1, bool addBos = false,
                                   bool addEos = false) const;
  /// Text of `ids`: stops at the first [EOS], skips [PAD] and [BOS], writes other special tokens
  /// (and ids outside the vocabulary as [UNK]) by name.
  std::string decode(const std::vector<std::int64_t>& ids) const;

  /// Id of a (normalised) word, kUnk when it is not in the vocabulary.
  std::int64_t id(const std::string& word) const;
  /// The token with id `id` ("[UNK]" when out of range).
  const std::string& token(std::int64_t id) const;
  /// Vocabulary size, special tokens included.
  std::int64_t size() const { return static_cast<std::int64_t>(tokens_.size()); }
  /// All tokens in id order.
  const std::vector<std::string>& tokens() const { return tokens_; }

  /// JSON form: {"type":"prunelab.word_tokenizer","version":1,"lowercase":true,"special_tokens":{...},
  /// "vocab":[tokens in id order]}.
  std::string toJson() const;
  /// Inverse of toJson; errors say what is malformed.
  static WordTokenizer fromJson(const std::string& json);
  /// Writes toJson() to `file`.
  void save(const std::filesystem::path& file) const;
  /// Reads a tokenizer written by save(); errors name the file.
  static WordTokenizer load(const std::filesystem::path& file);

  bool operator==(const WordTokenizer& other) const { return tokens_ == other.tokens_; }
  bool operator!=(const WordTokenizer& other) const { return !(*this == other); }

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int64_t> ids_;
};

}  // namespace prunelab::datasets
