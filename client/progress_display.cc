#include "client/progress_display.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "client/job_format.h"

namespace impulse::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kBarRedrawInterval = std::chrono::milliseconds(100);
constexpr auto kLineInterval = std::chrono::seconds(1);
constexpr int kMaxBarWidth = 40;
constexpr int kMinBarWidth = 10;
constexpr int kTypicalTextWidth = 64;
// Events that arrive in one burst say nothing about speed; a rate needs
// points at least this many seconds apart.
constexpr double kMinRateSpan = 0.25;

// Seconds on the client's steady clock. Rates use arrival times, not the
// events' own timestamps, which may have only whole seconds.
double NowSeconds() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

std::string FormatEta(double seconds) {
  const auto total = static_cast<long long>(std::ceil(seconds));
  if (total >= 3600) {
    return fmt::format("{}:{:02}:{:02}", total / 3600, total % 3600 / 60,
                       total % 60);
  }
  return fmt::format("{}:{:02}", total / 60, total % 60);
}

}  // namespace

void RateWindow::Add(double time, double counter, double fraction) {
  if (!points_.empty() && time < points_.back().time) points_.clear();
  points_.push_back({time, counter, fraction});
  // Keep one point at or before the window's start so the window is full.
  while (points_.size() > 2 && points_[1].time <= time - window_) {
    points_.pop_front();
  }
}

double RateWindow::CounterRate() const {
  if (points_.size() < 2) return 0;
  const double dt = points_.back().time - points_.front().time;
  if (dt < kMinRateSpan) return 0;
  return (points_.back().counter - points_.front().counter) / dt;
}

double RateWindow::FractionRate() const {
  if (points_.size() < 2) return 0;
  const double dt = points_.back().time - points_.front().time;
  if (dt < kMinRateSpan) return 0;
  return (points_.back().fraction - points_.front().fraction) / dt;
}

ProgressDisplay::Mode ProgressDisplay::ModeFor(std::FILE* out, bool quiet) {
  if (quiet) return Mode::kQuiet;
  return isatty(fileno(out)) ? Mode::kBar : Mode::kLines;
}

ProgressDisplay::ProgressDisplay(Mode mode, std::FILE* out)
    : mode_(mode), out_(out) {}

void ProgressDisplay::OnEvent(const v1::JobEvent& event) {
  if (mode_ == Mode::kQuiet) return;
  std::lock_guard lock(mu_);
  const bool first = job_id_.empty();
  job_id_ = event.job_id();
  const Clock::time_point now = Clock::now();

  if (event.type() == v1::STATE_CHANGED) {
    state_ = event.state();
    if (event.state() == v1::SUCCEEDED) fraction_ = 1;
    std::string line =
        fmt::format("job {} {}", job_id_, v1::JobState_Name(event.state()));
    if (event.error().code() == v1::JobState_Name(event.state())) {
      line += fmt::format(" ({})", event.error().message());
    } else if (!event.error().code().empty()) {
      line += fmt::format(": {}: {}", event.error().code(),
                          event.error().message());
    }
    if (!event.message().empty()) line += fmt::format(" ({})", event.message());
    if (mode_ == Mode::kLines) {
      fmt::print(out_, "{}\n", line);
      std::fflush(out_);
    } else {
      if (first) {
        ClearLine();
        fmt::print(out_, "job {}\n", job_id_);
      }
      Draw();
    }
    return;
  }

  fraction_ = std::clamp(event.fraction(), 0.0, 1.0);
  double counter = -1;
  if (auto it = event.counters().find("particle_steps");
      it != event.counters().end()) {
    unit_ = "particle steps";
    counter = static_cast<double>(it->second);
    counter_ = it->second;
  } else if (auto it = event.counters().find("samples");
             it != event.counters().end()) {
    unit_ = "samples";
    counter = static_cast<double>(it->second);
    counter_ = it->second;
  }
  rates_.Add(NowSeconds(), counter < 0 ? 0 : counter, fraction_);
  if (event.has_pi()) {
    has_estimate_ = true;
    estimate_ = event.pi().estimate();
  }

  if (mode_ == Mode::kBar) {
    if (now - last_draw_ >= kBarRedrawInterval) Draw();
  } else if (now - last_line_ >= kLineInterval) {
    last_line_ = now;
    fmt::print(out_, "job {} {}\n", job_id_, StatusText());
    std::fflush(out_);
  }
}

std::string ProgressDisplay::StatusText() const {
  std::string text =
      fmt::format("{} {:5.1f}%", v1::JobState_Name(state_), 100.0 * fraction_);
  if (const double rate = rates_.CounterRate(); rate > 0 && !unit_.empty()) {
    text += fmt::format("  {} {}/s", FormatCount(rate), unit_);
  }
  if (const double rate = rates_.FractionRate(); rate > 0 && fraction_ < 1) {
    text += fmt::format("  ETA {}", FormatEta((1.0 - fraction_) / rate));
  }
  if (has_estimate_) text += fmt::format("  pi ~ {:.7f}", estimate_);
  return text;
}

int ProgressDisplay::TerminalColumns() const {
  winsize size{};
  if (ioctl(fileno(out_), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  return 80;
}

void ProgressDisplay::Draw() {
  if (mode_ != Mode::kBar) return;
  last_draw_ = Clock::now();
  const int columns = TerminalColumns();
  std::string text = StatusText();
  std::string line;
  const int bar_width =
      std::min(kMaxBarWidth, columns - 1 - static_cast<int>(text.size()) - 3);
  if (bar_width >= kMinBarWidth) {
    const int filled = static_cast<int>(fraction_ * bar_width);
    std::string bar(bar_width, ' ');
    std::fill_n(bar.begin(), filled, '=');
    if (filled < bar_width && fraction_ > 0) bar[filled] = '>';
    line = fmt::format("[{}] {}", bar, text);
  } else {
    line = text;
  }
  if (static_cast<int>(line.size()) > columns - 1) {
    line.resize(std::max(0, columns - 1));
  }
  fmt::print(out_, "\r{}\033[K", line);
  std::fflush(out_);
  bar_visible_ = true;
}

void ProgressDisplay::ClearLine() {
  if (bar_visible_) {
    fmt::print(out_, "\r\033[K");
    bar_visible_ = false;
  }
}

void ProgressDisplay::Note(std::string_view message) {
  std::lock_guard lock(mu_);
  if (mode_ == Mode::kBar) {
    const bool redraw = bar_visible_;
    ClearLine();
    fmt::print(out_, "{}\n", message);
    if (redraw) Draw();
  } else {
    fmt::print(out_, "{}\n", message);
  }
  std::fflush(out_);
}

void ProgressDisplay::Finish() {
  std::lock_guard lock(mu_);
  if (mode_ == Mode::kBar && bar_visible_) {
    Draw();
    fmt::print(out_, "\n");
    std::fflush(out_);
    bar_visible_ = false;
  }
}

}  // namespace impulse::cli
