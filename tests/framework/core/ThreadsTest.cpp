#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "framework/core/Threads.h"

namespace prunelab {
namespace {

TEST(ThreadsTest, RunsEveryIndexOnceWithIndexZeroOnTheCaller) {
  std::vector<std::atomic<int>> calls(5);
  std::vector<std::thread::id> ids(5);
  runOnThreads(5, [&](std::int64_t i) {
    ++calls[static_cast<std::size_t>(i)];
    ids[static_cast<std::size_t>(i)] = std::this_thread::get_id();
  });
  for (auto& c : calls) EXPECT_EQ(c.load(), 1);
  EXPECT_EQ(ids[0], std::this_thread::get_id());
  for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_NE(ids[i], std::this_thread::get_id()) << i;
}

TEST(ThreadsTest, OneRunsInlineAndZeroRunsNothing) {
  std::thread::id id;
  runOnThreads(1, [&](std::int64_t) { id = std::this_thread::get_id(); });
  EXPECT_EQ(id, std::this_thread::get_id());
  int calls = 0;
  runOnThreads(0, [&](std::int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadsTest, RethrowsTheLowestIndexAfterAllFinished) {
  std::atomic<int> finished{0};
  try {
    runOnThreads(4, [&](std::int64_t i) {
      ++finished;
      if (i >= 2) throw std::runtime_error("index " + std::to_string(i));
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "index 2");
  }
  EXPECT_EQ(finished.load(), 4);
}

}  // namespace
}  // namespace prunelab
