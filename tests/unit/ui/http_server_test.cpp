// tally::ui::HttpServer against a recording fake DeviceApi (the real engine
// is tested in firmware-host). A real server on 127.0.0.1:0, its io_context on
// a background thread; the fake answers from its own worker thread, so every
// reply crosses threads the way the engine's do.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>

#include "http_client.hpp"
#include "tally/ui/device_api.hpp"
#include "tally/ui/device_routes.hpp"
#include "tally/ui/http_server.hpp"

namespace tally::ui {
namespace {

using nlohmann::json;
using tally::test::HttpClient;
using tally::test::HttpResponse;

// Records every call and answers it from a worker thread.
// A typed scan reply as a device would give it.
ScanReply scan_reply(ScanReply::Kind kind, std::string code, std::string prompt, std::uint64_t seq = 0) {
  ScanReply r;
  r.kind = kind;
  r.outcome.feedback = kind == ScanReply::Kind::refused ? tally::scanner::Feedback::error : tally::scanner::Feedback::good;
  r.outcome.code = std::move(code);
  r.outcome.message = "said " + r.outcome.code;
  r.outcome.prompt = std::move(prompt);
  if (seq > 0) {
    tally::scanner::Movement m;
    m.device = "dev-1";
    m.site = "site-a";
    m.operator_id = "alice";
    m.type = tally::scanner::MovementType::move;
    m.item.gtin = "09506000134352";
    m.qty = 1;
    m.from = {tally::scanner::Location{"A-01-01-1"}, tally::scanner::StockState::available};
    m.to = {tally::scanner::Location{"B-01-01-1"}, tally::scanner::StockState::available};
    m.seq = seq;
    r.outcome.movement = m;
    r.recorded.push_back(m);
  }
  return r;
}

class FakeApi : public DeviceApi {
 public:
  struct MovementsCall {
    std::uint64_t after;
    std::size_t limit;
  };

  FakeApi() : worker_([this] { work(); }) {}
  ~FakeApi() override { shutdown(); }
  FakeApi(const FakeApi&) = delete;
  FakeApi& operator=(const FakeApi&) = delete;

  void submit_scan(ScanRequest request, ScanDone reply) override {
    std::lock_guard lock(mu_);
    scans_.push_back(std::move(request));
    if (hold_scans_) {
      held_.push_back(std::move(reply));
      return;
    }
    enqueue_locked([reply = std::move(reply), r = scan_reply_] { reply(r); });
  }
  void status(Reply reply) override {
    std::lock_guard lock(mu_);
    ++status_calls_;
    enqueue_locked([reply = std::move(reply), r = status_reply_] { reply(r); });
  }
  void movements(std::uint64_t after, std::size_t limit, Reply reply) override {
    std::lock_guard lock(mu_);
    movements_calls_.push_back({after, limit});
    enqueue_locked([reply = std::move(reply), r = movements_reply_] { reply(r); });
  }
  void trigger_camera(std::string id, Reply reply) override {
    std::lock_guard lock(mu_);
    cameras_.push_back(id);
    enqueue_locked([reply = std::move(reply), id] { reply({202, {{"camera", id}, {"triggered", true}}}); });
  }
  void metrics(std::function<void(std::string)> reply) override {
    std::lock_guard lock(mu_);
    ++metrics_calls_;
    enqueue_locked([reply = std::move(reply), text = metrics_text_] { reply(text); });
  }

  void set_scan_reply(ScanReply reply) { std::lock_guard lock(mu_); scan_reply_ = std::move(reply); }
  void set_status_reply(ApiReply reply) { std::lock_guard lock(mu_); status_reply_ = std::move(reply); }
  void set_metrics_text(std::string text) { std::lock_guard lock(mu_); metrics_text_ = std::move(text); }
  // Keeps scan replies until release_held_scans().
  void hold_scans() { std::lock_guard lock(mu_); hold_scans_ = true; }
  void release_held_scans() {
    std::lock_guard lock(mu_);
    hold_scans_ = false;
    for (auto& reply : held_) enqueue_locked([reply = std::move(reply), r = scan_reply_] { reply(r); });
    held_.clear();
  }

