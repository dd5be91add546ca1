// The progress line of kiln's measuring tools on stderr: a bar, the share done, the
// time spent, an ETA and what runs now. On a terminal it is redrawn in place (ten
// times a second at most); in a log a status line is printed now and then instead.
// Notes (failures, results) go above it and stay.
#pragma once

#include <chrono>
#include <string>

namespace kiln::measure {

class Progress {
 public:
  // Without a terminal, a status line at most every `log_every_s` seconds (0: at every
  // status change, e.g. one line per shape).
  explicit Progress(double log_every_s = 15.0);

  void add_total(double units) { total_ += units; }
  void advance(double units = 1.0);      // work done; redraws on a terminal
  void status(const std::string& text);  // what runs now
  void note(const std::string& line);    // a permanent line on stderr
  void clear();                          // takes the bar away, e.g. before printing on stdout
  void finish() { clear(); }

 private:
  using Clock = std::chrono::steady_clock;
  void draw(bool log_line);

  bool tty_;
  double log_every_s_;
  double total_ = 0, done_ = 0;
  std::string status_;
  Clock::time_point start_, first_work_, last_draw_;
  bool started_work_ = false, drawn_ = false, logged_ = false;
};

}  // namespace kiln::measure
