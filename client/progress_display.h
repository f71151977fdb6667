// Shows a job's progress on stderr while `run` follows it: a live bar redrawn
// in place with \r on a terminal, or plain lines at most about once a second
// otherwise. Rates (samples/s, particle_steps/s) and the ETA come from the
// events' counters and fractions over a sliding window of arrival times.
#ifndef IMPULSE_CLIENT_PROGRESS_DISPLAY_H_
#define IMPULSE_CLIENT_PROGRESS_DISPLAY_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>

#include "impulse/v1/jobs.pb.h"

namespace impulse::cli {

// Rate of a counter and of the fraction done over the last few seconds.
class RateWindow {
 public:
  explicit RateWindow(double window_seconds) : window_(window_seconds) {}
  void Add(double time, double counter, double fraction);
  // Per second over the window; 0 until two points span some time.
  double CounterRate() const;
  double FractionRate() const;

 private:
  struct Point {
    double time;
    double counter;
    double fraction;
  };
  double window_;
  std::deque<Point> points_;
};

class ProgressDisplay {
 public:
  enum class Mode {
    kBar,    // redraw one line on a terminal
    kLines,  // a line per state change and at most ~1/s for progress
    kQuiet,  // nothing
  };
  // Picks kBar when `out` is a terminal, else kLines (kQuiet if `quiet`).
  static Mode ModeFor(std::FILE* out, bool quiet);

  ProgressDisplay(Mode mode, std::FILE* out);
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  // Thread-safe: the event reader and the Ctrl-C thread both print.
  void OnEvent(const v1::JobEvent& event);
  // Prints `message` on its own line without garbling the bar.
  void Note(std::string_view message);
  // Ends the bar's line; later output starts on a fresh line.
  void Finish();

 private:
  std::string StatusText() const;
  void Draw();       // requires mu_
  void ClearLine();  // requires mu_
  int TerminalColumns() const;

  const Mode mode_;
  std::FILE* const out_;
  std::mutex mu_;
  std::string job_id_;
  v1::JobState state_ = v1::JOB_STATE_UNSPECIFIED;
  double fraction_ = 0;
  std::string unit_;  // "samples" or "particle steps"
  std::uint64_t counter_ = 0;
  bool has_estimate_ = false;
  double estimate_ = 0;
  RateWindow rates_{3.0};
  bool bar_visible_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
  std::chrono::steady_clock::time_point last_line_{};
};

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_PROGRESS_DISPLAY_H_