  std::vector<ScanRequest> scans() const { std::lock_guard lock(mu_); return scans_; }
  std::vector<std::string> cameras() const { std::lock_guard lock(mu_); return cameras_; }
  std::vector<MovementsCall> movements_calls() const { std::lock_guard lock(mu_); return movements_calls_; }
  std::size_t calls() const {
    std::lock_guard lock(mu_);
    return scans_.size() + movements_calls_.size() + cameras_.size() +
           static_cast<std::size_t>(status_calls_ + metrics_calls_);
  }
  std::size_t held() const { std::lock_guard lock(mu_); return held_.size(); }
  int status_calls() const { std::lock_guard lock(mu_); return status_calls_; }
  int metrics_calls() const { std::lock_guard lock(mu_); return metrics_calls_; }

  // Stops the worker; replies not yet sent are dropped (never invoked).
  void shutdown() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    worker_.join();
    std::lock_guard lock(mu_);
    queue_.clear();
    held_.clear();
  }

 private:
  void enqueue_locked(std::function<void()> job) {
    queue_.push_back(std::move(job));
    cv_.notify_one();
  }

  void work() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      auto job = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  bool hold_scans_ = false;
  std::vector<ScanDone> held_;
  std::vector<ScanRequest> scans_;
  std::vector<std::string> cameras_;
  std::vector<MovementsCall> movements_calls_;
  int status_calls_ = 0;
  int metrics_calls_ = 0;
  ScanReply scan_reply_ = scan_reply(ScanReply::Kind::accepted, "ok", "Scan a bin");
  ApiReply status_reply_{200, {{"device", "dev-1"}, {"pending", 3}, {"last_seq", 42}}};
  ApiReply movements_reply_{200, {{"movements", json::array()}, {"next_after", 0}}};
  std::string metrics_text_ = "# TYPE tally_scans_total counter\ntally_scans_total 7\n";
  std::thread worker_;  // last: starts after the members it uses
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start_server({}); }
  void TearDown() override { stop_server(); }

  void start_server(HttpOptions options) {
    options.host = "127.0.0.1";
    options.port = 0;
    options_ = options;
    server_ = std::make_unique<HttpServer>(io_, api_, options);
    auto endpoint = server_->start();
    ASSERT_TRUE(endpoint.ok()) << endpoint.error().message;
    port_ = endpoint->port();
    io_thread_ = std::thread([this] { io_.run(); });
  }

  // Stops the server on its thread, then lets the io_context run dry: a
  // hang here (a session that does not end) fails the test by timeout.
  void stop_server() {
    if (!server_) return;
    on_io([this] { server_->stop(); });
    work_.reset();
    io_thread_.join();
    api_.shutdown();
    server_.reset();
  }

