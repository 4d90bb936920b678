// The tally-ledger routes (ui/src/ledger_routes.cpp) against a recording fake
// LedgerApi, called directly (the connection machinery is HttpServer's and is
// tested in http_server_test.cpp): methods, query decoding, limits, bodies.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "tally/ui/ledger_api.hpp"

namespace tally::ui {
namespace {

using nlohmann::json;

class FakeLedger : public LedgerApi {
 public:
  std::string last;  // "method arg…"
  json last_body;
  ApiReply answer{200, json::object()};

  void balances(std::string item, std::string location, std::string state, std::size_t limit, Reply r) override {
    last = "balances " + item + "|" + location + "|" + state + "|" + std::to_string(limit);
    r(answer);
  }
  void movements(std::string device, std::uint64_t after, std::size_t limit, Reply r) override {
    last = "movements " + device + "|" + std::to_string(after) + "|" + std::to_string(limit);
    r(answer);
  }
  void history(std::string item, std::string location, std::uint64_t before, std::size_t limit, Reply r) override {
    last = "history " + item + "|" + location + "|" + std::to_string(before) + "|" + std::to_string(limit);
    r(answer);
  }
  void exceptions(std::string status, Reply r) override {
    last = "exceptions " + status;
    r(answer);
  }
  void update_exception(std::int64_t id, json body, Reply r) override {
    last = "update " + std::to_string(id);
    last_body = std::move(body);
    r(answer);
  }
  void devices(Reply r) override {
    last = "devices";
    r(answer);
  }
  void tasks(std::string device, Reply r) override {
    last = "tasks " + device;
    r(answer);
  }
  void create_task(json body, Reply r) override {
    last = "create_task";
    last_body = std::move(body);
    r(answer);
  }
  void put_master_data(std::string kind, std::string site, json body, Reply r) override {
    last = "put " + kind + " " + site;
    last_body = std::move(body);
    r(answer);
  }
  void dead_letters(std::size_t limit, Reply r) override {
    last = "dead_letters " + std::to_string(limit);
    r(answer);
  }
  void invariants(Reply r) override {
    last = "invariants";
    r(answer);
  }
  void kpi_history(std::int64_t since_ms, std::int64_t before_ms, std::size_t limit, Reply r) override {
    last = "kpi_history " + std::to_string(since_ms) + "|" + std::to_string(before_ms) + "|" + std::to_string(limit);
    r(answer);
  }
};

class LedgerRoutesTest : public ::testing::Test {
 protected:
  HttpResponse call(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& content_type = "application/json") {
    HttpRequest req;
    req.method = method;
    const auto q = target.find('?');
    req.path = target.substr(0, q);
    req.query = q == std::string::npos ? "" : target.substr(q + 1);
    req.body = body;
    req.content_type = content_type;
    std::optional<HttpResponse> out;
    int calls = 0;
    router_->handle(req, [&](HttpResponse r) {
      ++calls;
      out = std::move(r);
    });
    EXPECT_EQ(calls, 1) << target;
    return out.value_or(HttpResponse{});
  }
  std::string error_code(const HttpResponse& r) {
    return json::parse(r.body, nullptr, false).value("error", json::object()).value("code", "");
  }

  FakeLedger api_;
  std::unique_ptr<Router> router_ = make_ledger_router(api_, LedgerRoutesOptions{50});
};

TEST_F(LedgerRoutesTest, BalancesDecodeTheQueryAndClampTheLimit) {
  EXPECT_EQ(call("GET", "/api/v1/balances?item=0950&location=%40supplier&state=").status, 200u);
  EXPECT_EQ(api_.last, "balances 0950|@supplier||50");  // the default 100, clamped
  EXPECT_EQ(call("GET", "/api/v1/balances?limit=1000").status, 200u);
  EXPECT_EQ(api_.last, "balances |||50");
  api_.last.clear();
  EXPECT_EQ(call("GET", "/api/v1/balances?limit=0").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/balances?limit=-1").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/balances?item=a&item=b").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/balances?item=%4").status, 400u);
  EXPECT_EQ(api_.last, "");  // none reached the ledger
}

TEST_F(LedgerRoutesTest, MovementsExceptionsDevicesTasks) {
  EXPECT_EQ(call("GET", "/api/v1/movements?device=hh-1&after=7&limit=3").status, 200u);
  EXPECT_EQ(api_.last, "movements hh-1|7|3");
  EXPECT_EQ(call("GET", "/api/v1/exceptions?status=open").status, 200u);
  EXPECT_EQ(api_.last, "exceptions open");
  const auto bad = call("GET", "/api/v1/exceptions?status=maybe");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(error_code(bad), "bad_request");
  EXPECT_EQ(call("GET", "/api/v1/devices").status, 200u);
  EXPECT_EQ(call("GET", "/api/v1/tasks?device=hh-1").status, 200u);
  EXPECT_EQ(api_.last, "tasks hh-1");
  EXPECT_EQ(call("POST", "/api/v1/tasks", R"({"site":"s","device":"d","task":{}})").status, 200u);
  EXPECT_EQ(api_.last, "create_task");
  EXPECT_EQ(call("GET", "/api/v1/invariants").status, 200u);
  EXPECT_EQ(call("GET", "/api/v1/dead-letters?limit=5").status, 200u);
  EXPECT_EQ(api_.last, "dead_letters 5");
}

TEST_F(LedgerRoutesTest, HistoryNeedsAnItemOrALocation) {
  EXPECT_EQ(call("GET", "/api/v1/history?location=A-01-01-1&before=9&limit=2").status, 200u);
  EXPECT_EQ(api_.last, "history |A-01-01-1|9|2");
  EXPECT_EQ(call("GET", "/api/v1/history?item=0950").status, 200u);
  EXPECT_EQ(api_.last, "history 0950||0|50");
  api_.last.clear();
  const auto neither = call("GET", "/api/v1/history?limit=5");
  EXPECT_EQ(neither.status, 400u);
  EXPECT_EQ(error_code(neither), "bad_request");
  EXPECT_EQ(call("GET", "/api/v1/history?item=a&before=x").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/history?item=a&before=9223372036854775808").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/history?item=a&limit=0").status, 400u);
  EXPECT_EQ(call("POST", "/api/v1/history?item=a", "{}").status, 405u);
  EXPECT_EQ(api_.last, "");  // none reached the ledger
}

TEST_F(LedgerRoutesTest, KpisTakeAWindowAndDefaultTo501) {
  // FakeLedger does not override kpis(): the LedgerApi default answers 501.
  const auto none = call("GET", "/api/v1/kpis");
  EXPECT_EQ(none.status, 501u);
  EXPECT_EQ(error_code(none), "not_supported");
  EXPECT_EQ(call("GET", "/api/v1/kpis?window_s=0").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/kpis?window_s=x").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/kpis?window_s=99999999999").status, 400u);
  EXPECT_EQ(call("POST", "/api/v1/kpis", "{}").status, 405u);
}

