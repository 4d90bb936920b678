// The test harness itself (tests/support/daemon.hpp): a child that writes a
// lot to stderr must not stall. With stderr on a pipe nobody drains, a child
// blocks once 64 KiB are written; that stalled mosquitto at 1 000 simulated
// devices (one log line per connect) and no movement was acknowledged.
#include <gtest/gtest.h>

#include <string>

#include "daemon.hpp"

namespace {

TEST(DaemonHarness, ChattyStderrDoesNotBlockTheChild) {
  // 1 MiB of stderr first, then the line the harness waits for.
  tally::test::Daemon d("/bin/sh", {"-c",
                                    "head -c 1048576 /dev/zero | tr '\\0' x >&2; "
                                    "echo 'listening on http://127.0.0.1:4242'; exec sleep 30"});
  EXPECT_EQ(d.wait_listening(), 4242);
  EXPECT_EQ(d.drain_stderr().size(), 1048576U);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait().signal, SIGTERM);
}

}  // namespace
