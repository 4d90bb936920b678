// POST /api/v1/frames against the real tallyd: an image is decoded in the
// DecodeWorker child and each symbol goes the way of a scan; bad bodies get
// 415 / 400 / 413 as JSON and tallyd keeps serving.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "daemon.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"

namespace tally::test {
namespace {


std::filesystem::path testdata() {
  const char* env = std::getenv("TALLY_TESTDATA");
  return env != nullptr ? std::filesystem::path(env) / "barcodes" : std::filesystem::path();
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FramesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testdata().empty() || !std::filesystem::exists(testdata() / "clean" / "c022_gs1-128.png")) {
      GTEST_SKIP() << "TALLY_TESTDATA not set or without barcodes/clean";
    }
  }
  std::vector<std::string> args() const {
    return {"--data-dir", dir_.str(), "--device-id", "hh-f", "--site", "test", "--http", "127.0.0.1:0",
            "--log-level", "warn", "--mqtt", ""};
  }
  static nlohmann::json scan(HttpClient& c, const std::string& text, unsigned expect_status) {
    auto r = c.post_json("/api/v1/scans", nlohmann::json{{"text", text}}.dump());
    EXPECT_EQ(r.status, expect_status) << text << ": " << r.body;
    return r.json();
  }
  static HttpResponse frame(HttpClient& c, const std::string& body, const std::string& type = "image/png") {
    return c.request("POST", "/api/v1/frames", body, type);
  }
  static void expect_error(const HttpResponse& r, unsigned status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    ASSERT_TRUE(r.json().contains("error")) << r.body;
    EXPECT_EQ(r.json()["error"]["code"], code) << r.body;
  }
  TempDir dir_{"frames-test"};
};

TEST_F(FramesTest, AGs1FrameIsScannedAndCompletesAMove) {
  Daemon d(TALLYD_PATH, args());
  HttpClient c(d.wait_listening());
  scan(c, "OP:alice", 200);
  scan(c, "CMD:MOVE", 200);
  scan(c, "A-01-01-1", 200);
  const auto r = frame(c, slurp(testdata() / "clean" / "c022_gs1-128.png"));
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto j = r.json();
  ASSERT_EQ(j["found"], 1) << j;
  EXPECT_EQ(j["symbols"][0]["format"], "Code128");
  EXPECT_EQ(j["symbols"][0]["aim_id"], "]C1");
  EXPECT_EQ(j["symbols"][0]["text"], "010950600013435210ABC123\x1D" "17261231");
  ASSERT_EQ(j["scans"].size(), 1u);
  EXPECT_EQ(j["scans"][0]["status"], 200);
  EXPECT_EQ(j["scans"][0]["symbology"], "]C1");
  EXPECT_EQ(j["scans"][0]["text"], "]C1010950600013435210ABC123\x1D" "17261231");
  EXPECT_EQ(j["scans"][0]["result"]["code"], "item_counted") << j;
  EXPECT_TRUE(j["scans"][0]["result"].contains("scan_id"));

  const auto done = scan(c, "B-02-01-1", 201);
  ASSERT_TRUE(done.contains("movement")) << done;
  EXPECT_EQ(done["movement"]["item"]["gtin"], "09506000134352");
  EXPECT_EQ(done["movement"]["item"]["lot"], "ABC123");
  EXPECT_EQ(done["movement"]["item"]["expiry"], "2026-12-31");
  EXPECT_EQ(done["movement"]["qty"], 1);

  const auto listed = c.get("/api/v1/movements").json();
  ASSERT_EQ(listed["movements"].size(), 1u) << listed;
  EXPECT_EQ(listed["movements"][0]["item"]["lot"], "ABC123");
}

