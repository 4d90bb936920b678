// The journal's worker: owns the device's Journal, one thread and a bounded
// queue in front of it (service::WorkQueue), so nothing else ever blocks on
// SQLite or fsync. It is the edge client's Outbox directly: reading the
// outbox, recording acks and storing master data are jobs on this queue, so
// the sync client talks to the journal without passing through the scan
// engine. The engine posts each scan's transaction as one job (post()).
//
// After every job the worker publishes the journal's status (status(),
// outbox_state(); cheap: the journal keeps its counters) and calls the
// append listener when last_seq or the last device exception moved. A job
// that answers someone before it ends (a scan reply) calls publish() first,
// so whoever got the answer sees its effect in the status.
//
// Thread-safety: every public method from any thread; jobs and their
// callbacks run on the worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tally/edge/outbox.hpp"
#include "tally/journal/journal.hpp"
#include "tally/service/work_queue.hpp"

namespace tally::journal {

class Worker final : public edge::Outbox {
 public:
  // Takes the opened journal; its thread starts at once.
  Worker(std::unique_ptr<Journal> journal, std::size_t queue_max);
  ~Worker() override;  // stop()s
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Queues `job` (run on the worker with the journal); false when the queue
  // holds queue_max jobs or the worker is stopping (the job is dropped
  // unrun: answer "overloaded"). past_limit: queued even when full (the
  // watchdog's probe, one in flight at most).
  bool post(std::function<void(Journal&)> job, bool past_limit = false);

  // Worker thread: publishes the journal's status now and tells the append
  // listener if something was journaled (also done after every job).
  void publish();

  // The journal's status as of the last publish(); never waits for a job.
  Status status() const;
  std::size_t queued() const { return queue_->queued(); }
  std::size_t depth_max() const { return queue_->depth_max(); }

  // How store_master_data() stores a version (run on the worker): the owner
  // of the parsed form (tallyd's engine) checks and applies it, then stores
  // it in the journal. Without one the text is stored as is when newer than
  // the stored version. Set before the edge client starts.
  using MasterDataHandler =
      std::function<Result<void>(Journal&, const std::string& kind, std::int64_t version, const std::string& text)>;
  void set_master_data_handler(MasterDataHandler handler);

  // Refuses new jobs, runs the queued ones (the in-flight append included)
  // and joins the thread. Idempotent. Blocks: not on an Asio thread that
  // still serves, never from a job.
  void stop();

  // edge::Outbox: each a job on the queue ("overloaded" when full).
  edge::OutboxState outbox_state() const override;
  void read_outbox(std::uint64_t after, std::size_t limit,
                   std::function<void(Result<std::vector<edge::OutboxItem>>)> done) override;
  void record_ack(std::uint64_t applied_through, std::function<void(Result<void>)> done) override;
  void read_exceptions(std::int64_t after, std::size_t limit,
                       std::function<void(Result<std::vector<edge::ExceptionItem>>)> done) override;
  void record_exceptions_ack(std::int64_t through, std::function<void(Result<void>)> done) override;
  void store_master_data(std::string kind, std::int64_t version, std::string text,
                         std::function<void(Result<void>)> done) override;
  void set_append_listener(std::function<void(edge::OutboxState)> listener) override;

 private:
  // Queues a job whose only answer is `done(result)`; "overloaded" when full.
  template <typename T>
  void answer(std::function<void(Result<T>)> done, std::function<Result<T>(Journal&)> job);

  std::unique_ptr<Journal> journal_;  // worker thread only
  mutable std::mutex mutex_;
  Status status_;                                          // GUARDED_BY(mutex_)
  std::function<void(edge::OutboxState)> append_listener_;  // GUARDED_BY(mutex_)
  MasterDataHandler master_data_handler_;                  // GUARDED_BY(mutex_)
  edge::OutboxState notified_;                             // worker thread only
  std::optional<service::WorkQueue> queue_;                // last: its thread starts once the rest exists
};

}  // namespace tally::journal