  void on_io(std::function<void()> fn) {
    std::packaged_task<void()> task(std::move(fn));
    auto done = task.get_future();
    boost::asio::post(io_, std::move(task));
    ASSERT_EQ(done.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  }

  void restart_with(HttpOptions options) {
    // Only before any request: replaces the server built in SetUp.
    on_io([this] { server_->stop(); });
    work_.reset();
    io_thread_.join();
    server_.reset();
    io_.restart();
    work_.emplace(io_.get_executor());
    start_server(options);
  }

  HttpResponse post_scan(std::string_view body) { return HttpClient{port_}.post_json("/api/v1/scans", body); }

  static void expect_error(const HttpResponse& r, unsigned status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    const json body = r.json();
    ASSERT_TRUE(body.is_object()) << r.body;
    EXPECT_EQ(body["error"]["code"], code) << r.body;
    EXPECT_TRUE(body["error"]["message"].is_string()) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/json");
  }

  static void expect_common_headers(const HttpResponse& r) {
    EXPECT_FALSE(r.header("Content-Type").empty());
    EXPECT_EQ(r.header("Cache-Control"), "no-store");
    EXPECT_EQ(r.header("Server"), "tallyd");
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  FakeApi api_;  // after io_: pending replies (holding sessions) go before it
  HttpOptions options_;
  std::unique_ptr<HttpServer> server_;
  std::thread io_thread_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpServerTest, ScanIsForwardedAndTheReplyPassedThrough) {
  const ScanReply moved = scan_reply(ScanReply::Kind::recorded, "moved", "Scan source bin", 5);
  api_.set_scan_reply(moved);
  const auto r = post_scan(R"({"text":"(01)09506000134352\u001d(10)L42","symbology":"gs1-128"})");
  EXPECT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.json(), scan_response(moved).body);
  EXPECT_EQ(r.json()["code"], "moved");
  EXPECT_EQ(r.json()["movement"]["seq"], 5);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  expect_common_headers(r);
  const auto scans = api_.scans();
  ASSERT_EQ(scans.size(), 1u);
  EXPECT_EQ(scans[0].text, "(01)09506000134352\x1d(10)L42");
  EXPECT_EQ(scans[0].symbology, "gs1-128");
  EXPECT_EQ(scans[0].source, "http");
}

TEST_F(HttpServerTest, ScanWithoutSymbologyAndARefusalArePassedThrough) {
  api_.set_scan_reply(scan_reply(ScanReply::Kind::refused, "no_operator", "Scan your badge"));
  const auto r = post_scan(R"({"text":"A-01-02-3"})");
  expect_error(r, 422, "no_operator");
  EXPECT_EQ(r.json()["prompt"], "Scan your badge");
  ASSERT_EQ(api_.scans().size(), 1u);
  EXPECT_EQ(api_.scans()[0].symbology, "");
}

TEST_F(HttpServerTest, AcceptsTabGsAndUtf8AndTheLongestText) {
  EXPECT_EQ(post_scan(R"({"text":"a\tb\u001dc"})").status, 200u);
  EXPECT_EQ(post_scan(R"({"text":"Größe ✓"})").status, 200u);
  EXPECT_EQ(post_scan(json{{"text", std::string(4096, 'x')}}.dump()).status, 200u);
  EXPECT_EQ(api_.scans().size(), 3u);
}

TEST_F(HttpServerTest, RefusesBadScanBodiesWithoutReachingTheDevice) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {R"({"text":"abc")", "not valid JSON"},
      {"", "not valid JSON"},
      {R"(["OP:alice"])", "JSON object"},
      {R"("OP:alice")", "JSON object"},
      {R"({})", "text is required"},
      {R"({"symbology":"ean-13"})", "text is required"},
      {R"({"text":42})", "text must be a string"},
      {R"({"text":null})", "text must be a string"},
      {R"({"text":["a"]})", "text must be a string"},
      {R"({"text":""})", "must not be empty"},
      {R"({"text":"a\u0000b"})", "control character"},
      {R"({"text":"a\nb"})", "control character"},
      {R"({"text":"a\rb"})", "control character"},
      {R"({"text":"\u001b[2J"})", "control character"},
      {R"({"text":"a\u007f"})", "control character"},
      {R"({"text":"a\u0085"})", "control character"},
      {json{{"text", std::string(4097, 'x')}}.dump(), "4097 bytes"},
      {R"({"text":"x","symbology":7})", "symbology must be a string"},
      {R"({"text":"x","symbology":null})", "symbology must be a string"},
      {json{{"text", "x"}, {"symbology", std::string(33, 's')}}.dump(), "symbology is longer"},
      {R"({"text":"x","symbology":"a\tb"})", "printable"},
      {R"({"text":"x","source":"usb"})", "unknown field \"source\""},
      {"{\"text\":\"\xff\xfe\"}", "not valid JSON"},  // not UTF-8
  };
  HttpClient client{port_};
  for (const auto& [body, message] : cases) {
    SCOPED_TRACE(body.substr(0, 80));
    const auto r = client.post_json("/api/v1/scans", body);
    expect_error(r, 400, "bad_request");
    EXPECT_NE(r.json()["error"]["message"].get<std::string>().find(message), std::string::npos)
        << r.body;
    expect_common_headers(r);
  }
  EXPECT_EQ(client.connects(), 1);  // a 400 for a bad body keeps the connection
  EXPECT_EQ(api_.calls(), 0u);
}

