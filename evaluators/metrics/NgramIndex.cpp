#include "evaluators/metrics/NgramIndex.h"

#include <algorithm>
#include <functional>

#include "evaluators/metrics/Utf8.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {

namespace {

constexpr std::uint64_t kEmptyKey = ~std::uint64_t{0};

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

NgramIndex::NgramIndex(int maxOrder) : maxOrder_(maxOrder) {
  PL_CHECK(maxOrder >= 1 && maxOrder <= 4, "NgramIndex supports n-grams of order 1..4, got {}; use 4 for BLEU/CIDEr",
           maxOrder);
  wordSlots_.assign(1024, 0);
  ngramSlots_.assign(4096, NgramSlot{kEmptyKey, 0});
}

void NgramIndex::growWords() {
  std::vector<std::uint32_t> slots(wordSlots_.size() * 2, 0);
  const std::size_t mask = slots.size() - 1;
  for (std::uint32_t index = 0; index < words_.size(); ++index) {
    std::size_t pos = std::hash<std::string_view>{}(words_[index]) & mask;
    while (slots[pos] != 0) {
      pos = (pos + 1) & mask;
    }
    slots[pos] = index + 1;
  }
  wordSlots_.swap(slots);
}

std::uint32_t NgramIndex::wordId(std::string_view word) {
  const std::size_t mask = wordSlots_.size() - 1;
  std::size_t pos = std::hash<std::string_view>{}(word)&mask;
  while (wordSlots_[pos] != 0) {
    const std::uint32_t index = wordSlots_[pos] - 1;
    if (words_[index] == word) {
      return index;
    }
    pos = (pos + 1) & mask;
  }
  const auto index = static_cast<std::uint32_t>(words_.size());
  words_.emplace_back(word);
  wordSlots_[pos] = index + 1;
  if (words_.size() * 2 > wordSlots_.size()) {
    growWords();
  }
  return index;
}

void NgramIndex::growNgrams() {
  std::vector<NgramSlot> slots(ngramSlots_.size() * 2, NgramSlot{kEmptyKey, 0});
  const std::size_t mask = slots.size() - 1;
  for (const NgramSlot& slot : ngramSlots_) {
    if (slot.key == kEmptyKey) {
      continue;
    }
    std::size_t pos = mix(slot.key) & mask;
    while (slots[pos].key != kEmptyKey) {
      pos = (pos + 1) & mask;
    }
    slots[pos] = slot;
  }
  ngramSlots_.swap(slots);
}

std::uint32_t NgramIndex::ngramId(std::uint64_t key, int order) {
  const std::size_t mask = ngramSlots_.size() - 1;
  std::size_t pos = mix(key) & mask;
  while (ngramSlots_[pos].key != kEmptyKey) {
    if (ngramSlots_[pos].key == key) {
      return ngramSlots_[pos].id;
    }
    pos = (pos + 1) & mask;
  }
  const auto id = static_cast<std::uint32_t>(orders_.size());
  orders_.push_back(static_cast<std::uint8_t>(order));
  ngramSlots_[pos] = NgramSlot{key, id};
  if (orders_.size() * 2 > ngramSlots_.size()) {
    growNgrams();
  }
  return id;
}

NgramCounts NgramIndex::count(std::string_view caption) {
  scratchWords_.clear();
  for (std::string_view word : pythonSplit(caption)) {
    scratchWords_.push_back(wordId(word));
  }
  const std::size_t numWords = scratchWords_.size();
  scratchIds_.clear();
  for (std::size_t start = 0; start < numWords; ++start) {
    std::uint64_t prefixPlusOne = 0;  // 0: no prefix (a unigram)
    for (int n = 1; n <= maxOrder_ && start + n <= numWords; ++n) {
      const std::uint32_t id = ngramId((prefixPlusOne << 32) | scratchWords_[start + n - 1], n);
      scratchIds_.push_back(id);
      prefixPlusOne = std::uint64_t{id} + 1;
    }
  }
  std::sort(scratchIds_.begin(), scratchIds_.end());
  NgramCounts out;
  out.numWords = static_cast<std::uint32_t>(numWords);
  for (std::size_t k = 0; k < scratchIds_.size();) {
    std::size_t end = k + 1;
    while (end < scratchIds_.size() && scratchIds_[end] == scratchIds_[k]) {
      ++end;
    }
    out.entries.push_back({scratchIds_[k], static_cast<std::uint32_t>(end - k)});
    k = end;
  }
  return out;
}

}  // namespace prunelab::evaluators
