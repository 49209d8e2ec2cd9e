#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "evaluators/metrics/NgramIndex.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {
namespace {

TEST(NgramIndexTest, CountsAllOrdersWithRepeats) {
  NgramIndex index(4);
  // "a a a": unigram a x3, bigram "a a" x2, trigram "a a a" x1.
  const NgramCounts counts = index.count("a a a");
  EXPECT_EQ(counts.numWords, 3u);
  ASSERT_EQ(counts.entries.size(), 3u);
  std::vector<std::uint32_t> byOrder(5, 0);
  for (const NgramCount& g : counts.entries) {
    byOrder[index.order(g.id)] = g.count;
  }
  EXPECT_EQ(byOrder[1], 3u);
  EXPECT_EQ(byOrder[2], 2u);
  EXPECT_EQ(byOrder[3], 1u);
}

TEST(NgramIndexTest, IdsAreSharedAcrossCaptionsAndOrderMatters) {
  NgramIndex index(2);
  const NgramCounts ab = index.count("a b");
  const NgramCounts ba = index.count("b a");
  const NgramCounts ab2 = index.count("  a   b ");
  EXPECT_EQ(ab.entries.size(), 3u);
  EXPECT_EQ(ab2.entries.size(), 3u);
  for (std::size_t k = 0; k < ab.entries.size(); ++k) {
    EXPECT_EQ(ab.entries[k].id, ab2.entries[k].id);
  }
  EXPECT_EQ(index.size(), 4u);  // a, b, "a b", "b a"
  EXPECT_EQ(index.numWords(), 2u);
  EXPECT_TRUE(index.count("").entries.empty());
}

TEST(NgramIndexTest, GrowsPastItsInitialTables) {
  NgramIndex index(4);
  std::string caption;
  for (int i = 0; i < 5000; ++i) {
    caption += "w" + std::to_string(i) + " ";
  }
  const NgramCounts counts = index.count(caption);
  EXPECT_EQ(counts.numWords, 5000u);
  EXPECT_EQ(counts.entries.size(), 5000u + 4999u + 4998u + 4997u);
  EXPECT_EQ(index.count(caption).entries.front().id, counts.entries.front().id);
  EXPECT_THROW(NgramIndex(5), prunelab::Error);
}

}  // namespace
}  // namespace prunelab::evaluators
