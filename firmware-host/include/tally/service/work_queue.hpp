// One thread and a bounded FIFO of jobs in front of it: tallyd's journal
// worker and frame decoder, tally-ledger's parse and store threads. A full
// queue refuses at once (the caller answers "overloaded") instead of
// growing; nothing is ever dropped once queued.
//
// Thread-safety: post(), queued(), depth_max() and stop() from any thread.
// Jobs run on the worker thread, one at a time, in the order posted. A job
// that throws is logged and the worker goes on.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace tally::service {

class WorkQueue {
 public:
  // `name` is for the log; `max` bounds the jobs waiting (not the running one).
  WorkQueue(std::string name, std::size_t max);
  ~WorkQueue();  // stop()s
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `job`; false (and `job` dropped unrun) when the queue holds `max`
  // jobs or the worker is stopping. past_limit: queued even when full (a
  // watchdog's probe, of which the caller keeps one in flight at most).
  bool post(std::function<void()> job, bool past_limit = false);
  std::size_t queued() const;     // jobs waiting now
  std::size_t depth_max() const;  // the most that ever waited at once

  // Refuses new jobs, runs the queued ones, joins the thread. Idempotent.
  // REQUIRES: not called from a job.
  void stop();

 private:
  void work();

  const std::string name_;
  const std::size_t max_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mutex_)
  std::size_t depth_max_ = 0;              // GUARDED_BY(mutex_)
  bool stopping_ = false;                   // GUARDED_BY(mutex_)
  std::thread thread_;                      // last: starts once the rest exists
};

}  // namespace tally::service
