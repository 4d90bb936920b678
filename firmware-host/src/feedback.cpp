#include "tally/device/feedback.hpp"

#include <fcntl.h>
#include <linux/input.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

extern char** environ;

namespace tally::device {

namespace asio = boost::asio;

std::string_view to_string(Pattern p) {
  switch (p) {
    case Pattern::good: return "good";
    case Pattern::recorded: return "recorded";
    case Pattern::warning: return "warning";
    case Pattern::error: return "error";
    case Pattern::acked: return "acked";
  }
  return "error";
}

namespace {

// How loud a pattern is when several scans of one frame call for one.
int severity(Pattern p) {
  switch (p) {
    case Pattern::error: return 4;
    case Pattern::warning: return 3;
    case Pattern::recorded: return 2;
    case Pattern::good: return 1;
    case Pattern::acked: return 0;
  }
  return 0;
}

// One step of a pattern: LED on/off and beeper tone (0 = silent) for `ms`.
struct Segment {
  int ms;
  bool on;
  int hz;
};

// Distinct by ear and by eye: good one blip, recorded one longer beep,
// warning two mid beeps, error three low beeps ending long, acked a short
// silent LED flash.
const std::vector<Segment>& segments(Pattern p) {
  static const std::vector<Segment> good = {{40, true, 2800}};
  static const std::vector<Segment> recorded = {{120, true, 2000}};
  static const std::vector<Segment> warning = {{100, true, 1400}, {80, false, 0}, {100, true, 1400}};
  static const std::vector<Segment> error = {{150, true, 500}, {80, false, 0}, {150, true, 500}, {80, false, 0},
                                             {400, true, 350}};
  static const std::vector<Segment> acked = {{30, true, 0}};
  switch (p) {
    case Pattern::good: return good;
    case Pattern::recorded: return recorded;
    case Pattern::warning: return warning;
    case Pattern::error: return error;
    case Pattern::acked: return acked;
  }
  return error;
}

// Commands run one at a time, in pattern order; up to this many wait behind
// the running one, more are skipped (and counted).
constexpr std::size_t kCommandsQueued = 16;

}  // namespace

std::optional<Pattern> pattern_for(const ui::ScanReply& reply) {
  switch (reply.kind) {
    case ui::ScanReply::Kind::refused:
    case ui::ScanReply::Kind::failed:
      return Pattern::error;
    case ui::ScanReply::Kind::self_test:
      return reply.self_test && reply.self_test->ok ? Pattern::good : Pattern::warning;
    case ui::ScanReply::Kind::recorded:
    case ui::ScanReply::Kind::accepted:
      break;
  }
  if (reply.outcome.feedback == scanner::Feedback::error) return Pattern::error;
  if (reply.outcome.feedback == scanner::Feedback::warning) return Pattern::warning;
  if (!reply.recorded.empty()) return Pattern::recorded;
  return Pattern::good;
}

std::optional<Pattern> pattern_for(const ui::FrameReply& reply) {
  if (reply.error) return Pattern::error;
  std::optional<Pattern> worst;  // the loudest of its scans
  for (const auto& scan : reply.scans) {
    if (!scan.reply) continue;  // skipped
    const auto p = pattern_for(*scan.reply);
    if (p && (!worst || severity(*p) > severity(*worst))) worst = p;
  }
  return worst;
}

struct Feedback::Impl : std::enable_shared_from_this<Impl> {
  struct Led {
    int fd = -1;
    std::string on;  // max_brightness
    bool regular = false;  // a plain file (tests): truncated before each write
  };
  struct Child {
    Child(asio::io_context& io, int pidfd, pid_t p) : fd(io, pidfd), kill_timer(io), pid(p) {}
    asio::posix::stream_descriptor fd;
    asio::steady_timer kill_timer;
    pid_t pid;
  };