TEST_F(HttpServerTest, RefusesABodyOverTheLimitWith413) {
  restart_with({.body_bytes_max = 1024});
  HttpClient client{port_};
  const auto r = client.post_json("/api/v1/scans", json{{"text", std::string(2000, 'x')}}.dump());
  expect_error(r, 413, "body_too_large");
  EXPECT_FALSE(r.keep_alive);
  // Chunked, so the size is only known while reading.
  HttpClient chunked{port_};
  const std::string piece(600, 'y');
  const auto raw = chunked.send_raw(
      "POST /api/v1/scans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n258\r\n" + piece + "\r\n258\r\n" + piece + "\r\n0\r\n\r\n");
  EXPECT_EQ(raw.rfind("HTTP/1.1 413", 0), 0u) << raw.substr(0, 200);
  EXPECT_EQ(api_.calls(), 0u);
  EXPECT_EQ(post_scan(json{{"text", std::string(900, 'x')}}.dump()).status, 200u);
}

TEST_F(HttpServerTest, RefusesOtherContentTypesWith415) {
  HttpClient client{port_};
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                           "application/jsonx", "application/json; charset=latin1"}) {
    SCOPED_TRACE(type);
    expect_error(client.request("POST", "/api/v1/scans", R"({"text":"x"})", type), 415,
                 "unsupported_media_type");
  }
  expect_error(client.request("POST", "/api/v1/scans", R"({"text":"x"})"), 415,
               "unsupported_media_type");
  EXPECT_EQ(api_.calls(), 0u);
  for (const char* type : {"application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\""}) {
    SCOPED_TRACE(type);
    EXPECT_EQ(client.request("POST", "/api/v1/scans", R"({"text":"x"})", type).status, 200u);
  }
  EXPECT_EQ(api_.scans().size(), 2u);
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  HttpClient client{port_};
  for (const char* path : {"/nope", "/api/v1/scans/", "/api/v2/status", "/index.htm"}) {
    SCOPED_TRACE(path);
    const auto r = client.get(path);
    expect_error(r, 404, "not_found");
    expect_common_headers(r);
  }
  EXPECT_EQ(api_.calls(), 0u);
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  HttpClient client{port_};
  auto r = client.get("/api/v1/scans");
  expect_error(r, 405, "method_not_allowed");
  EXPECT_EQ(r.header("Allow"), "POST");
  for (const char* path : {"/api/v1/status", "/api/v1/movements", "/metrics", "/", "/index.html"}) {
    SCOPED_TRACE(path);
    r = client.request("POST", path, R"({"text":"x"})", "application/json");
    expect_error(r, 405, "method_not_allowed");
    EXPECT_EQ(r.header("Allow"), "GET");
  }
  r = client.request("DELETE", "/api/v1/scans");
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.header("Allow"), "POST");
  EXPECT_EQ(api_.calls(), 0u);
}

TEST_F(HttpServerTest, CameraTriggerIsPostedWithTheNameAndOtherShapesAreRefused) {
  HttpClient client{port_};
  auto r = client.request("POST", "/api/v1/cameras/dock-1/trigger", "", "");
  EXPECT_EQ(r.status, 202u) << r.body;
  EXPECT_EQ(r.json()["camera"], "dock-1");
  expect_common_headers(r);
  EXPECT_EQ(api_.cameras(), (std::vector<std::string>{"dock-1"}));

  r = client.get("/api/v1/cameras/dock-1/trigger");
  expect_error(r, 405, "method_not_allowed");
  EXPECT_EQ(r.header("Allow"), "POST");
  expect_error(client.request("POST", "/api/v1/cameras//trigger", "", ""), 400, "bad_request");
  expect_error(client.request("POST", "/api/v1/cameras/" + std::string(65, 'c') + "/trigger", "", ""), 400,
               "bad_request");
  for (const char* path : {"/api/v1/cameras/a/b/trigger", "/api/v1/cameras/dock-1", "/api/v1/cameras/trigger"}) {
    SCOPED_TRACE(path);
    expect_error(client.request("POST", path, "", ""), 404, "not_found");
  }
  EXPECT_EQ(api_.cameras().size(), 1u) << "only the well-formed request reached the device";
}