TEST_F(FramesTest, AFrameCompletingAStepAnswers201WithTheMovement) {
  Daemon d(TALLYD_PATH, args());
  HttpClient c(d.wait_listening());
  scan(c, "OP:alice", 200);
  scan(c, "CMD:MOVE", 200);
  scan(c, "A-01-01-1", 200);
  scan(c, "4006381333931", 200);
  // The destination bin comes from a camera frame (c028: GS1 (414)+(254) location).
  const auto r = frame(c, slurp(testdata() / "clean" / "c028_gs1-128.png"));
  ASSERT_EQ(r.status, 201u) << r.body;
  const auto j = r.json();
  ASSERT_EQ(j["scans"].size(), 1u);
  EXPECT_EQ(j["scans"][0]["status"], 201);
  ASSERT_TRUE(j["scans"][0]["result"].contains("movement")) << j;
  EXPECT_EQ(j["scans"][0]["result"]["movement"]["type"], "move");
  EXPECT_EQ(c.get("/api/v1/status").json()["journal"]["last_seq"], 1);
}

// A UPC-E and a DataBar seen by the camera book the items a handheld would:
// ZXing-cpp 1.4 returns the UPC-E's 8 digits and the DataBar's 14 without
// AI (01); each frame is sent as ISO scan data (scanner::scan_data).
TEST_F(FramesTest, UpcEAndDataBarFramesBookTheirGtins) {
  const std::filesystem::path symbols = std::filesystem::path(TALLY_TEST_DATA_DIR) / "symbologies";
  Daemon d(TALLYD_PATH, args());
  HttpClient c(d.wait_listening());
  scan(c, "OP:alice", 200);
  for (const auto& [file, gtin] : {std::pair{"upce.png", "00012345000065"},
                                   std::pair{"dbar_omni.png", "09506000134352"},
                                   std::pair{"upca_addon5.png", "00042100005264"}}) {
    SCOPED_TRACE(file);
    scan(c, "CMD:MOVE", 200);
    scan(c, "A-01-01-1", 200);
    const auto r = frame(c, slurp(symbols / file));
    ASSERT_EQ(r.status, 200u) << r.body;
    ASSERT_EQ(r.json()["scans"].size(), 1u) << r.body;
    EXPECT_EQ(r.json()["scans"][0]["result"]["code"], "item_counted") << r.body;
    const auto done = scan(c, "B-02-01-1", 201);
    ASSERT_TRUE(done.contains("movement")) << done;
    EXPECT_EQ(done["movement"]["item"]["gtin"], gtin);
  }
}

// [decode] reaches the frames path: with formats = ["QRCode"] the GS1-128
// frame finds nothing; an unknown format name stops tallyd with one line.
TEST_F(FramesTest, DecodeSectionOfTheConfigIsUsedForFrames) {
  const auto config = dir_.path() / "tallyd.toml";
  std::ofstream(config) << "[decode]\nformats = [\"QRCode\"]\nexhaustive = true\n";
  auto a = args();
  a.insert(a.end(), {"--config", config.string()});
  Daemon d(TALLYD_PATH, a);
  HttpClient c(d.wait_listening());
  const auto r = frame(c, slurp(testdata() / "clean" / "c022_gs1-128.png"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["found"], 0) << r.body;
  const auto qr = frame(c, slurp(testdata() / "clean" / "c043_qr.png"));
  ASSERT_EQ(qr.status, 200u) << qr.body;
  EXPECT_EQ(qr.json()["found"], 1) << qr.body;

  std::ofstream(config) << "[decode]\nformats = [\"EAN-13\", \"Barcode39\"]\n";
  auto [st, err] = run_to_end(TALLYD_PATH, a);
  EXPECT_NE(st.code, 0);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("decode.formats"), std::string::npos) << err;
  EXPECT_NE(err.find("'Barcode39'"), std::string::npos) << err;
}

TEST_F(FramesTest, NothingFoundIs200WithNoSymbols) {
  // n005: a text label without any barcode (JPEG).
  const auto empty = testdata() / "negative" / "n005_text_label.jpg";
  if (!std::filesystem::exists(empty)) GTEST_SKIP() << "no " << empty;
  Daemon d(TALLYD_PATH, args());
  HttpClient c(d.wait_listening());
  const auto r = frame(c, slurp(empty), "image/jpeg");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["found"], 0);
  EXPECT_TRUE(r.json()["scans"].empty());
}

