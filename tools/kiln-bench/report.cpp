// Tables, summaries, CSV and SVG for kiln-bench: see report.h.
#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "measure/text.h"

namespace kiln_bench {

using kiln::measure::format_bytes;
using kiln::measure::median;

namespace {

// printf into a std::string.
std::string fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

// Microseconds with three significant digits: "2.31", "23.1", "231", "2310".
std::string us_text(double us) {
  if (us < 10) return fmt("%.2f", us);
  if (us < 100) return fmt("%.1f", us);
  return fmt("%.0f", us);
}

std::string label(const Result& r, bool with_kernel) {
  std::string s = with_kernel ? r.kernel + " " + r.dtype + " " : "";
  return s + "h=" + std::to_string(r.hidden) + " T=" + std::to_string(r.tokens);
}

// The heatmap outlines a cell where generic / kiln is below this (noise stays unmarked;
// the table and summary list every shape where kiln is slower at all).
constexpr double kSvgSlowerBelow = 0.98;

double dram_bytes(const RunInfo& info) { return kDramFactor * static_cast<double>(info.device.l2_bytes); }

struct Stats {
  double avg = 0, geomean = 0, median = 0, min = 0, max = 0;
  std::size_t argmin = 0, argmax = 0;
};

Stats stats_of(const std::vector<double>& v) {
  Stats s;
  if (v.empty()) return s;
  double sum = 0, log_sum = 0;
  for (double x : v) {
    sum += x;
    log_sum += std::log(x);
  }
  s.avg = sum / static_cast<double>(v.size());
  s.geomean = std::exp(log_sum / static_cast<double>(v.size()));
  s.median = median(v);
  s.argmin = static_cast<std::size_t>(std::min_element(v.begin(), v.end()) - v.begin());
  s.argmax = static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
  s.min = v[s.argmin];
  s.max = v[s.argmax];
  return s;
}

std::vector<int64_t> sorted_hidden(const std::vector<Result>& rs) {
  std::set<int64_t> s;
  for (const Result& r : rs) s.insert(r.hidden);
  return {s.begin(), s.end()};
}

std::vector<int64_t> sorted_tokens(const std::vector<Result>& rs) {
  std::set<int64_t> s;
  for (const Result& r : rs) s.insert(r.tokens);
  return {s.begin(), s.end()};
}

// A hidden x tokens grid of cells for the results that `pick` accepts; `cell` gives
// the text. Columns only for tokens that have at least one picked result.
template <class Pick, class Cell>
std::string matrix(const std::vector<Result>& rs, Pick pick, Cell cell) {
  std::map<std::pair<int64_t, int64_t>, const Result*> at;
  std::set<int64_t> hidden, tokens;
  for (const Result& r : rs) {
    if (!pick(r)) continue;
    at[{r.hidden, r.tokens}] = &r;
    hidden.insert(r.hidden);
    tokens.insert(r.tokens);
  }
  if (at.empty()) return "  (none)\n";
  std::string out = "  hidden \\ T";
  for (int64_t t : tokens) out += fmt(" %7lld", static_cast<long long>(t));
  out += "\n";
  for (int64_t h : hidden) {
    out += fmt("  %10lld", static_cast<long long>(h));
    for (int64_t t : tokens) {
      auto it = at.find({h, t});
      out += fmt(" %7s", it == at.end() ? "" : cell(*it->second).c_str());
    }
    out += "\n";
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Colour of a % of the ceiling: red (0 %) through yellow to green (100 %); above
// 100 % (L2-resident shapes, or read-heavy traffic that DRAM serves faster than a 50/50 copy) a distinct blue.
std::string pct_colour(double pct) {
  double h, s = 0.70, l = 0.62;
  if (pct > 100.0) {
    h = 205;
    l = 0.74;
  } else {
    h = 130.0 * std::clamp(pct, 0.0, 100.0) / 100.0;
  }
  // HSL to RGB.
  const double c = (1 - std::fabs(2 * l - 1)) * s, hp = h / 60.0;
  const double x = c * (1 - std::fabs(std::fmod(hp, 2.0) - 1));
  double r = 0, g = 0, b = 0;
  if (hp < 1) r = c, g = x;
  else if (hp < 2) r = x, g = c;
  else if (hp < 3) g = c, b = x;
  else if (hp < 4) g = x, b = c;
  else if (hp < 5) r = x, b = c;
  else r = c, b = x;
  const double m = l - c / 2;
  auto byte = [&](double v) { return static_cast<int>(std::lround((v + m) * 255.0)); };
  return fmt("#%02x%02x%02x", byte(r), byte(g), byte(b));
}

}  // namespace

double pct_of_ceiling(double gbps, const RunInfo& info) { return 100.0 * gbps / info.ceiling.gbps; }

std::string residency(const Result& r, const RunInfo& info) {
  const double ws = static_cast<double>(std::max<std::size_t>(r.working_set, static_cast<std::size_t>(r.bytes)));
  if (ws >= dram_bytes(info)) return "DRAM";
  if (ws <= static_cast<double>(info.device.l2_bytes)) return "L2";
  return "mixed";
}

std::string format_header(const RunInfo& info) {
  const kiln::measure::DeviceInfo& d = info.device;
  std::string out;
  out += "kiln-bench (kiln " + info.kiln_version + ")\n";
  out += fmt("device %d: %s (%s, %d SMs, L2 %s, %s); driver %s, CUDA driver %s, runtime %s\n", d.index, d.name.c_str(),
             d.arch.c_str(), d.sms, format_bytes(static_cast<double>(d.l2_bytes)).c_str(),
             format_bytes(static_cast<double>(d.memory_bytes)).c_str(), d.driver.c_str(), d.cuda_driver.c_str(),
             info.cuda_runtime.c_str());
  out += "date: " + info.date + "\n";
  out += "command: " + info.command_line + "\n";
  out += fmt("timing: %d launches per CUDA graph on a non-blocking stream; per call = median of up to %d replays "
             "(at least %d, about %.1f s at most) / launches; warm-up >= %.0f ms\n",
             info.timing.launches, info.timing.replays, info.timing.min_replays, info.timing.max_seconds,
             info.timing.warmup_ms);
  if (info.rotate)
    out += fmt("buffers: rotated among enough sets that the working set is >= %.0f x L2 (%s); a graph holds a whole "
               "number of passes over them\n",
               info.rotate_factor, format_bytes(info.rotate_factor * static_cast<double>(d.l2_bytes)).c_str());
  else
    out += "buffers: one set per shape (shapes smaller than L2 stay in L2 across back-to-back calls; --rotate "
           "measures them from DRAM)\n";
  out += fmt("inputs: seeded normal(0, 1), never zero (seed %llu); fp8 scale %g; eps %g; tensors a kernel writes "
             "over are refilled before every replay, outside the timed events\n",
             static_cast<unsigned long long>(info.seed), info.scale, info.eps);
  out += "options: " + info.options + "\n";
  const kiln::measure::Ceiling& c = info.ceiling;
  out += fmt("ceiling: %.0f GB/s = the faster of a copy kernel, %.0f GB/s (%s), and cudaMemcpyAsync, %.0f GB/s; "
             "%s copied (read + written), median of %d\n",
             c.gbps, c.kernel_gbps, c.kernel_config.c_str(), c.memcpy_gbps,
             format_bytes(static_cast<double>(c.bytes)).c_str(), c.samples);
  out += fmt("floor: %.2f µs per launch = the lower of an empty kernel, %.2f µs, and one launched with PDL, %.2f µs "
             "(%d per graph)\n",
             info.floor.us, info.floor.plain_us, info.floor.pdl_us, info.timing.launches);
  return out;
}

std::string format_table(const std::vector<Result>& rs, const RunInfo& info) {
  if (rs.empty()) return "";
  std::string out = "\n== " + rs.front().kernel + " " + rs.front().dtype + " ==\n";
  // "µ" is two bytes and one column: those headers get one more byte of width.
  out += fmt("%7s %7s %10s %10s %12s %8s %10s %7s %10s %6s  %s\n", "hidden", "tokens", "bytes", "kiln µs", "generic µs",
             "speedup", "kiln GB/s", "% ceil", "over floor", "from", "variant");
  for (const Result& r : rs) {
    const std::string over = r.tokens <= kSmallTokens ? fmt("%+.2f", r.kiln.us - info.floor.us) : "";
    std::string variant = r.variant + (r.fallback ? " (fallback)" : "");
    if (r.kiln.gate_timed_out || r.generic.gate_timed_out) variant += " [host lagged]";
    if (r.nonfinite) variant += fmt(" [%llu NaN/inf]", static_cast<unsigned long long>(r.nonfinite));
    out += fmt("%7lld %7lld %10s %9s %11s %7.2fx %10.0f %6.1f%% %10s %6s  %s%s\n", static_cast<long long>(r.hidden),
               static_cast<long long>(r.tokens), format_bytes(r.bytes).c_str(), us_text(r.kiln.us).c_str(),
               us_text(r.generic.us).c_str(), r.speedup(), r.kiln_gbps(), pct_of_ceiling(r.kiln_gbps(), info),
               over.c_str(), residency(r, info).c_str(), variant.c_str(), r.speedup() < 1.0 ? "  << slower" : "");
  }
  return out;
}

std::string format_summary(const std::vector<Result>& rs, const RunInfo& info, const std::string& title) {
  if (rs.empty()) return "";
  // Labels name the kernel and dtype when the results span more than one.
  const bool mixed = std::any_of(rs.begin(), rs.end(), [&](const Result& r) {
    return r.kernel != rs.front().kernel || r.dtype != rs.front().dtype;
  });
  std::string out = "\n== Summary: " + title + " ==\n";
  const auto fallbacks = std::count_if(rs.begin(), rs.end(), [](const Result& r) { return r.fallback; });
  out += fmt("configurations tested: %zu (specialised: %zu, generic fallback: %zu)\n", rs.size(),
             rs.size() - static_cast<std::size_t>(fallbacks), static_cast<std::size_t>(fallbacks));

  std::vector<double> speedups, kiln_us, generic_us;
  for (const Result& r : rs) {
    speedups.push_back(r.speedup());
    kiln_us.push_back(r.kiln.us);
    generic_us.push_back(r.generic.us);
  }
  const Stats s = stats_of(speedups);
  out += "speedup of kiln over kiln's generic kernel (generic µs / kiln µs):\n";
  out += fmt("  average %.3fx   geomean %.3fx   median %.3fx   min %.3fx (%s)   max %.3fx (%s)\n", s.avg, s.geomean,
             s.median, s.min, label(rs[s.argmin], mixed).c_str(), s.max, label(rs[s.argmax], mixed).c_str());
  out += "latency per call, µs:\n";
  for (const auto& [name, v] : {std::pair<const char*, const std::vector<double>*>{"kiln", &kiln_us},
                                {"kiln generic", &generic_us}}) {
    const Stats l = stats_of(*v);
    out += fmt("  %-13s average %9s   min %8s (%s)   max %8s (%s)\n", name, us_text(l.avg).c_str(),
               us_text(l.min).c_str(), label(rs[l.argmin], mixed).c_str(), us_text(l.max).c_str(),
               label(rs[l.argmax], mixed).c_str());
  }

  // The targets (report.h).
  const double dram = dram_bytes(info);
  std::size_t big = 0, big_ok = 0, small = 0, small_ok = 0;
  double worst_pct = 1e9, worst_over = -1e9;
  std::string worst_pct_at, worst_over_at;
  for (const Result& r : rs) {
    if (r.bytes >= dram) {
      const double p = pct_of_ceiling(r.kiln_gbps(), info);
      ++big;
      big_ok += p >= kTargetPctOfCeiling;
      if (p < worst_pct) worst_pct = p, worst_pct_at = label(r, mixed);
    }
    if (r.tokens <= kSmallTokens) {
      const double over = r.kiln.us - info.floor.us;
      ++small;
      small_ok += over <= kTargetUsOverFloor;
      if (over > worst_over) worst_over = over, worst_over_at = label(r, mixed);
    }
  }
  if (big)
    out += fmt("bandwidth (bytes >= %.0f x L2 = %s): %zu of %zu shapes reach >= %.0f%% of the ceiling; lowest %.1f%% "
               "(%s)\n",
               kDramFactor, format_bytes(dram).c_str(), big_ok, big, kTargetPctOfCeiling, worst_pct,
               worst_pct_at.c_str());
  if (small)
    out += fmt("launch-bound (T <= %lld): %zu of %zu shapes within %.1f µs of the floor (%.2f µs); highest %+.2f µs "
               "(%s)\n",
               static_cast<long long>(kSmallTokens), small_ok, small, kTargetUsOverFloor, info.floor.us, worst_over,
               worst_over_at.c_str());
  std::vector<const Result*> slower;
  for (const Result& r : rs)
    if (r.speedup() < 1.0) slower.push_back(&r);
  std::vector<const Result*> nonfinite;
  for (const Result& r : rs)
    if (r.nonfinite) nonfinite.push_back(&r);
  if (!nonfinite.empty()) {
    out += fmt("NaN or infinity in the written tensors (their timing may be off): %zu shape%s\n", nonfinite.size(),
               nonfinite.size() == 1 ? "" : "s");
    for (const Result* r : nonfinite)
      out += fmt("  %-36s %llu values\n", label(*r, mixed).c_str(), static_cast<unsigned long long>(r->nonfinite));
  }
  out += fmt("kiln slower than its generic kernel: %zu shape%s\n", slower.size(), slower.size() == 1 ? "" : "s");
  for (const Result* r : slower)
    out += fmt("  %-36s kiln %s µs vs generic %s µs (%.3fx)  %s\n", label(*r, mixed).c_str(),
               us_text(r->kiln.us).c_str(), us_text(r->generic.us).c_str(), r->speedup(), r->variant.c_str());
  return out;
}

std::string format_targets(const std::vector<Result>& rs, const RunInfo& info) {
  if (rs.empty()) return "";
  const double dram = dram_bytes(info);
  std::string out;
  out += fmt("kiln %% of the ceiling at shapes served from DRAM (! = bytes >= %.0f x L2 and below the %.0f%% target):\n",
             kDramFactor, kTargetPctOfCeiling);
  out += matrix(
      rs, [&](const Result& r) { return residency(r, info) == "DRAM"; },
      [&](const Result& r) {
        const double p = pct_of_ceiling(r.kiln_gbps(), info);
        return fmt("%.1f%s", p, r.bytes >= dram && p < kTargetPctOfCeiling ? "!" : "");
      });
  out += fmt("kiln µs over the launch floor (%.2f µs) at T <= %lld (! = above the %.1f µs target):\n", info.floor.us,
             static_cast<long long>(kSmallTokens), kTargetUsOverFloor);
  out += matrix(
      rs, [](const Result& r) { return r.tokens <= kSmallTokens; },
      [&](const Result& r) {
        const double over = r.kiln.us - info.floor.us;
        return fmt("%+.2f%s", over, over > kTargetUsOverFloor ? "!" : "");
      });
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_csv(const std::string& path, const std::vector<Result>& rs, const RunInfo& info) {
  const kiln::measure::DeviceInfo& d = info.device;
  std::ostringstream out;
  out << "device,arch,driver,cuda_driver,cuda_runtime,date,kiln_version,kernel,dtype,hidden,tokens,bytes,"
         "working_set_bytes,buffer_sets,rotate,launches_per_graph,kiln_replays,generic_replays,kiln_us,kiln_us_min,"
         "generic_us,generic_us_min,speedup,kiln_gbps,generic_gbps,kiln_pct_ceiling,generic_pct_ceiling,"
         "kiln_us_over_floor,residency,variant,threshold,is_fallback,config,schedule,ceiling_gbps,copy_kernel_gbps,"
         "memcpy_gbps,floor_us,floor_plain_us,floor_pdl_us,l2_bytes,rounding,gemma,refilled_per_replay,nonfinite,static_weight\n";
  for (const Result& r : rs) {
    out << csv_field(d.name) << ',' << d.arch << ',' << d.driver << ',' << d.cuda_driver << ',' << info.cuda_runtime
        << ',' << info.date << ',' << info.kiln_version << ',' << r.kernel << ',' << r.dtype << ',' << r.hidden << ','
        << r.tokens << ',' << fmt("%.0f", r.bytes) << ',' << r.working_set << ',' << r.sets << ','
        << (info.rotate ? 1 : 0) << ',' << r.kiln.launches << ',' << r.kiln.replays << ',' << r.generic.replays << ','
        << fmt("%.4f,%.4f,%.4f,%.4f,%.4f", r.kiln.us, r.kiln.us_min, r.generic.us, r.generic.us_min, r.speedup())
        << ',' << fmt("%.1f,%.1f", r.kiln_gbps(), r.generic_gbps()) << ','
        << fmt("%.2f,%.2f", pct_of_ceiling(r.kiln_gbps(), info), pct_of_ceiling(r.generic_gbps(), info)) << ','
        << fmt("%.4f", r.kiln.us - info.floor.us) << ',' << residency(r, info) << ',' << csv_field(r.variant) << ','
        << r.threshold << ',' << (r.fallback ? 1 : 0) << ',' << csv_field(r.config) << ',' << csv_field(r.schedule) << ','
        << fmt("%.1f,%.1f,%.1f", info.ceiling.gbps, info.ceiling.kernel_gbps, info.ceiling.memcpy_gbps) << ','
        << fmt("%.4f,%.4f,%.4f", info.floor.us, info.floor.plain_us, info.floor.pdl_us) << ',' << d.l2_bytes << ','
        << r.rounding << ',' << r.gemma << ',' << (r.refilled ? 1 : 0) << ',' << r.nonfinite << ','
        << r.static_weight << '\n';
  }
  write_file(path, out.str());
}

std::string make_svg(const std::vector<Result>& rs, const RunInfo& info) {
  if (rs.empty()) return "";
  const std::vector<int64_t> hidden = sorted_hidden(rs), tokens = sorted_tokens(rs);
  std::map<std::pair<int64_t, int64_t>, const Result*> at;
  for (const Result& r : rs) at[{r.hidden, r.tokens}] = &r;

  constexpr int cell_w = 62, cell_h = 44, left = 84, top = 122, right = 24;
  const int grid_w = cell_w * static_cast<int>(tokens.size()), grid_h = cell_h * static_cast<int>(hidden.size());
  const int width = std::max(left + grid_w + right, 760), legend_y = top + grid_h + 34, height = legend_y + 92;
  const char* font = "font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\"";

  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += fmt("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" %s>\n", width,
           height, width, height, font);
  s += fmt("<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", width, height);
  const Result& first = rs.front();
  s += "<text x=\"" + std::to_string(left) + "\" y=\"28\" font-size=\"18\" font-weight=\"600\">kiln " +
       xml_escape(first.kernel) + " · " + first.dtype + " · " + xml_escape(info.device.name) + " · " +
       xml_escape(info.date) + "</text>\n";
  s += fmt("<text x=\"%d\" y=\"50\" font-size=\"12\" fill=\"#333\">colour: kiln's %% of the copy ceiling (%.0f GB/s); "
           "text: kiln µs per call and %% of the ceiling; launch floor %.2f µs</text>\n",
           left, info.ceiling.gbps, info.floor.us);
  s += fmt("<text x=\"%d\" y=\"68\" font-size=\"12\" fill=\"#333\">median of up to %d replays of a CUDA graph of %d "
           "launches; %s; driver %s, kiln %s</text>\n",
           left, info.timing.replays, info.timing.launches,
           info.rotate ? "buffers rotated (working set &#8805; 4 × L2)" : "one buffer set (small shapes stay in L2)",
           xml_escape(info.device.driver).c_str(), xml_escape(info.kiln_version).c_str());

  // Axes.
  s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"12\" font-weight=\"600\">tokens &#8594;</text>\n", left, top - 28);
  for (std::size_t j = 0; j < tokens.size(); ++j)
    s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%lld</text>\n",
             left + static_cast<int>(j) * cell_w + cell_w / 2, top - 8, static_cast<long long>(tokens[j]));
  s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"12\" font-weight=\"600\" text-anchor=\"end\">hidden</text>\n", left - 10,
           top - 8);
  for (std::size_t i = 0; i < hidden.size(); ++i)
    s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"end\">%lld</text>\n", left - 10,
             top + static_cast<int>(i) * cell_h + cell_h / 2 + 5, static_cast<long long>(hidden[i]));