  Impl(asio::io_context& context, FeedbackConfig c) : io(context), config(std::move(c)), timer(context) {}
  ~Impl() {
    outputs(false, 0);
    for (auto& led : leds) ::close(led.fd);
    if (beeper >= 0) ::close(beeper);
    for (auto& [pid, child] : children) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);  // just killed: returns at once
    }
  }

  void outputs(bool on, int hz) {
    for (auto& led : leds) {
      const std::string value = (on ? led.on : std::string("0")) + "\n";
      if (led.regular && ::ftruncate(led.fd, 0) != 0) continue;
      if (::pwrite(led.fd, value.data(), value.size(), 0) < 0) spdlog::debug("feedback LED write: {}", std::strerror(errno));
    }
    if (beeper >= 0) {
      input_event ev[2] = {};
      ev[0].type = EV_SND;
      ev[0].code = SND_TONE;
      ev[0].value = on ? hz : 0;
      ev[1].type = EV_SYN;
      ev[1].code = SYN_REPORT;
      if (::write(beeper, ev, sizeof ev) < 0) spdlog::debug("feedback beeper write: {}", std::strerror(errno));
    }
  }

  void play(Pattern p) {
    if (stopped) return;
    if (p == Pattern::acked && playing && *playing != Pattern::acked) {  // never cuts another short: after it
      acked_pending = true;
      return;
    }
    ++stats.played;
    playing = p;
    step = 0;
    ++generation;
    timer.cancel();
    run_command(p);
    for (const auto& output : extra_outputs) output(p);
    next_step();
  }

  void next_step() {
    const auto& segs = segments(*playing);
    if (step >= segs.size()) {
      outputs(false, 0);
      playing.reset();
      if (acked_pending) {
        acked_pending = false;
        play(Pattern::acked);
      }
      return;
    }
    const Segment s = segs[step];
    outputs(s.on, s.hz);
    timer.expires_after(std::chrono::milliseconds(s.ms));
    timer.async_wait([weak = weak_from_this(), gen = generation](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->generation != gen || self->stopped) return;
      ++self->step;
      self->next_step();
    });
  }

  void run_command(Pattern p) {
    if (config.command.empty()) return;
    if (!children.empty()) {
      if (queued.size() >= kCommandsQueued) {
        ++stats.command_failures;
        spdlog::warn("feedback command skipped for {}: {} waiting", to_string(p), queued.size());
        return;
      }
      queued.push_back(p);
      return;
    }
    spawn(p);
  }

  void spawn(Pattern p) {
    std::vector<std::string> args = config.command;
    for (auto& a : args) {
      for (auto at = a.find("{pattern}"); at != std::string::npos; at = a.find("{pattern}", at)) {
        a.replace(at, 9, to_string(p));
        at += to_string(p).size();
      }
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      ++stats.command_failures;
      spdlog::warn("feedback command {}: {}", args[0], std::strerror(rc));
      return;
    }
    ++stats.commands;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {  // no pidfd (kernel < 5.3): cannot reap it later without blocking; stop it now
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      ++stats.command_failures;
      return;  // the queue stays empty: nothing waits behind a command that never ran
    }
    auto child = std::make_shared<Child>(io, pidfd, pid);
    children[pid] = child;
    child->kill_timer.expires_after(std::chrono::milliseconds(config.command_timeout_ms));
    child->kill_timer.async_wait([pid](const boost::system::error_code& ec) {
      if (!ec) ::kill(pid, SIGKILL);  // the pidfd turns readable; reaped below
    });
    child->fd.async_wait(asio::posix::stream_descriptor::wait_read,
                         [weak = weak_from_this(), pid](const boost::system::error_code&) {
                           auto self = weak.lock();
                           if (self) self->reap(pid);
                         });
  }

  void reap(pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) return;
    const auto it = children.find(pid);
    if (it != children.end()) {
      it->second->kill_timer.cancel();
      children.erase(it);  // closes the pidfd
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ++stats.command_failures;
      spdlog::warn("feedback command {} {}", config.command[0],
                   WIFSIGNALED(status) ? "killed" : "exited " + std::to_string(WEXITSTATUS(status)));
    }
    while (!queued.empty() && children.empty() && !stopped) {  // a spawn that fails leaves no child
      const Pattern next = queued.front();
      queued.pop_front();
      spawn(next);
    }
  }

  asio::io_context& io;
  FeedbackConfig config;
  std::vector<Led> leds;
  int beeper = -1;
  asio::steady_timer timer;
  std::optional<Pattern> playing;
  std::size_t step = 0;
  std::uint64_t generation = 0;
  std::uint64_t recorded_through = 0;
  bool awaiting_ack = false;
  bool acked_pending = false;  // acked came while another pattern played
  bool stopped = false;
  Stats stats;
  std::map<pid_t, std::shared_ptr<Child>> children;  // the running command (at most one)
  std::deque<Pattern> queued;                         // patterns whose command waits
  std::vector<std::function<void(Pattern)>> extra_outputs;
};

