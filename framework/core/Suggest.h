#pragma once

#include <string>
#include <vector>

namespace prunelab {

/// Levenshtein edit distance between two strings (used for "did you mean" hints).
std::size_t editDistance(const std::string& a, const std::string& b);

/// The candidates closest to `name` (distance <= max(2, |name|/3)), nearest first.
std::vector<std::string> nearestNames(const std::string& name, const std::vector<std::string>& candidates,
                                      std::size_t maxResults = 3);

/// " (did you mean 'x'?)" or "" when nothing is close; for appending to error messages.
std::string didYouMean(const std::string& name, const std::vector<std::string>& candidates);

/// Joins names as "'a', 'b', 'c'".
std::string quotedList(const std::vector<std::string>& names);

/// Throws prunelab::Error "<key> '<value>' is not supported; did you mean ...; use ..." unless
/// `value` is one of `allowed`.
void checkOneOf(const std::string& key, const std::string& value, const std::vector<std::string>& allowed);

}  // namespace prunelab