  // Cells.
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    for (std::size_t j = 0; j < tokens.size(); ++j) {
      const int x = left + static_cast<int>(j) * cell_w, y = top + static_cast<int>(i) * cell_h;
      auto it = at.find({hidden[i], tokens[j]});
      if (it == at.end()) {
        s += fmt("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#eeeeee\" stroke=\"#ffffff\"/>\n", x, y,
                 cell_w, cell_h);
        continue;
      }
      const Result& r = *it->second;
      const double pct = pct_of_ceiling(r.kiln_gbps(), info);
      s += "<g>";
      s += fmt("<title>%s h=%lld T=%lld: kiln %.3f µs (%s), generic %.3f µs, speedup %.3fx, %.0f GB/s = %.1f%% of "
               "the ceiling, %s</title>",
               xml_escape(r.kernel).c_str(), static_cast<long long>(r.hidden), static_cast<long long>(r.tokens),
               r.kiln.us, xml_escape(r.variant).c_str(), r.generic.us, r.speedup(), r.kiln_gbps(), pct,
               residency(r, info).c_str());
      s += fmt("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#ffffff\"/>", x, y, cell_w,
               cell_h, pct_colour(pct).c_str());
      if (r.speedup() < kSvgSlowerBelow)
        s += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#c00000\" "
                 "stroke-width=\"2.5\"/>",
                 x + 2.5, y + 2.5, cell_w - 5, cell_h - 5);
      if (r.fallback)
        s += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#222\" "
                 "stroke-dasharray=\"4 3\"/>",
                 x + 5.5, y + 5.5, cell_w - 11, cell_h - 11);
      s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"13\" font-weight=\"600\" text-anchor=\"middle\">%s</text>",
               x + cell_w / 2, y + 20, us_text(r.kiln.us).c_str());
      s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" fill=\"#222\">%s%%</text>",
               x + cell_w / 2, y + 35, fmt(pct < 10 ? "%.1f" : "%.0f", pct).c_str());
      s += "</g>\n";
    }
  }

  // Legend: the colour scale, the L2 colour, the outlines.
  const int bar_x = left, bar_w = 320, bar_h = 14;
  s += "<defs><linearGradient id=\"scale\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">";
  for (int p = 0; p <= 100; p += 10)
    s += fmt("<stop offset=\"%.2f\" stop-color=\"%s\"/>", p / 100.0, pct_colour(p).c_str());
  s += "</linearGradient></defs>\n";
  s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"12\" font-weight=\"600\">kiln %% of the copy ceiling</text>\n", bar_x,
           legend_y - 6);
  s += fmt("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"url(#scale)\" stroke=\"#888\"/>\n", bar_x,
           legend_y, bar_w, bar_h);
  for (int p = 0; p <= 100; p += 25) {
    const int tx = bar_x + bar_w * p / 100;
    s += fmt("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>", tx, legend_y + bar_h, tx,
             legend_y + bar_h + 4);
    s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%d%%</text>\n", tx, legend_y + bar_h + 16,
             p);
  }
  const int kx = bar_x + bar_w + 30;
  s += fmt("<rect x=\"%d\" y=\"%d\" width=\"22\" height=\"%d\" fill=\"%s\" stroke=\"#888\"/>", kx, legend_y, bar_h,
           pct_colour(101).c_str());
  s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"11\">&gt; 100%%: above the copy ceiling (L2-resident, or read-heavy traffic)</text>\n", kx + 28, legend_y + 11);
  s += fmt("<rect x=\"%.1f\" y=\"%d\" width=\"22\" height=\"%d\" fill=\"none\" stroke=\"#c00000\" "
           "stroke-width=\"2.5\"/>",
           kx + 0.0, legend_y + 24, bar_h);
  s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"11\">kiln over %.0f%% slower than its generic kernel</text>\n",
           kx + 28, legend_y + 35, 100.0 * (1.0 / kSvgSlowerBelow - 1.0));
  s += fmt("<rect x=\"%.1f\" y=\"%d\" width=\"22\" height=\"%d\" fill=\"none\" stroke=\"#222\" "
           "stroke-dasharray=\"4 3\"/>",
           kx + 0.0, legend_y + 48, bar_h);
  s += fmt("<text x=\"%d\" y=\"%d\" font-size=\"11\">no config set: the generic kernel ran</text>\n", kx + 28,
           legend_y + 59);
  s += "</svg>\n";
  return s;
}

}  // namespace kiln_bench
