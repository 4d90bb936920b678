// A real mosquitto broker for a test: its own config and persistence in a
// temp dir, on a free loopback port (never 1883), started and waited for
// until it accepts connections; stop()/start() restart it on the same port
// (for broker-outage tests); killed at the end of the test.
//
//   tally::test::Mosquitto broker;           // started
//   broker.uri()  → "tcp://127.0.0.1:41234"
//   broker.stop(); …; broker.start();
//   tally::test::Mosquitto tls([](std::uint16_t port, const std::string& dir) { return "listener …"; });
//                                            // a whole config of the test's own
//
// Skips nothing: ./deploy/check installs mosquitto.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "daemon.hpp"
#include "temp_dir.hpp"

namespace tally::test {

// A loopback TCP port that was free a moment ago, for a broker to listen on.
//
// Not bind(0): that hands out ports from the ephemeral range, where every
// outgoing connection of the tests running in parallel also takes its local
// port, and where the kernel may give a port just closed here to another
// process's bind(0), so a broker could lose the port it was given before it
// binds. (This was first suspected for SecurityTest's "socket error" under a
// loaded `ctest -j`; that turned out to be Paho/OpenSSL in the test process,
// see the test. The race is real all the same.) So: ports 20000–32767, below Linux's default ephemeral range
// (ip_local_port_range 32768–60999), from a start that differs per process,
// each checked free by a bind without SO_REUSEADDR.
inline std::uint16_t free_loopback_port() {
  constexpr unsigned kFirst = 20000;
  constexpr unsigned kCount = 32768 - kFirst;
  static unsigned next = (static_cast<unsigned>(::getpid()) * 2654435761u +
                          static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count())) %
                         kCount;
  for (unsigned tries = 0; tries < kCount; ++tries) {
    const auto port = static_cast<std::uint16_t>(kFirst + (next++ % kCount));
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return port;
  }
  throw std::runtime_error("no free port in 20000-32767");
}

inline bool accepts_connections(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class Mosquitto {
 public:
  // extra_config is appended to the generated mosquitto.conf.
  explicit Mosquitto(std::string extra_config = "", bool start_now = true)
      : extra_(std::move(extra_config)), port_(free_loopback_port()) {
    if (start_now) start();
  }

  // The whole mosquitto.conf comes from make_config(port, dir), called on
  // every start(): `port` is the loopback port the broker must listen on (and
  // port() reports), `dir` a private folder (persistence, files).
  using ConfigMaker = std::function<std::string(std::uint16_t port, const std::string& dir)>;
  explicit Mosquitto(ConfigMaker make_config, bool start_now = true)
      : make_config_(std::move(make_config)), port_(free_loopback_port()) {
    if (start_now) start();
  }

  void start() {
    for (int attempt = 0; attempt < 3; ++attempt) {
      const auto conf = write_config();
      process_ = std::make_unique<Daemon>("/usr/sbin/mosquitto", std::vector<std::string>{"-c", conf.string()});
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (std::chrono::steady_clock::now() < deadline) {
        if (accepts_connections(port_)) return;
        if (!alive()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      process_.reset();
      port_ = free_loopback_port();  // the port was taken meanwhile: try another
    }
    throw std::runtime_error("mosquitto did not start");
  }

  // SIGTERM (mosquitto saves its persistence) and wait.
  void stop() {
    if (!process_) return;
    process_->signal(SIGTERM);
    process_->wait();
    process_.reset();
  }
  void kill9() {
    if (process_) process_->kill9();
    process_.reset();
  }

  // Freezes the broker (SIGSTOP): connections stay open, nothing is answered.
  void pause() {
    if (process_) process_->signal(SIGSTOP);
  }
  void resume() {
    if (process_) process_->signal(SIGCONT);
  }

  std::uint16_t port() const { return port_; }
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::string log() { return process_ ? process_->drain_stderr() : std::string(); }

 private:
  bool alive() { return process_ && !process_->has_exited(); }

  std::filesystem::path write_config() {
    const auto conf = dir_.path() / "mosquitto.conf";
    std::ofstream out(conf);
    if (make_config_) {
      out << make_config_(port_, dir_.str()) << '\n';
    } else {
      out << "listener " << port_ << " 127.0.0.1\n"
          << "allow_anonymous true\n"
          << "persistence true\n"
          << "persistence_location " << dir_.str() << "/\n"
          << "log_dest stderr\n"
          << "max_queued_messages 100000\n"
          << extra_ << '\n';
    }
    // As root mosquitto drops to its own user unless told otherwise.
    if (::geteuid() == 0) out << "user root\n";
    return conf;
  }

  TempDir dir_{"tally-mosquitto"};
  std::string extra_;
  ConfigMaker make_config_;
  std::uint16_t port_;
  std::unique_ptr<Daemon> process_;
};

}  // namespace tally::test
