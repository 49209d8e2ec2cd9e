#pragma once

#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "framework/core/Error.h"

namespace prunelab::testing {

/// The message of the prunelab::Error that `f` throws, or "<no error>" when it throws none.
inline std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace prunelab::testing

/// Expects `part` to occur in `text`, printing the whole text when it does not.
#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)