TEST_F(LedgerRoutesTest, KpiHistoryTakesSinceBeforeAndItsOwnLimit) {
  EXPECT_EQ(call("GET", "/api/v1/kpis/history?since=1790000000000&limit=3").status, 200u);
  EXPECT_EQ(api_.last, "kpi_history 1790000000000|0|3");
  EXPECT_EQ(call("GET", "/api/v1/kpis/history?before=5").status, 200u);
  EXPECT_EQ(api_.last, "kpi_history 0|5|100");
  EXPECT_EQ(call("GET", "/api/v1/kpis/history?limit=5000").status, 200u);
  EXPECT_EQ(api_.last, "kpi_history 0|0|5000");  // not clamped to limit_max (50): its own maximum
  EXPECT_EQ(call("GET", "/api/v1/kpis/history?limit=99999").status, 200u);
  EXPECT_EQ(api_.last, "kpi_history 0|0|10000");
  api_.last.clear();
  EXPECT_EQ(call("GET", "/api/v1/kpis/history?since=-1").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/kpis/history?since=9223372036854775808").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/kpis/history?before=x").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/kpis/history?limit=0").status, 400u);
  EXPECT_EQ(call("POST", "/api/v1/kpis/history", "{}").status, 405u);
  EXPECT_EQ(api_.last, "");  // none reached the ledger
}

TEST_F(LedgerRoutesTest, ExceptionUpdatesNeedAJsonObjectBody) {
  EXPECT_EQ(call("POST", "/api/v1/exceptions/12", R"({"action":"resolve"})").status, 200u);
  EXPECT_EQ(api_.last, "update 12");
  EXPECT_EQ(api_.last_body["action"], "resolve");
  EXPECT_EQ(call("POST", "/api/v1/exceptions/12", "not json").status, 400u);
  EXPECT_EQ(call("POST", "/api/v1/exceptions/12", "[1]").status, 400u);
  EXPECT_EQ(call("POST", "/api/v1/exceptions/12", "{}", "text/plain").status, 400u);
  EXPECT_EQ(call("POST", "/api/v1/exceptions/abc", "{}").status, 404u);
  EXPECT_EQ(call("POST", "/api/v1/exceptions/0", "{}").status, 404u);
  const auto get = call("GET", "/api/v1/exceptions/12");
  EXPECT_EQ(get.status, 405u);
  EXPECT_EQ(get.allow, "POST");
}

TEST_F(LedgerRoutesTest, MasterDataNeedsASite) {
  EXPECT_EQ(call("POST", "/api/v1/catalog?site=s1", R"({"items":[]})").status, 200u);
  EXPECT_EQ(api_.last, "put catalog s1");
  EXPECT_EQ(call("POST", "/api/v1/locations?site=s1", R"({"locations":[]})").status, 200u);
  EXPECT_EQ(api_.last, "put locations s1");
  EXPECT_EQ(call("POST", "/api/v1/catalog", R"({"items":[]})").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/catalog?site=s1").status, 405u);
}

TEST_F(LedgerRoutesTest, DashboardErrorsAndPassThroughStatus) {
  const auto page = call("GET", "/");
  EXPECT_EQ(page.status, 200u);
  EXPECT_TRUE(page.html);
  EXPECT_NE(page.content_type.find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("/dashboard.js"), std::string::npos);
  EXPECT_EQ(call("POST", "/").status, 405u);
  const auto script = call("GET", "/dashboard.js");
  EXPECT_EQ(script.status, 200u);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(call("GET", "/tally.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(call("GET", "/handheld.js").status, 404u);  // the device's UI is not the ledger's
  const auto missing = call("GET", "/api/v1/kpis-not-yet");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(error_code(missing), "not_found");
  api_.answer = ApiReply{409, error_body("conflict", "resolved")};
  const auto conflict = call("POST", "/api/v1/exceptions/3", R"({"action":"resolve"})");
  EXPECT_EQ(conflict.status, 409u);
  EXPECT_EQ(error_code(conflict), "conflict");
}

}  // namespace
}  // namespace tally::ui
