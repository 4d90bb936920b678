// ReopenBackoff, the reopen policy of serial scanners, cameras and camera
// triggers: the delay doubles up to the maximum, each new reason is said
// once, an open that works starts over, and a cancelled retry never runs.
#include "tally/device/reopen_backoff.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace tally::device {
namespace {

using std::chrono::milliseconds;

TEST(ReopenBackoff, DoublesUpToTheMaximumAndSaysEachReasonOnce) {
  boost::asio::io_context io;
  ReopenBackoff b(io.get_executor(), milliseconds(2), milliseconds(8));
  std::vector<std::string> said;
  auto status = [&said](std::string s) { said.push_back(std::move(s)); };
  int retries = 0;
  std::vector<milliseconds> delays;
  for (int i = 0; i < 4; ++i) {
    delays.push_back(b.next_delay());
    b.schedule("cannot open /dev/ttyACM0: No such file or directory", status, [&retries] { ++retries; });
    io.restart();
    io.run();  // until the retry ran
  }
  EXPECT_EQ(delays, (std::vector<milliseconds>{milliseconds(2), milliseconds(4), milliseconds(8), milliseconds(8)}));
  EXPECT_EQ(retries, 4);
  EXPECT_EQ(said, std::vector<std::string>{"cannot open /dev/ttyACM0: No such file or directory; retrying"});

  b.schedule("lost /dev/ttyACM0: Input/output error", status, [&retries] { ++retries; });
  io.restart();
  io.run();
  ASSERT_EQ(said.size(), 2U) << "a new reason is said";
  EXPECT_EQ(said.back(), "lost /dev/ttyACM0: Input/output error; retrying");

  b.opened();
  EXPECT_EQ(b.next_delay(), milliseconds(2)) << "an open that worked starts over";
  b.schedule("lost /dev/ttyACM0: Input/output error", status, [&retries] { ++retries; });
  io.restart();
  io.run();
  EXPECT_EQ(said.size(), 3U) << "after an open, the same reason is said again";
  EXPECT_EQ(retries, 6);
}

TEST(ReopenBackoff, ACancelledRetryNeverRunsAndMaxIsAtLeastMin) {
  boost::asio::io_context io;
  ReopenBackoff b(io.get_executor(), milliseconds(5), milliseconds(1));
  int retries = 0;
  b.schedule("gone", nullptr, [&retries] { ++retries; });  // no status callback: nothing said, no crash
  b.cancel();
  io.run();
  EXPECT_EQ(retries, 0);
  EXPECT_EQ(b.next_delay(), milliseconds(5)) << "max below min is raised to min";
}

}  // namespace
}  // namespace tally::device
