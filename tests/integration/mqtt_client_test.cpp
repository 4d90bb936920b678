// tally::mqtt::Client against a real mosquitto: handlers on the executor's
// thread, persistent sessions (clean_start=false + Session-Expiry-Interval),
// the last will, connect failures, subscribe results.
#include "tally/mqtt/client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "mosquitto.hpp"

namespace tally::mqtt {
namespace {

using namespace std::chrono_literals;

// An io_context on its own thread, plus a recorder of events.
class Loop {
 public:
  Loop() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~Loop() {
    run([this] { clients_.clear(); });
    work_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  std::thread::id thread_id() const { return thread_.get_id(); }

  // Runs fn on the loop thread and waits for it.
  void run(const std::function<void()>& fn) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  void record(const std::string& event) {
    std::lock_guard lock(mutex_);
    if (std::this_thread::get_id() != thread_id()) wrong_thread_ = true;
    events_.push_back(event);
    cv_.notify_all();
  }
  bool wait_event(const std::string& prefix, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& e : events_) {
        if (e.rfind(prefix, 0) == 0) return true;
      }
      return false;
    });
  }
  bool wrong_thread() {
    std::lock_guard lock(mutex_);
    return wrong_thread_;
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

  // Creates a client (on the loop thread) whose handlers record "<name> …".
  Client* make(const std::string& name, ConnectOptions o) {
    Client* out = nullptr;
    run([&] {
      Handlers h;
      h.connected = [this, name](bool present) { record(name + " connected " + (present ? "resumed" : "new")); };
      h.connect_failed = [this, name](const std::string& why) { record(name + " failed " + why); };
      h.connection_lost = [this, name](const std::string& why) { record(name + " lost " + why); };
      h.message = [this, name](Message m) { record(name + " message " + m.topic + " " + m.payload); };
      auto c = Client::create(executor(), std::move(o), std::move(h));
      ASSERT_TRUE(c) << c.error().message;
      out = c->get();
      clients_.push_back(std::move(c).value());
    });
    return out;
  }
  void destroy(Client* c) {
    run([&] { std::erase_if(clients_, [c](const auto& p) { return p.get() == c; }); });
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
  bool wrong_thread_ = false;
  std::vector<std::unique_ptr<Client>> clients_;
};

ConnectOptions options(const std::string& uri, const std::string& id) {
  ConnectOptions o;
  o.uri = uri;
  o.client_id = id;
  o.keepalive = 5s;
  return o;
}

TEST(MqttClient, SessionSurvivesDisconnectAndHandlersRunOnTheExecutor) {
  test::Mosquitto broker;
  Loop loop;
  Client* a = loop.make("a", options(broker.uri(), "dev-a"));
  loop.run([&] { a->connect(); });
  ASSERT_TRUE(loop.wait_event("a connected new"));
  std::optional<Result<void>> sub;
  loop.run([&] {
    a->subscribe({{"t/a", 1}}, [&](Result<void> r) {
      sub = std::move(r);
      loop.record("a subscribed");
    });
  });
  ASSERT_TRUE(loop.wait_event("a subscribed"));
  ASSERT_TRUE(sub && *sub);
  loop.run([&] { a->disconnect(); });
  loop.destroy(a);

  Client* b = loop.make("b", options(broker.uri(), "dev-b"));
  loop.run([&] { b->connect(); });
  ASSERT_TRUE(loop.wait_event("b connected"));
  loop.run([&] { ASSERT_TRUE(b->publish("t/a", "while-away", 1, false)); });

  // Same client id again: the broker kept the session (Session-Expiry-Interval
  // was sent), with the subscription and the queued message.
  Client* a2 = loop.make("a2", options(broker.uri(), "dev-a"));
  loop.run([&] { a2->connect(); });
  ASSERT_TRUE(loop.wait_event("a2 connected resumed")) << loop.events().back();
  EXPECT_TRUE(loop.wait_event("a2 message t/a while-away"));
  EXPECT_FALSE(loop.wrong_thread());
  loop.run([&] { EXPECT_TRUE(a2->connected()); });
}

// disconnect_async never blocks the executor. The broker is frozen
// (SIGSTOP) with a QoS 1 PUBLISH unacknowledged, so Paho cannot finish the
// DISCONNECT before the broker runs again; a handler posted right after the
// call is what thaws it. `done` comes after that handler; a blocking
// disconnect would run out its timeout first and come before it.
TEST(MqttClient, DisconnectAsyncLeavesTheExecutorRunning) {
  test::Mosquitto broker;
  Loop loop;
  Client* a = loop.make("a", options(broker.uri(), "dev-async"));
  loop.run([&] { a->connect(); });
  ASSERT_TRUE(loop.wait_event("a connected"));
  broker.pause();
  loop.run([&] {
    ASSERT_TRUE(a->publish("t/frozen", "x", 1, false));
    a->disconnect_async(10s, [&] { loop.record("a disconnect done"); });
    boost::asio::post(loop.executor(), [&] {
      loop.record("a thaw");
      broker.resume();
    });
  });
  loop.destroy(a);  // at once: the connection lives on inside until done
  ASSERT_TRUE(loop.wait_event("a disconnect done", 20s)) << broker.log();
  const auto ev = loop.events();
  const auto thaw = std::find(ev.begin(), ev.end(), "a thaw");
  const auto done = std::find(ev.begin(), ev.end(), "a disconnect done");
  ASSERT_NE(thaw, ev.end());
  EXPECT_LT(thaw, done);
  EXPECT_FALSE(loop.wrong_thread());
  // Not connected: done is still posted.
  Client* b = loop.make("b", options(broker.uri(), "dev-never"));
  loop.run([&] { b->disconnect_async(1s, [&] { loop.record("b done"); }); });
  EXPECT_TRUE(loop.wait_event("b done"));
}

TEST(MqttClient, FailuresAndLostConnectionsAreReported) {
  test::Mosquitto broker;
  Loop loop;
  Client* watcher = loop.make("w", options(broker.uri(), "watcher"));
  loop.run([&] { watcher->connect(); });
  ASSERT_TRUE(loop.wait_event("w connected"));
  loop.run([&] { watcher->subscribe({{"status/#", 1}}, [&](Result<void>) { loop.record("w subscribed"); }); });
  ASSERT_TRUE(loop.wait_event("w subscribed"));

  // (The will itself is checked end to end with kill -9 of tallyd in
  // edge_sync_test.cpp: Paho sends DISCONNECT when a client is destroyed.)
  auto o = options(broker.uri(), "with-will");
  o.will = Will{"status/with-will", R"({"online":false})", 1, true};
  Client* with_will = loop.make("d", o);
  loop.run([&] { with_will->connect(); });
  ASSERT_TRUE(loop.wait_event("d connected")) << "a will does not break CONNECT";
  loop.run([&] { ASSERT_TRUE(with_will->publish("status/with-will", R"({"online":true})", 1, true)); });
  EXPECT_TRUE(loop.wait_event(R"(w message status/with-will {"online":true})"));

  test::Mosquitto stopped("", /*start_now=*/false);
  Client* nobody = loop.make("n", options(stopped.uri(), "nobody"));
  loop.run([&] { nobody->connect(); });
  EXPECT_TRUE(loop.wait_event("n failed"));
  loop.run([&] {
    auto r = nobody->publish("x", "y");
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().code, "mqtt_not_connected");
    }
  });

  // The watcher notices a broker that goes away.
  broker.stop();
  EXPECT_TRUE(loop.wait_event("w lost"));
  EXPECT_FALSE(loop.wrong_thread());
}

TEST(MqttClient, CreateRefusesBadOptions) {
  Loop loop;
  auto r = Client::create(loop.executor(), options("", "x"), {});
  EXPECT_FALSE(r);
  r = Client::create(loop.executor(), options("nonsense://", "x"), {});
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace tally::mqtt
