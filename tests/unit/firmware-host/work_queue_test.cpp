// tally::service::WorkQueue: the one bounded worker of both daemons.
#include "tally/service/work_queue.hpp"

#include <gtest/gtest.h>

#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tally::service {
namespace {

TEST(WorkQueue, RunsJobsInOrderOnItsThread) {
  WorkQueue q("test", 16);
  std::vector<int> seen;  // worker thread only, read after stop()
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(q.post([&seen, i] { seen.push_back(i); }));
  ASSERT_TRUE(q.post([&ran_on] { ran_on = std::this_thread::get_id(); }));
  q.stop();
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_NE(ran_on, caller);
}

TEST(WorkQueue, RefusesPastItsBoundButNotAProbe) {
  WorkQueue q("test", 2);
  std::promise<void> release;
  std::promise<void> started;
  auto gate = release.get_future().share();
  ASSERT_TRUE(q.post([&started, gate] {
    started.set_value();
    gate.wait();
  }));
  started.get_future().wait();  // the running job does not count
  int ran = 0;
  EXPECT_TRUE(q.post([&ran] { ++ran; }));
  EXPECT_TRUE(q.post([&ran] { ++ran; }));
  EXPECT_FALSE(q.post([&ran] { ++ran; })) << "a third waiting job is over the bound";
  EXPECT_EQ(q.queued(), 2U);
  EXPECT_TRUE(q.post([&ran] { ++ran; }, /*past_limit=*/true));
  EXPECT_EQ(q.depth_max(), 3U);
  release.set_value();
  q.stop();
  EXPECT_EQ(ran, 3) << "every job queued ran; the refused one did not";
}

TEST(WorkQueue, StopRunsWhatIsQueuedThenRefuses) {
  WorkQueue q("test", 100);
  int ran = 0;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(q.post([&ran] { ++ran; }));
  q.stop();
  EXPECT_EQ(ran, 50);
  EXPECT_FALSE(q.post([&ran] { ++ran; }));
  q.stop();  // idempotent
  EXPECT_EQ(ran, 50);
}

TEST(WorkQueue, AThrowingJobDoesNotStopTheWorker) {
  WorkQueue q("test", 4);
  bool after = false;
  ASSERT_TRUE(q.post([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(q.post([&after] { after = true; }));
  q.stop();
  EXPECT_TRUE(after);
}

}  // namespace
}  // namespace tally::service