TEST_F(FramesTest, BadBodiesAreRefusedAsJsonAndTallydKeepsServing) {
  Daemon d(TALLYD_PATH, args());
  const std::uint16_t port = d.wait_listening();
  HttpClient c(port);
  const std::string png = slurp(testdata() / "clean" / "c022_gs1-128.png");
  expect_error(frame(c, "hello", "text/plain"), 415, "unsupported_media_type");
  expect_error(frame(c, R"({"text":"x"})", "application/json"), 415, "unsupported_media_type");
  expect_error(frame(c, "hello"), 400, "bad_request");                // no PNG signature
  expect_error(frame(c, png, "image/jpeg"), 400, "bad_request");      // PNG sent as JPEG
  expect_error(frame(c, "\x89PNG\r\n\x1a\n garbage"), 400, "not_an_image");  // decoder: corrupt
  {
    // Refused from the header (Content-Length over frame_bytes_max) before
    // the body is read; a raw request, so the client does not have to push
    // 9 MiB into a closing connection first.
    HttpClient big(port);
    const std::string raw = big.send_raw(
        "POST /api/v1/frames HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: " +
        std::to_string(9 * 1024 * 1024) + "\r\n\r\n\x89PNG\r\n\x1a\n");
    EXPECT_EQ(raw.rfind("HTTP/1.1 413", 0), 0u) << raw.substr(0, 300);
    EXPECT_NE(raw.find("body_too_large"), std::string::npos) << raw;
    EXPECT_NE(raw.find("8388608"), std::string::npos) << raw;
    // Chunked, so the size is only known while reading.
    HttpClient chunked(port);
    const std::string piece(1024 * 1024, 'y');
    std::string req = "POST /api/v1/frames HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 9; ++i) req += "100000\r\n" + piece + "\r\n";
    req += "0\r\n\r\n";
    try {
      const std::string got = chunked.send_raw(req);
      EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got.substr(0, 300);
    } catch (const std::exception& e) {
      SUCCEED() << "connection closed while sending the body: " << e.what();  // refused mid-body
    }
  }
  // A frame just under a megabyte is accepted past the 64 KiB JSON limit
  // (and found not to be an image by the decoder).
  expect_error(frame(c, "\x89PNG\r\n\x1a\n" + std::string(1024 * 1024, '\0')), 400, "not_an_image");
  {
    HttpClient get(port);
    expect_error(get.get("/api/v1/frames"), 405, "method_not_allowed");
  }
  // A JSON scan body over the scan limit is still refused at 64 KiB.
  {
    HttpClient big(port);
    const auto r = big.post_json("/api/v1/scans", std::string(100 * 1024, ' '));
    EXPECT_EQ(r.status, 413u) << r.body;
  }
  HttpClient after(port);
  scan(after, "OP:alice", 200);
  EXPECT_EQ(frame(after, png).status, 200u);
}

// The self-test label printed by `tally labels --self-test`, as a frame and as
// typed scans: the diagnosis comes back, nothing is journaled.
TEST_F(FramesTest, TheSelfTestLabelIsDiagnosedNotJournaled) {
  TempDir out{"frames-labels"};
  auto [st, err] = run_to_end(TALLY_CLI_PATH, {"labels", "--out", out.str(), "--self-test", "--no-svg"});
  ASSERT_EQ(st.code, 0) << err;
  Daemon d(TALLYD_PATH, args());
  HttpClient c(d.wait_listening());
  const auto r = frame(c, slurp(out.path() / "self-test.png"));
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto j = r.json();
  ASSERT_EQ(j["scans"].size(), 1u) << j;
  EXPECT_EQ(j["scans"][0]["result"]["code"], "self_test_ok") << j;
  EXPECT_TRUE(j["scans"][0]["result"]["self_test"]["ok"]);
  // A keyboard wedge that drops the GS and sends no AIM id.
  const auto bad = scan(c, "SELFTESTyzYZaqwAQW@#[]END", 200);
  EXPECT_EQ(bad["code"], "self_test_failed") << bad;
  ASSERT_EQ(bad["self_test"]["issues"].size(), 2u) << bad;
  EXPECT_EQ(bad["self_test"]["issues"][0]["code"], "gs_dropped");
  EXPECT_EQ(bad["self_test"]["issues"][1]["code"], "aim_missing");
  EXPECT_EQ(c.get("/api/v1/status").json()["journal"]["scans"], 0);
}

}  // namespace
}  // namespace tally::test