TEST_F(HttpServerTest, MovementsQueryDefaultsAndValues) {
  HttpClient client{port_};
  auto r = client.get("/api/v1/movements");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.json(), (json{{"movements", json::array()}, {"next_after", 0}}));
  expect_common_headers(r);
  EXPECT_EQ(client.get("/api/v1/movements?after=42&limit=7").status, 200u);
  EXPECT_EQ(client.get("/api/v1/movements?limit=1&after=18446744073709551615").status, 200u);
  EXPECT_EQ(client.get("/api/v1/movements?after=007&x=1&&").status, 200u);   // unknown ignored
  EXPECT_EQ(client.get("/api/v1/movements?limit=1000").status, 200u);
  EXPECT_EQ(client.get("/api/v1/movements?limit=1001").status, 200u);         // clamped
  EXPECT_EQ(client.get("/api/v1/movements?limit=99999999999999999").status, 200u);
  const auto calls = api_.movements_calls();
  ASSERT_EQ(calls.size(), 7u);
  EXPECT_EQ(calls[0].after, 0u);
  EXPECT_EQ(calls[0].limit, 100u);
  EXPECT_EQ(calls[1].after, 42u);
  EXPECT_EQ(calls[1].limit, 7u);
  EXPECT_EQ(calls[2].after, UINT64_MAX);
  EXPECT_EQ(calls[2].limit, 1u);
  EXPECT_EQ(calls[3].after, 7u);
  EXPECT_EQ(calls[3].limit, 100u);
  EXPECT_EQ(calls[4].limit, 1000u);
  EXPECT_EQ(calls[5].limit, 1000u);
  EXPECT_EQ(calls[6].limit, 1000u);
}

TEST_F(HttpServerTest, MovementsQueryRefusesBadNumbers) {
  HttpClient client{port_};
  for (const char* query :
       {"after=abc", "after=-1", "after=+1", "after=1.5", "after=", "after", "after=1e3",
        "after=18446744073709551616", "after=%31", "after=%201", "limit=0", "limit=-5", "limit=ten",
        "limit=", "after=1&after=2", "limit=5&limit=5"}) {
    SCOPED_TRACE(query);
    expect_error(client.get(std::string("/api/v1/movements?") + query), 400, "bad_request");
  }
  EXPECT_EQ(client.connects(), 1);
  EXPECT_EQ(api_.calls(), 0u);
}

TEST_F(HttpServerTest, MovementsLimitDefaultRespectsASmallerMax) {
  restart_with({.movements_limit_max = 10});
  EXPECT_EQ(HttpClient{port_}.get("/api/v1/movements").status, 200u);
  ASSERT_EQ(api_.movements_calls().size(), 1u);
  EXPECT_EQ(api_.movements_calls()[0].limit, 10u);
}

