#include "tally/service/work_queue.hpp"

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace tally::service {

WorkQueue::WorkQueue(std::string name, std::size_t max)
    : name_(std::move(name)), max_(max), thread_([this] { work(); }) {}

WorkQueue::~WorkQueue() { stop(); }

bool WorkQueue::post(std::function<void()> job, bool past_limit) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || (!past_limit && jobs_.size() >= max_)) return false;
    jobs_.push_back(std::move(job));
    if (jobs_.size() > depth_max_) depth_max_ = jobs_.size();
  }
  cv_.notify_one();
  return true;
}

std::size_t WorkQueue::queued() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

std::size_t WorkQueue::depth_max() const {
  std::lock_guard lock(mutex_);
  return depth_max_;
}

void WorkQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WorkQueue::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("{}: a job failed: {}", name_, e.what());
    }
  }
}

}  // namespace tally::service