Result<std::unique_ptr<Feedback>> Feedback::open(asio::io_context& io, const FeedbackConfig& config) {
  auto impl = std::make_shared<Impl>(io, config);
  for (const auto& name : config.leds) {
    const auto dir = config.leds_dir / name;
    const auto path = (dir / "brightness").string();
    Impl::Led led;
    led.fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (led.fd < 0) {
      return make_error("bad_config", "feedback.leds: cannot open " + path + ": " + std::strerror(errno));
    }
    struct stat st{};
    led.regular = ::fstat(led.fd, &st) == 0 && S_ISREG(st.st_mode);
    std::ifstream max(dir / "max_brightness");
    if (!(max >> led.on) || led.on.empty() || led.on == "0") led.on = "1";
    impl->leds.push_back(std::move(led));
  }
  if (!config.beeper.empty()) {
    impl->beeper = ::open(config.beeper.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (impl->beeper < 0) {
      return make_error("bad_config", "feedback.beeper: cannot open " + config.beeper + ": " + std::strerror(errno));
    }
  }
  impl->outputs(false, 0);
  return std::unique_ptr<Feedback>(new Feedback(std::move(impl)));
}

Feedback::Feedback(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Feedback::~Feedback() { stop(); }

void Feedback::on_reply(const ui::ScanReply& reply) { on_reply(reply.max_seq(), pattern_for(reply)); }

void Feedback::on_reply(const ui::FrameReply& reply) { on_reply(reply.max_seq(), pattern_for(reply)); }

void Feedback::on_reply(std::uint64_t recorded_seq, std::optional<Pattern> pattern) {
  if (recorded_seq > 0) {
    impl_->recorded_through = std::max(impl_->recorded_through, recorded_seq);
    impl_->awaiting_ack = true;
  }
  if (pattern) play(*pattern);
}

void Feedback::on_ack(std::uint64_t applied_through) {
  if (!impl_->config.acked || !impl_->awaiting_ack || applied_through < impl_->recorded_through) return;
  impl_->awaiting_ack = false;
  play(Pattern::acked);
}

void Feedback::play(Pattern p) { impl_->play(p); }

void Feedback::add_output(std::function<void(Pattern)> output) { impl_->extra_outputs.push_back(std::move(output)); }

void Feedback::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  ++impl_->generation;
  impl_->timer.cancel();
  impl_->outputs(false, 0);
}

Feedback::Stats Feedback::stats() const { return impl_->stats; }

void FeedbackDeviceApi::submit_scan(ui::ScanRequest request, ScanDone done) {
  inner().submit_scan(std::move(request), [this, done = std::move(done)](ui::ScanReply r) {
    asio::post(io_, [&feedback = feedback_, copy = r] { feedback.on_reply(copy); });
    done(std::move(r));
  });
}

void FeedbackDeviceApi::submit_frame(ui::FrameRequest request, FrameDone done) {
  inner().submit_frame(std::move(request), [this, done = std::move(done)](ui::FrameReply r) {
    asio::post(io_, [&feedback = feedback_, copy = r] { feedback.on_reply(copy); });
    done(std::move(r));
  });
}

void FeedbackOutbox::record_ack(std::uint64_t applied_through, std::function<void(Result<void>)> done) {
  inner_.record_ack(applied_through, [this, applied_through, done = std::move(done)](Result<void> r) {
    if (r) asio::post(io_, [&feedback = feedback_, applied_through] { feedback.on_ack(applied_through); });
    done(std::move(r));
  });
}

}  // namespace tally::device
