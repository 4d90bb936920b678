// Test helper: waits, with a deadline, until a condition holds (polling the
// condition on the test's side only; nothing is asserted about time).
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace tally::test {

// True as soon as done() is; after `limit`, whatever done() says then.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace tally::test
