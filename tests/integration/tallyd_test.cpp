// The real tallyd binary: start-up refusals, scans end to end over HTTP and
// stdin, restart with an open step, graceful stop.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "daemon.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"

namespace tally::test {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class TallydTest : public ::testing::Test {
 protected:
  std::vector<std::string> args(const std::string& device = "hh-1") const {
    return {"--data-dir", dir_.str(), "--device-id", device, "--site", "test", "--http", "127.0.0.1:0",
            "--log-level", "warn", "--mqtt", ""};  // sync off: never the default port 1883
  }
  nlohmann::json scan(HttpClient& c, const std::string& text, unsigned expect_status) {
    auto r = c.post_json("/api/v1/scans", nlohmann::json{{"text", text}}.dump());
    EXPECT_EQ(r.status, expect_status) << text << ": " << r.body;
    return r.json();
  }
  TempDir dir_{"tallyd-test"};
};

TEST_F(TallydTest, BadFlagExitsTwoWithOneLine) {
  auto [st, err] = run_to_end(TALLYD_PATH, {"--device-id", "bad/id"});
  EXPECT_EQ(st.code, 2);
  EXPECT_EQ(err.rfind("tallyd: ", 0), 0U) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST_F(TallydTest, MoveAndReceiptOverHttpAreDurableAndListed) {
  Daemon d(TALLYD_PATH, args());
  HttpClient c(d.wait_listening());
  scan(c, "4006381333931", 422);  // nobody signed in: refused, nothing journaled
  scan(c, "OP:alice", 200);
  scan(c, "CMD:MOVE", 200);
  scan(c, "A-01-01-1", 200);
  for (int i = 0; i < 3; ++i) scan(c, "4006381333931", 200);
  auto done = scan(c, "B-02-01-1", 201);
  ASSERT_TRUE(done.contains("movement")) << done;
  EXPECT_EQ(done["movement"]["seq"], 1);
  EXPECT_EQ(done["movement"]["type"], "move");
  EXPECT_EQ(done["movement"]["qty"], 3);
  EXPECT_EQ(done["movement"]["from"]["location"], "A-01-01-1");
  EXPECT_EQ(done["movement"]["to"]["location"], "B-02-01-1");
  EXPECT_EQ(done["movement"]["operator"], "alice");
  EXPECT_EQ(done["movement"]["device"], "hh-1");

  scan(c, "CMD:RECEIVE", 200);
  scan(c, "09506000134352", 200);
  scan(c, "09506000134352", 200);
  auto receipt = scan(c, "CMD:CONFIRM", 201);
  EXPECT_EQ(receipt["movement"]["seq"], 2);
  EXPECT_EQ(receipt["movement"]["type"], "receipt");
  EXPECT_EQ(receipt["movement"]["from"]["location"], "@supplier");
  EXPECT_EQ(receipt["movement"]["to"]["state"], "inbound");

  auto list = c.get("/api/v1/movements?after=0&limit=10").json();
  ASSERT_EQ(list["movements"].size(), 2U) << list;
  EXPECT_EQ(list["movements"][0], done["movement"]);
  EXPECT_EQ(list["movements"][1], receipt["movement"]);
  EXPECT_EQ(c.get("/api/v1/movements?after=1").json()["movements"].size(), 1U);

  auto status = c.get("/api/v1/status").json();
  EXPECT_EQ(status["journal"]["last_seq"], 2);
  EXPECT_EQ(status["journal"]["pending"], 2);
  EXPECT_EQ(status["operator"], "alice");
  EXPECT_EQ(status["device"], "hh-1");

  const auto metrics = c.get("/metrics").body;
  EXPECT_NE(metrics.find("tally_movements_recorded_total 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("tally_scans_refused_total 1"), std::string::npos) << metrics;

  d.signal(SIGTERM);
  EXPECT_EQ(d.wait().code, 0);
}

TEST_F(TallydTest, OpenStepSurvivesRestart) {
  {
    Daemon d(TALLYD_PATH, args());
    HttpClient c(d.wait_listening());
    scan(c, "OP:bob", 200);
    scan(c, "CMD:MOVE", 200);
    scan(c, "A-01-01-1", 200);
    scan(c, "4006381333931", 200);
    d.kill9();
  }
  Daemon d(TALLYD_PATH, args());
  HttpClient c(d.wait_listening());
  auto status = c.get("/api/v1/status").json();
  EXPECT_EQ(status["operator"], "bob");
  EXPECT_EQ(status["mode"], "move");
  scan(c, "4006381333931", 200);
  auto done = scan(c, "C-03-01-2", 201);
  EXPECT_EQ(done["movement"]["qty"], 2) << done;
  EXPECT_EQ(done["movement"]["from"]["location"], "A-01-01-1");
  EXPECT_EQ(done["movement"]["operator"], "bob");
}

TEST_F(TallydTest, ScansTypedOnStdinBecomeMovements) {
  auto a = args();
  a.push_back("--stdin");
  Daemon d(TALLYD_PATH, a, /*pipe_stdin=*/true);
  const auto port = d.wait_listening();
  d.write_stdin("OP:carol\r\nCMD:MOVE\nA-01-01-1\n4006381333931\nnot a label\nB-02-01-1\n");
  ASSERT_TRUE(d.wait_for_line(R"(\[error\].*)")) << "the bad line is answered with an error";
  ASSERT_TRUE(d.wait_for_line(R"(\[good\].*\(seq 1\))"));
  HttpClient c(port);
  auto list = c.get("/api/v1/movements").json();
  ASSERT_EQ(list["movements"].size(), 1U) << list;
  EXPECT_EQ(list["movements"][0]["operator"], "carol");
  EXPECT_EQ(list["movements"][0]["evidence"].size(), 3U);
  d.close_stdin();
  d.signal(SIGINT);
  EXPECT_EQ(d.wait().code, 0);
}

TEST_F(TallydTest, RefusesForeignAndCorruptJournalsAndLeavesThemAlone) {
  {
    Daemon d(TALLYD_PATH, args("hh-1"));
    HttpClient c(d.wait_listening());
    scan(c, "OP:alice", 200);
    d.signal(SIGTERM);
    ASSERT_EQ(d.wait().code, 0);
  }
  const auto journal = dir_.path() / "journal.db";
  const auto before = slurp(journal);
  auto [foreign, foreign_err] = run_to_end(TALLYD_PATH, args("hh-2"));
  EXPECT_EQ(foreign.code, 3);
  EXPECT_NE(foreign_err.find("journal_foreign_device"), std::string::npos) << foreign_err;
  EXPECT_EQ(slurp(journal), before);

  std::filesystem::remove_all(dir_.path());
  std::filesystem::create_directories(dir_.path());
  const std::string garbage(8192, '\x5a');
  std::ofstream(journal, std::ios::binary) << garbage;
  auto [corrupt, corrupt_err] = run_to_end(TALLYD_PATH, args("hh-1"));
  EXPECT_EQ(corrupt.code, 3);
  EXPECT_NE(corrupt_err.find("journal_corrupt"), std::string::npos) << corrupt_err;
  EXPECT_EQ(slurp(journal), garbage);
}

TEST_F(TallydTest, MalformedRequestsChangeNothing) {
  Daemon d(TALLYD_PATH, args());
  HttpClient c(d.wait_listening());
  EXPECT_EQ(c.post_json("/api/v1/scans", "{not json").status, 400U);
  EXPECT_EQ(c.post_json("/api/v1/scans", R"({"text":42})").status, 400U);
  EXPECT_EQ(c.post_json("/api/v1/scans", R"({"text":""})").status, 400U);
  EXPECT_EQ(c.get("/api/v1/movements?after=x").status, 400U);
  auto status = c.get("/api/v1/status").json();
  EXPECT_EQ(status["journal"]["scans"], 0) << status;
}

}  // namespace
}  // namespace tally::test
