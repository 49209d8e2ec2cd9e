#pragma once

#include <cstddef>
#include <vector>

namespace prunelab::evaluators {

/// numpy's float64 sum (np.add.reduce on a contiguous array): pairwise summation with 8 partial
/// sums per 128-element block. Used where the reference scripts call np.mean, so corpus means match
/// them to the last bit instead of differing by rounding.
double numpySum(const double* values, std::size_t count);

/// np.mean of a float64 vector: numpySum / size. Returns NaN for an empty vector, as numpy does
/// (callers reject empty inputs before reaching it).
double numpyMean(const std::vector<double>& values);

}  // namespace prunelab::evaluators
