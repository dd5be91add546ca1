// The batch-bucket rule, shared by the runtime's launch path and kiln-gen --explain:
// the largest threshold <= tokens, or the smallest threshold when tokens is below
// all of them (the RFC's bisect_right - 1, clamped at 0).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::detail {

// `thresholds` is sorted ascending and holds `count` >= 1 entries.
constexpr std::size_t select_bucket(const int32_t* thresholds, std::size_t count, int64_t tokens) {
  std::size_t lo = 0, hi = count;  // first index whose threshold > tokens lies in [lo, hi]
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (thresholds[mid] <= tokens) lo = mid + 1; else hi = mid;
  }
  return lo == 0 ? 0 : lo - 1;
}

}  // namespace kiln::detail
