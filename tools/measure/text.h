// Numbers and dates as kiln's measuring tools print them. Plain C++, no CUDA: the
// inline helpers are also compiled into kiln-tune's candidate libraries.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace kiln::measure {

// The median (the mean of the middle two for an even count); 0 for none.
inline double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// "2.50 GiB", "10.0 KiB", "512 B".
inline std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f %s", bytes, units[u]);
  else std::snprintf(buf, sizeof buf, bytes < 10 ? "%.2f %s" : bytes < 100 ? "%.1f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}

// "42s", "3m05s", "1h02m".
std::string format_duration(double seconds);

// Today in UTC: "2026-11-22".
std::string utc_date();
// Now in UTC, to the minute: "2026-11-22 12:34 UTC".
std::string utc_datetime();

}  // namespace kiln::measure
