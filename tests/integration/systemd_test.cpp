// systemd's notify protocol against the real tallyd and tally-ledger: the test
// owns the NOTIFY_SOCKET (a unix datagram socket), sets WATCHDOG_USEC=200000
// and WATCHDOG_PID (the child's own pid, through `sh -c 'exec'`), and reads
// what the daemons send: READY=1 once they listen, WATCHDOG=1 every half
// interval from the event loop, STOPPING=1 on SIGTERM. A journal worker held
// up by a real SQLite write lock stops tallyd's pings (no seam needed).
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon.hpp"
#include "http_client.hpp"
#include "notify_socket.hpp"
#include "temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using tally::test::Daemon;
using tally::test::HttpClient;
using tally::test::NotifySocket;
using tally::test::TempDir;

class SystemdNotify : public ::testing::Test {
 protected:
  // Starts `binary args…` as systemd would for a Type=notify unit with
  // WatchdogSec=200ms: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID set.
  // watchdog_pid "self" = the child's pid; anything else is passed as is.
  std::unique_ptr<Daemon> start(const std::string& binary, std::vector<std::string> args,
                                const std::string& watchdog_pid = "self") {
    ::setenv("NOTIFY_SOCKET", notify_.path().c_str(), 1);
    ::setenv("WATCHDOG_USEC", "200000", 1);
    const std::string pid = watchdog_pid == "self" ? "$$" : watchdog_pid;
    std::vector<std::string> sh{"-c", "WATCHDOG_PID=" + pid + " exec \"$0\" \"$@\"", binary};
    sh.insert(sh.end(), args.begin(), args.end());
    auto d = std::make_unique<Daemon>("/bin/sh", sh);
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    return d;
  }

  std::vector<std::string> tallyd_args() const {
    return {"--data-dir", (dir_.path() / "tallyd").string(), "--device-id", "hh-1", "--site", "test",
            "--http", "127.0.0.1:0", "--log-level", "warn", "--mqtt", ""};
  }
  std::vector<std::string> ledger_args() const {
    return {"--data-dir", (dir_.path() / "ledger").string(), "--http", "127.0.0.1:0", "--mqtt", "",
            "--log-level", "warn"};
  }

  // READY=1 (with a STATUS= line), then pings, then STOPPING=1 and exit 0 on SIGTERM.
  void expect_notify_lifecycle(Daemon& d, const std::string& status_prefix) {
    auto ready = notify_.wait_for("READY=1", 15s);
    ASSERT_TRUE(ready) << "no READY=1; stderr: " << d.drain_stderr();
    EXPECT_NE(ready->find("STATUS=" + status_prefix), std::string::npos) << *ready;
    // 200 ms watchdog: a ping every 100 ms, so at least 5 in 1.5 s even on a busy box.
    const int pings = notify_.count("WATCHDOG=1", 1500ms);
    EXPECT_GE(pings, 5);
    EXPECT_LE(pings, 20);  // half the interval, not a busy loop
    d.signal(SIGTERM);
    EXPECT_TRUE(notify_.wait_for("STOPPING=1", 10s)) << d.drain_stderr();
    EXPECT_EQ(d.wait().code, 0);
  }

  TempDir dir_{"systemd-test"};
  NotifySocket notify_{(dir_.path() / "notify.sock").string()};
};

TEST_F(SystemdNotify, TallydReadyWatchdogStopping) {
  auto d = start(TALLYD_PATH, tallyd_args());
  expect_notify_lifecycle(*d, "pending 0, broker off");
}

TEST_F(SystemdNotify, LedgerReadyWatchdogStopping) {
  auto d = start(TALLY_LEDGER_PATH, ledger_args());
  expect_notify_lifecycle(*d, "pending 0 store jobs, broker off");
}

// WATCHDOG_PID names another process: the watchdog is not ours, no pings
// (and no timer: idle means asleep).
TEST_F(SystemdNotify, NoPingsForAnotherProcesssWatchdog) {
  auto d = start(TALLYD_PATH, tallyd_args(), std::to_string(::getpid()));
  ASSERT_TRUE(notify_.wait_for("READY=1", 15s)) << d->drain_stderr();
  EXPECT_EQ(notify_.count("WATCHDOG=1", 600ms), 0);
  d->signal(SIGTERM);
  EXPECT_TRUE(notify_.wait_for("STOPPING=1", 10s));
  EXPECT_EQ(d->wait().code, 0);
}

// The event loop is fine but the journal worker is stuck (here: waiting for
// a write lock another process holds on journal.db): the pings stop, so
// systemd would restart tallyd; they resume once the worker runs again.
TEST_F(SystemdNotify, StuckJournalWorkerStopsThePings) {
  auto d = start(TALLYD_PATH, tallyd_args());
  const std::uint16_t port = d->wait_listening();
  ASSERT_TRUE(notify_.wait_for("WATCHDOG=1", 5s)) << d->drain_stderr();

  sqlite3* db = nullptr;
  const std::string journal = (dir_.path() / "tallyd" / "journal.db").string();
  ASSERT_EQ(sqlite3_open(journal.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  // An accepted scan is journaled: the worker now waits (busy_timeout 5 s).
  unsigned scan_status = 0;
  std::thread scanner([port, &scan_status] {
    HttpClient c(port, "127.0.0.1", 20s);
    scan_status = c.post_json("/api/v1/scans", R"({"text":"OP:alice"})").status;
  });
  notify_.count("WATCHDOG=1", 300ms);  // a probe answered before the scan may still ping once
  const int while_stuck = notify_.count("WATCHDOG=1", 1200ms);

  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  scanner.join();
  EXPECT_EQ(while_stuck, 0);
  EXPECT_EQ(scan_status, 200U);  // the scan waited for the lock, then was recorded
  EXPECT_GE(notify_.count("WATCHDOG=1", 1000ms), 3);  // the worker answers again
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait().code, 0);
}

}  // namespace
