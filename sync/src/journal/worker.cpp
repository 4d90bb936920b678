#include "tally/journal/worker.hpp"

#include <utility>

#include "tally/wire/movement_json.hpp"

namespace tally::journal {
namespace {

edge::OutboxState outbox_of(const Status& s) {
  return {s.last_seq, s.acked_seq, s.last_exception_id, s.exceptions_acked};
}

Error overloaded() { return make_error("overloaded", "the journal is busy or stopping"); }

}  // namespace

Worker::Worker(std::unique_ptr<Journal> journal, std::size_t queue_max)
    : journal_(std::move(journal)), status_(journal_->status()), notified_(outbox_of(status_)) {
  queue_.emplace("journal worker", queue_max);
}

Worker::~Worker() { stop(); }

void Worker::stop() { queue_->stop(); }

bool Worker::post(std::function<void(Journal&)> job, bool past_limit) {
  return queue_->post(
      [this, job = std::move(job)] {
        job(*journal_);
        publish();
      },
      past_limit);
}

void Worker::publish() {
  const Status now = journal_->status();
  const edge::OutboxState state = outbox_of(now);
  std::function<void(edge::OutboxState)> listener;
  {
    std::lock_guard lock(mutex_);
    status_ = now;
    if (state.last_seq > notified_.last_seq || state.last_exception_id > notified_.last_exception_id) {
      listener = append_listener_;
    }
  }
  notified_ = state;
  if (listener) listener(state);
}

Status Worker::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

edge::OutboxState Worker::outbox_state() const { return outbox_of(status()); }

void Worker::set_append_listener(std::function<void(edge::OutboxState)> listener) {
  std::lock_guard lock(mutex_);
  append_listener_ = std::move(listener);
}

void Worker::set_master_data_handler(MasterDataHandler handler) {
  std::lock_guard lock(mutex_);
  master_data_handler_ = std::move(handler);
}

template <typename T>
void Worker::answer(std::function<void(Result<T>)> done, std::function<Result<T>(Journal&)> job) {
  auto shared_done = std::make_shared<std::function<void(Result<T>)>>(std::move(done));
  const bool queued = post([this, shared_done, job = std::move(job)](Journal& j) {
    Result<T> r = job(j);
    publish();  // the answer's effect is in the status before the answer
    (*shared_done)(std::move(r));
  });
  if (!queued) (*shared_done)(overloaded());
}

void Worker::read_outbox(std::uint64_t after, std::size_t limit,
                         std::function<void(Result<std::vector<edge::OutboxItem>>)> done) {
  answer<std::vector<edge::OutboxItem>>(
      std::move(done), [after, limit](Journal& j) -> Result<std::vector<edge::OutboxItem>> {
        // The stored canonical text as is (no parse, no re-serialisation),
        // with its hash-chain members added (docs/PROTOCOL.md "Hash chain").
        auto rows = j.movement_texts_after(after, limit);
        if (!rows) return rows.error();
        std::vector<edge::OutboxItem> items;
        items.reserve(rows->size());
        for (const auto& m : *rows) {
          edge::OutboxItem item;
          item.seq = m.seq;
          item.wall_time_ms = m.wall_time_ms;
          item.json.reserve(m.payload.size() + 2 * m.hash.size() + 32);
          wire::append_chained(item.json, m.payload, m.prev_hash, m.hash);
          items.push_back(std::move(item));
        }
        return items;
      });
}

void Worker::read_exceptions(std::int64_t after, std::size_t limit,
                             std::function<void(Result<std::vector<edge::ExceptionItem>>)> done) {
  answer<std::vector<edge::ExceptionItem>>(
      std::move(done), [after, limit](Journal& j) -> Result<std::vector<edge::ExceptionItem>> {
        // The stored text as is, with "id" and "seq" added: the ledger judges
        // each element (a bad one becomes its rejected_device_exception).
        auto rows = j.exception_texts_after(after, limit);
        if (!rows) return rows.error();
        std::vector<edge::ExceptionItem> items;
        items.reserve(rows->size());
        for (auto& x : *rows) {
          std::string element = std::move(x.payload);
          element.pop_back();  // the closing brace
          element += (element.size() > 1 ? R"(,"id":)" : R"("id":)") + std::to_string(x.id) + R"(,"seq":)" +
                     (x.seq ? std::to_string(*x.seq) : std::string("null")) + "}";
          items.push_back({x.id, std::move(element)});
        }
        return items;
      });
}

void Worker::record_ack(std::uint64_t applied_through, std::function<void(Result<void>)> done) {
  answer<void>(std::move(done), [applied_through](Journal& j) { return j.set_acked(applied_through); });
}

void Worker::record_exceptions_ack(std::int64_t through, std::function<void(Result<void>)> done) {
  answer<void>(std::move(done), [through](Journal& j) { return j.set_exceptions_acked(through); });
}

void Worker::store_master_data(std::string kind, std::int64_t version, std::string text,
                               std::function<void(Result<void>)> done) {
  answer<void>(std::move(done), [this, kind = std::move(kind), version, text = std::move(text)](Journal& j) {
    MasterDataHandler handler;
    {
      std::lock_guard lock(mutex_);
      handler = master_data_handler_;
    }
    if (handler) return handler(j, kind, version, text);
    if (const auto stored = j.master_data(kind); stored && stored->first >= version) return Result<void>{};
    return j.put_master_data(kind, version, text);
  });
}

}  // namespace tally::journal
