// The progress line: see progress.h.
#include "measure/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "measure/text.h"

namespace kiln::measure {

Progress::Progress(double log_every_s)
    : tty_(isatty(STDERR_FILENO) != 0), log_every_s_(log_every_s), start_(Clock::now()), last_draw_(Clock::now()) {}

void Progress::advance(double units) {
  if (!started_work_) {
    started_work_ = true;
    first_work_ = Clock::now();
  }
  done_ += units;
  if (tty_) draw(false);
}

void Progress::status(const std::string& text) {
  status_ = text;
  draw(!tty_);
}

void Progress::note(const std::string& line) {
  clear();
  std::fprintf(stderr, "%s\n", line.c_str());
  if (tty_) draw(false);
  std::fflush(stderr);
}

void Progress::clear() {
  if (tty_ && drawn_) std::fprintf(stderr, "\r\033[K");
  drawn_ = false;
  std::fflush(stderr);
}

void Progress::draw(bool log_line) {
  const auto now = Clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (tty_ ? drawn_ && since < 0.1 : !log_line || (logged_ && since < log_every_s_)) return;
  last_draw_ = now;
  logged_ = logged_ || !tty_;
  const double fraction = total_ > 0 ? std::clamp(done_ / total_, 0.0, 1.0) : 0.0;
  std::string eta = "--";
  if (started_work_ && done_ > 0) {
    const double spent = std::chrono::duration<double>(now - first_work_).count();
    eta = format_duration(spent / done_ * std::max(0.0, total_ - done_));
  }
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth + 0.5);
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string line = "[";  // (appended piece by piece: GCC 12 warns falsely about "[" + std::string)
  line += std::string(filled, '#');
  line += std::string(kWidth - filled, '.');
  line += "] " + std::to_string(static_cast<int>(fraction * 100 + 0.5)) + "%  " + format_duration(elapsed) +
          " elapsed, ETA " + eta + "  " + status_;
  if (tty_) {
    constexpr std::size_t kColumns = 160;
    if (line.size() > kColumns) line.resize(kColumns);
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    drawn_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace kiln::measure
