// The progress line on stderr: a bar, the work done, what runs now and an ETA. On a
// terminal it is redrawn in place; otherwise a status line is printed now and then.
// Notes (failures, pairs written) go above it and stay.
#pragma once

#include <chrono>
#include <string>

namespace kiln_tune {

class Progress {
 public:
  Progress();

  void add_total(double units) { total_ += units; }
  void advance(double units = 1.0);
  void status(const std::string& text);  // what runs now; redraws (throttled)
  void note(const std::string& line);    // a permanent line
  void finish();                         // clears the bar

 private:
  using Clock = std::chrono::steady_clock;
  void draw(bool force);
  void clear();

  bool tty_;
  double total_ = 0, done_ = 0;
  std::string status_;
  Clock::time_point start_, first_work_, last_draw_;
  bool started_work_ = false, drawn_ = false;
};

}  // namespace kiln_tune
