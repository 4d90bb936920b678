// tally::service speaks systemd's notify protocol itself (no libsystemd):
// the datagram, both socket address forms, and the watchdog environment as
// sd_watchdog_enabled(3) reads it. The real-process side (READY, WATCHDOG,
// STOPPING from tallyd) is tests/integration/systemd_test.cpp.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "notify_socket.hpp"
#include "tally/service/watchdog.hpp"
#include "temp_dir.hpp"

namespace {

using namespace std::chrono_literals;

class ServiceEnv : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* v : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}) ::unsetenv(v);
  }
};

TEST_F(ServiceEnv, NotifySendsTheStateAsOneDatagramToAPathSocket) {
  tally::test::TempDir dir("tally-notify");
  const std::string path = (dir.path() / "notify.sock").string();
  tally::test::NotifySocket sock(path);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  tally::service::notify("READY=1\nSTATUS=journal open");
  EXPECT_EQ(sock.receive(2s), "READY=1\nSTATUS=journal open");
}

TEST_F(ServiceEnv, NotifyReachesAnAbstractSocketNamedWithAnAt) {
  const std::string name = "tally-test-" + std::to_string(::getpid());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] = '\0'
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())),
            0);
  ::setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);
  tally::service::notify("WATCHDOG=1");
  char buf[64] = {};
  const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  ::close(fd);
  ASSERT_EQ(n, 10);
  EXPECT_EQ(std::string(buf, 10), "WATCHDOG=1");
}

TEST_F(ServiceEnv, WatchdogIntervalFollowsWatchdogUsecAndPid) {
  EXPECT_FALSE(tally::service::watchdog_interval());
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  EXPECT_EQ(tally::service::watchdog_interval(), std::chrono::microseconds(2'000'000));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(tally::service::watchdog_interval(), std::chrono::microseconds(2'000'000));
  // Inherited by a child of the watched process: not ours to ping.
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_FALSE(tally::service::watchdog_interval());
  ::setenv("WATCHDOG_PID", "12x", 1);
  EXPECT_FALSE(tally::service::watchdog_interval());
  ::unsetenv("WATCHDOG_PID");
  for (const char* bad : {"0", "", "-5", "1e6", "abc"}) {
    ::setenv("WATCHDOG_USEC", bad, 1);
    EXPECT_FALSE(tally::service::watchdog_interval()) << bad;
  }
}

}  // namespace
