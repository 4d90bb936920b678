#include "tally/service/watchdog.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <spdlog/spdlog.h>

namespace tally::service {
namespace {

// A decimal environment variable, or nullopt when unset or not a number.
std::optional<std::uint64_t> env_number(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  const std::string_view s(v);
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return n;
}

}  // namespace

// The notify protocol itself (sd_notify(3), "a stable interface"): one
// datagram on the AF_UNIX socket NOTIFY_SOCKET names, a path or, with a
// leading '@', an abstract name. Spoken here instead of linking libsystemd,
// whose dependencies (libgcrypt, liblz4, liblzma, libzstd, libcap) cost
// an idle tallyd about 0.8 MB of resident pages for one sendto().
// MSG_DONTWAIT: a full socket drops this message rather than block the loop.
void notify(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  if (::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&addr),
               addr_len) < 0) {
    spdlog::debug("systemd notify to {}: {}", path, std::strerror(errno));
  }
  ::close(fd);
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  // As sd_watchdog_enabled(0, …): WATCHDOG_PID, when set, must be us (a
  // child that inherited the environment must not ping for its parent).
  const auto usec = env_number("WATCHDOG_USEC");
  if (!usec || *usec == 0) return std::nullopt;
  if (std::getenv("WATCHDOG_PID") != nullptr) {
    const auto pid = env_number("WATCHDOG_PID");
    if (!pid || *pid != static_cast<std::uint64_t>(::getpid())) return std::nullopt;
  }
  return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(*usec));
}

struct Watchdog::Answers {
  std::atomic<std::uint64_t> answered{0};  // the last probe generation that answered
};

Watchdog::Watchdog(boost::asio::any_io_executor executor, Probe probe, Status status)
    : timer_(std::move(executor)),
      probe_(std::move(probe)),
      status_(std::move(status)),
      answers_(std::make_shared<Answers>()) {}

Watchdog::~Watchdog() = default;

void Watchdog::start() {
  interval_ = watchdog_interval();
  if (!interval_) return;
  spdlog::info("systemd watchdog every {} ms; pinging every {} ms", interval_->count() / 1000,
               interval_->count() / 2000);
  stopped_ = false;
  tick();  // the first ping at once, then every half interval
}

void Watchdog::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Watchdog::arm() {
  timer_.expires_after(*interval_ / 2);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) tick();
  });
}

void Watchdog::tick() {
  // Ping only when the last probe answered (or none is set): a stalled
  // worker then stops the pings like a stalled loop, and systemd restarts us.
  const bool alive = !probe_ || answers_->answered.load(std::memory_order_acquire) == asked_;
  if (alive) {
    std::string state = "WATCHDOG=1";
    if (status_) {
      const std::string s = status_();
      if (!s.empty()) state += "\nSTATUS=" + s;
    }
    notify(state);
    ++pings_;
    warned_ = false;
    if (probe_) {
      const std::uint64_t generation = ++asked_;
      probe_([answers = answers_, generation] {
        answers->answered.store(generation, std::memory_order_release);
      });
    }
  } else if (!warned_) {
    spdlog::warn("watchdog: the worker has not answered for {} ms; not pinging", interval_->count() / 2000);
    warned_ = true;
  }
  arm();
}

}  // namespace tally::service