TEST_F(HttpServerTest, StatusAndMetricsArePassedThrough) {
  api_.set_status_reply({503, {{"error", {{"code", "overloaded"}, {"message", "busy"}}}}});
  HttpClient client{port_};
  const auto status = client.get("/api/v1/status");
  expect_error(status, 503, "overloaded");
  expect_common_headers(status);
  EXPECT_EQ(api_.status_calls(), 1);

  api_.set_status_reply({200, {{"device", "dev-9"}, {"pending", 0}}});
  EXPECT_EQ(client.get("/api/v1/status").json(), (json{{"device", "dev-9"}, {"pending", 0}}));

  api_.set_metrics_text("tally_pending 3\n");
  const auto metrics = client.get("/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_EQ(metrics.body, "tally_pending 3\n");
  EXPECT_EQ(metrics.header("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  expect_common_headers(metrics);
  EXPECT_EQ(api_.metrics_calls(), 1);
  EXPECT_EQ(client.connects(), 1);
}

TEST_F(HttpServerTest, ServesTheHandheldPage) {
  HttpClient client{port_};
  for (const char* path : {"/", "/index.html"}) {
    SCOPED_TRACE(path);
    const auto r = client.get(path);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
    expect_common_headers(r);
    EXPECT_NE(r.body.find("<!doctype html>"), std::string::npos);
    EXPECT_NE(r.body.find("id=\"scan\""), std::string::npos);
    EXPECT_NE(r.body.find("/handheld.js"), std::string::npos);
  }
  const auto script = client.get("/handheld.js");
  EXPECT_EQ(script.status, 200u);
  EXPECT_EQ(script.header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_NE(script.body.find("/api/v1/scans"), std::string::npos);
  EXPECT_NE(script.body.find("/api/v1/events"), std::string::npos);
  EXPECT_EQ(client.get("/tally.css").status, 200u);
  EXPECT_EQ(client.get("/dashboard.js").status, 404u);  // the ledger's, not the device's
  EXPECT_EQ(api_.calls(), 0u);
}

TEST_F(HttpServerTest, MalformedHttpIs400AndClosed) {
  for (const char* raw : {"NOT A VALID REQUEST\r\n\r\n", "GET /\r\n\r\n",
                          "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                          "POST /api/v1/scans HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                          "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"}) {
    SCOPED_TRACE(raw);
    const std::string reply = HttpClient{port_}.send_raw(raw);  // returns once the server closes
    EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
    EXPECT_NE(reply.find("\"bad_request\""), std::string::npos) << reply;
    EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
  }
  EXPECT_EQ(api_.calls(), 0u);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  HttpClient client{port_};
  EXPECT_EQ(client.post_json("/api/v1/scans", R"({"text":"OP:alice"})").status, 200u);
  const auto second = client.get("/api/v1/status");
  EXPECT_EQ(second.status, 200u);
  EXPECT_TRUE(second.keep_alive);
  EXPECT_EQ(client.post_json("/api/v1/scans", R"({"text":"CMD:MOVE"})").status, 200u);
  EXPECT_EQ(client.connects(), 1);
  EXPECT_EQ(api_.scans().size(), 2u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  HttpClient client{port_};
  const std::string one = "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string two = "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string reply = client.send_raw(one + two);
  const auto first = reply.find("HTTP/1.1 200");
  const auto second = reply.find("HTTP/1.1 404");
  EXPECT_NE(first, std::string::npos) << reply;
  EXPECT_NE(second, std::string::npos) << reply;
  EXPECT_LT(first, second);
}

TEST_F(HttpServerTest, ExpectContinueIsAnswered) {
  HttpClient client{port_};
  const std::string body = R"({"text":"OP:bob"})";
  client.write_raw("POST /api/v1/scans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Expect: 100-continue\r\nConnection: close\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  client.write_raw(body);
  const std::string reply = client.read_until_closed();
  EXPECT_EQ(reply.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
  ASSERT_EQ(api_.scans().size(), 1u);
  EXPECT_EQ(api_.scans()[0].text, "OP:bob");
}

TEST_F(HttpServerTest, StopClosesAnIdleKeepAliveConnectionWithoutHanging) {
  HttpClient client{port_};
  EXPECT_EQ(client.get("/api/v1/status").status, 200u);
  const auto start = std::chrono::steady_clock::now();
  stop_server();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(HttpServerTest, StopWhileTheDeviceIsAnsweringDropsTheLateReply) {
  api_.hold_scans();
  std::thread client_thread([port = port_] {
    try {
      (void)HttpClient{port}.post_json("/api/v1/scans", R"({"text":"OP:alice"})");
      ADD_FAILURE() << "the request should not be answered";
    } catch (const std::runtime_error&) {
      // the server closed the connection
    }
  });
  for (int i = 0; i < 500 && api_.held() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(api_.held(), 1u);
  on_io([this] { server_->stop(); });
  api_.release_held_scans();  // the reply arrives after stop: ignored
  client_thread.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop_server();
}

TEST_F(HttpServerTest, ConnectionsBeyondTheMaximumAreClosed) {
  restart_with({.connections_max = 1});
  HttpClient first{port_};
  EXPECT_EQ(first.get("/api/v1/status").status, 200u);  // the one session is open
  HttpClient second{port_};
  EXPECT_THROW((void)second.get("/api/v1/status"), std::runtime_error);
  EXPECT_EQ(first.get("/api/v1/status").status, 200u);
  first.close();
  // The slot frees once the first session has ended.
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    try {
      served = HttpClient{port_}.get("/api/v1/status").status == 200u;
    } catch (const std::runtime_error&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_TRUE(served);
}

TEST_F(HttpServerTest, IdleConnectionsTimeOut) {
  restart_with({.idle_timeout = std::chrono::seconds(1)});
  HttpClient client{port_};
  EXPECT_EQ(client.get("/api/v1/status").status, 200u);
  EXPECT_TRUE(client.closed_by_server(std::chrono::milliseconds(3000)));
}

TEST(HttpServerStartTest, ReportsABindError) {
  boost::asio::io_context io;
  FakeApi api;
  HttpServer first(io, api, {.host = "127.0.0.1", .port = 0});
  auto endpoint = first.start();
  ASSERT_TRUE(endpoint.ok());
  HttpServer second(io, api, {.host = "127.0.0.1", .port = endpoint->port()});
  auto clash = second.start();
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, "http_bind");
  HttpServer bad_host(io, api, {.host = "not a host", .port = 0});
  auto bad = bad_host.start();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "http_bind");
}

// A WebSocket client of /api/v1/events on its own io_context; every wait is
// bounded (a missing message is "", not a hang).
class EventsClient {
 public:
  explicit EventsClient(std::uint16_t port) : ws_(io_) {
    boost::beast::get_lowest_layer(ws_).connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), port));
    ws_.handshake("127.0.0.1", "/api/v1/events");
  }
  // The next text message, or "" when none came within `wait`.
  std::string next(std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    boost::beast::flat_buffer buffer;
    bool done = false;
    boost::beast::error_code error;
    ws_.async_read(buffer, [&](boost::beast::error_code ec, std::size_t) {
      done = true;
      error = ec;
    });
    io_.restart();
    io_.run_for(wait);
    if (!done) {
      boost::beast::get_lowest_layer(ws_).cancel();
      io_.restart();
      io_.run_for(std::chrono::seconds(1));
      return "";
    }
    if (error) return "";
    return boost::beast::buffers_to_string(buffer.data());
  }

 private:
  boost::asio::io_context io_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
};

TEST_F(HttpServerTest, EventsPushTheStatusOnConnectAndWhenAScanChangesIt) {
  HttpOptions options;
  options.events_interval = std::chrono::hours(1);  // only the connect and the scans push
  restart_with(options);
  api_.set_status_reply({200, {{"device", "dev-1"}, {"pending", 3}}});
  EventsClient events(port_);
  const json first = json::parse(events.next(), nullptr, false);
  ASSERT_TRUE(first.is_object()) << first;
  EXPECT_EQ(first["type"], "status");
  EXPECT_EQ(first["status"]["pending"], 3);

  api_.set_status_reply({200, {{"device", "dev-1"}, {"pending", 4}}});
  EXPECT_EQ(post_scan(R"({"text":"A-01-01-1"})").status, 200u);
  const json second = json::parse(events.next(), nullptr, false);
  ASSERT_TRUE(second.is_object()) << second;
  EXPECT_EQ(second["status"]["pending"], 4);

  // A scan that changes nothing sends nothing.
  EXPECT_EQ(post_scan(R"({"text":"A-01-01-1"})").status, 200u);
  EXPECT_EQ(events.next(std::chrono::milliseconds(300)), "");
}

TEST_F(HttpServerTest, EventsPollTheStatusOnlyWhileAClientIsConnected) {
  HttpOptions options;
  options.events_interval = std::chrono::milliseconds(20);
  restart_with(options);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(api_.status_calls(), 0);  // no client: no wake-ups
  {
    EventsClient events(port_);
    ASSERT_NE(events.next(), "");
    api_.set_status_reply({200, {{"device", "dev-1"}, {"pending", 9}}});
    // The timer notices the change without any scan.
    const json changed = json::parse(events.next(), nullptr, false);
    ASSERT_TRUE(changed.is_object()) << changed;
    EXPECT_EQ(changed["status"]["pending"], 9);
  }
}

TEST_F(HttpServerTest, EventsWithoutAnUpgradeAre426) {
  HttpClient client{port_};
  auto r = client.get("/api/v1/events");
  expect_error(r, 426, "upgrade_required");
  expect_error(client.post_json("/api/v1/events", "{}"), 405, "method_not_allowed");
}

}  // namespace
}  // namespace tally::ui
