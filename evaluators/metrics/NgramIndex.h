#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace prunelab::evaluators {

/// One n-gram of a caption and how often it occurs there.
struct NgramCount {
  std::uint32_t id = 0;
  std::uint32_t count = 0;
};

/// All 1..maxOrder-grams of one caption, sorted by id, with the caption's word count.
struct NgramCounts {
  std::vector<NgramCount> entries;
  std::uint32_t numWords = 0;
};

/// Interns words and n-grams to dense integer ids so BLEU and CIDEr-D count, clip and compare
/// n-grams with integer sorts and merges instead of maps of strings. An n-gram id is derived from
/// its (n-1)-gram prefix id and its last word id, so ids are exact (no hash collisions).
/// Ids are only comparable within one index: build one per scored corpus.
class NgramIndex {
 public:
  /// maxOrder: the longest n-gram counted (1..4, BLEU and CIDEr-D use 4).
  explicit NgramIndex(int maxOrder = 4);

  /// Splits `caption` like Python's str.split() and counts its 1..maxOrder-grams.
  NgramCounts count(std::string_view caption);

  /// n of the n-gram `id` (1..maxOrder).
  int order(std::uint32_t id) const { return orders_[id]; }
  /// Number of distinct n-grams interned so far (ids are 0..size()-1).
  std::size_t size() const { return orders_.size(); }
  /// Number of distinct words interned so far.
  std::size_t numWords() const { return words_.size(); }
  /// The longest n-gram counted.
  int maxOrder() const { return maxOrder_; }

 private:
  std::uint32_t wordId(std::string_view word);
  std::uint32_t ngramId(std::uint64_t key, int order);
  void growWords();
  void growNgrams();

  int maxOrder_;
  std::vector<std::string> words_;
  std::vector<std::uint32_t> wordSlots_;  // open addressing: index+1 into words_, 0 = empty
  struct NgramSlot {
    std::uint64_t key;  // (prefix id + 1) << 32 | word id; all ones = empty
    std::uint32_t id;
  };
  std::vector<NgramSlot> ngramSlots_;  // open addressing; key and id together: one cache miss per probe
  std::vector<std::uint8_t> orders_;
  std::vector<std::uint32_t> scratchWords_;
  std::vector<std::uint32_t> scratchIds_;
};

}  // namespace prunelab::evaluators
