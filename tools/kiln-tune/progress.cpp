#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "util.h"

namespace kiln_tune {

Progress::Progress() : tty_(isatty(STDERR_FILENO) != 0), start_(Clock::now()), last_draw_(Clock::now()) {}

void Progress::advance(double units) {
  if (!started_work_) {
    started_work_ = true;
    first_work_ = Clock::now();
  }
  done_ += units;
  draw(false);
}

void Progress::status(const std::string& text) {
  status_ = text;
  draw(false);
}

void Progress::note(const std::string& line) {
  clear();
  std::fprintf(stderr, "%s\n", line.c_str());
  draw(true);
}

void Progress::finish() {
  clear();
  std::fflush(stderr);
}

void Progress::clear() {
  if (tty_ && drawn_) std::fprintf(stderr, "\r\033[K");
  drawn_ = false;
}

void Progress::draw(bool force) {
  const auto now = Clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  // A terminal gets ten redraws a second; a log a line every 15 s.
  if (!force && since < (tty_ ? 0.1 : 15.0)) return;
  if (!tty_ && force) return;  // notes already went out as lines
  last_draw_ = now;
  const double fraction = total_ > 0 ? std::clamp(done_ / total_, 0.0, 1.0) : 0.0;
  std::string eta = "--";
  if (started_work_ && done_ > 0) {
    const double spent = std::chrono::duration<double>(now - first_work_).count();
    eta = format_duration(spent / done_ * std::max(0.0, total_ - done_));
  }
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth + 0.5);
  const std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string line = "[" + bar + "] " + std::to_string(static_cast<int>(fraction * 100 + 0.5)) + "%  " +
                     format_duration(elapsed) + " elapsed, ETA " + eta + "  " + status_;
  if (tty_) {
    const std::size_t cols = 160;
    if (line.size() > cols) line.resize(cols);
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  drawn_ = true;
  std::fflush(stderr);
}

}  // namespace kiln_tune
