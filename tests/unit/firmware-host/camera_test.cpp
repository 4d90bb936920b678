// Camera scanners (issue 6): camera_luma's format conversion, and the real
// CameraScanner on an Asio loop against V4l2TestDevice (a kernel-like V4L2
// buffer queue behind the V4l2Io seam; see v4l2_test_device.hpp for why),
// its frames decoded by the real Engine's frame thread and DecodeWorker
// child, its scans submitted to that Engine (real journal) as app.cpp does.
// Frames are the real camera-like images of TALLY_TESTDATA.
#include <fcntl.h>
#include <linux/input.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "tally/device/camera.hpp"
#include "tally/device/config.hpp"
#include "tally/device/engine.hpp"
#include "tally/ui/device_routes.hpp"
#include "tally/device/image_file.hpp"
#include "camera_status.hpp"  // firmware-host/src: CameraTriggerApi
#include "temp_dir.hpp"
#include "v4l2_test_device.hpp"

namespace tally::device {
namespace {

namespace asio = boost::asio;
using scanner::PixelFormat;

// --- camera_luma: YUYV -> grey, stride -------------------------------------

TEST(CameraLuma, GreyRowsLoseTheirPadding) {
  // 3x2 grey, stride 5: two padding bytes per row.
  const std::vector<std::uint8_t> buf = {1, 2, 3, 0xEE, 0xEE, 4, 5, 6, 0xEE, 0xEE};
  auto r = camera_luma(buf.data(), buf.size(), PixelFormat::grey, 3, 2, 5);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(CameraLuma, YuyvKeepsTheYBytesOfEachRow) {
  // 4x2 YUYV (Y0 U Y1 V Y2 U Y3 V), stride 10 (2 padding bytes).
  const std::vector<std::uint8_t> buf = {10, 0x80, 11, 0x81, 12, 0x82, 13, 0x83, 0xEE, 0xEE,
                                         20, 0x90, 21, 0x91, 22, 0x92, 23, 0x93, 0xEE, 0xEE};
  auto r = camera_luma(buf.data(), buf.size(), PixelFormat::yuyv, 4, 2, 10);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::uint8_t>{10, 11, 12, 13, 20, 21, 22, 23}));
}

TEST(CameraLuma, TheLastRowNeedsNoPadding) {
  // Drivers may end the buffer right after the last row's pixels.
  const std::vector<std::uint8_t> buf = {1, 2, 0, 0, 3, 4};
  auto r = camera_luma(buf.data(), buf.size(), PixelFormat::grey, 2, 2, 4);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::uint8_t>{1, 2, 3, 4}));
}

TEST(CameraLuma, RefusesShortBuffersBadStridesAndOddYuyvWidths) {
  const std::vector<std::uint8_t> buf(64, 0);
  const auto code = [](const Result<std::vector<std::uint8_t>>& r) { return r ? std::string("ok") : r.error().code; };
  EXPECT_EQ(code(camera_luma(buf.data(), 5, PixelFormat::grey, 3, 2, 3)), "bad_frame");   // needs 6
  EXPECT_EQ(code(camera_luma(buf.data(), 64, PixelFormat::grey, 4, 2, 3)), "bad_frame");  // stride < row
  EXPECT_EQ(code(camera_luma(buf.data(), 64, PixelFormat::yuyv, 4, 2, 6)), "bad_frame");  // 8 bytes a row
  EXPECT_EQ(code(camera_luma(buf.data(), 64, PixelFormat::yuyv, 3, 2, 6)), "bad_frame");  // odd width
  EXPECT_EQ(code(camera_luma(buf.data(), 64, PixelFormat::grey, 0, 2, 4)), "bad_frame");
  EXPECT_EQ(code(camera_luma(nullptr, 64, PixelFormat::grey, 2, 2, 4)), "bad_frame");
  EXPECT_EQ(code(camera_luma(buf.data(), 16, PixelFormat::yuyv, 4, 2, 8)), "ok");
}

// --- CameraScanner against the test device ----------------------------------

std::filesystem::path testdata() {
  const char* env = std::getenv("TALLY_TESTDATA");
  return env != nullptr ? std::filesystem::path(env) / "barcodes" : std::filesystem::path();
}

constexpr const char* kEanFrame = "frames/c001_ean13_v1_scene.jpg";       // EAN-13 4006381333931, 640x480
constexpr const char* kGs1Frame = "frames/c025_gs1-128_v1_scene.jpg";     // GS1-128 (00)095060001000000128
constexpr const char* kNoCodeFrame = "negative/n013_random_modules.jpg";  // 640x480, no symbol
constexpr const char* kEan = "4006381333931";

class CameraTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testdata().empty() || !std::filesystem::exists(testdata() / kEanFrame)) {
      GTEST_SKIP() << "TALLY_TESTDATA not set or without barcodes/frames";
    }
    // The decoder child fork()s: before the engine starts its threads.
    EngineOptions o;
    o.session.device = "cam-1";
    o.session.site = "s1";
    o.journal.path = dir_.path() / "journal.db";
    o.journal.device = "cam-1";
    o.journal.site = "s1";
    o.frame_decoder = std::make_shared<DecodeWorker>();
    auto opened = Engine::open(std::move(o));
    ASSERT_TRUE(opened) << opened.error().message;
    engine_ = std::move(*opened);
    config_.type = "camera";
    config_.name = "cam";
    config_.reopen_min_ms = 5;
    config_.reopen_max_ms = 40;
    config_.camera.device = "/dev/video0";
    config_.camera.repeat_ms = 60000;  // no repeat expires during a test unless it says so
  }
  void TearDown() override {
    if (camera_) camera_->stop();
    io_.poll();
    camera_.reset();
    if (engine_) engine_->stop();
  }

  // The scanner wired as app.cpp wires it: frames to Engine::decode_frame,
  // scans to Engine::submit_scan (source "camera"), replies back on the loop.
  void start() {
    CameraScanner::Events events;
    events.scan = [this](DecodedScan scan) {
      scans_.push_back(scan);
      engine_->submit_scan(ui::ScanRequest{scan.text, scan.symbology, "camera"}, [this](ui::ScanReply r) {
        asio::post(io_, [this, r = ui::scan_response(r)] { replies_.push_back(r); });
      });
    };
    events.status = [this](std::string s) { statuses_.push_back(std::move(s)); };
    events.refused = [this](std::string s) { refusals_.push_back(std::move(s)); };
    camera_ = std::make_shared<CameraScanner>(
        io_, config_, device_,
        [this](CapturedFrame f, CameraScanner::DecodeDone done) {
          return engine_->decode_frame(std::move(f), std::move(done));
        },
        std::move(events));
    camera_->start();
    run_until([this] { return camera_->stats().streaming; });
  }

  // Runs the loop until `done` holds; a test that waits in vain fails after
  // 20 s instead of hanging (a guard, not a timed assertion).
  void run_until(const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done()) {
      io_.restart();
      io_.run_one_for(std::chrono::milliseconds(100));
      ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "gave up waiting";
    }
  }

  static GreyImage image(const char* name) {
    auto r = load_image_file((testdata() / name).string());
    EXPECT_TRUE(r) << name << ": " << r.error().message;
    return r ? *r : GreyImage{};
  }

  // One frame captured and decoded (with or without a code).
  void capture_decoded(const char* name) {
    const auto before = camera_->stats().decoded;
    ASSERT_TRUE(device_.capture(image(name)));
    run_until([&] { return camera_->stats().decoded > before; });
  }

  ui::ApiReply scan(const std::string& text) {
    std::promise<ui::ApiReply> p;
    auto f = p.get_future();
    engine_->submit_scan(ui::ScanRequest{text, "", "http"}, [&p](ui::ScanReply r) { p.set_value(ui::scan_response(r)); });
    return f.get();
  }

  test::TempDir dir_{"tally-camera"};
  test::V4l2TestDevice device_{"/dev/video0"};  // outlives the loop's handlers
  asio::io_context io_;
  std::unique_ptr<Engine> engine_;
  ScannerConfig config_;
  std::shared_ptr<CameraScanner> camera_;
  std::vector<DecodedScan> scans_;
  std::vector<ui::ApiReply> replies_;
  std::vector<std::string> statuses_;
  std::vector<std::string> refusals_;
};

TEST_F(CameraTest, ContinuousYuyvFrameIsAScanThatCompletesAMove) {
  config_.camera.format = "yuyv";
  start();
  const auto fmt = device_.format();
  EXPECT_EQ(fmt.pixelformat, static_cast<std::uint32_t>(V4L2_PIX_FMT_YUYV));
  EXPECT_GT(fmt.bytesperline, fmt.width * 2) << "the test device pads rows, so the stride is exercised";
  EXPECT_EQ(device_.mapped(), static_cast<int>(device_.buffer_count()));
  EXPECT_EQ(device_.queued(), device_.buffer_count()) << "all buffers queued to the driver";

  EXPECT_EQ(scan("OP:alice").status, 200u);
  EXPECT_EQ(scan("CMD:MOVE").status, 200u);
  EXPECT_EQ(scan("A-01-01-1").status, 200u);
  capture_decoded(kEanFrame);
  ASSERT_EQ(scans_.size(), 1u);
  EXPECT_EQ(scans_[0], (DecodedScan{kEan, "]E0"}));
  run_until([&] { return !replies_.empty(); });
  EXPECT_EQ(replies_[0].status, 200u) << replies_[0].body;
  EXPECT_EQ(replies_[0].body.value("code", ""), "item_counted") << replies_[0].body;
  EXPECT_EQ(device_.queued(), device_.buffer_count()) << "the buffer went back to the driver";
  const auto published = camera_->snapshot();  // what status and metrics read
  EXPECT_EQ(published.scans, 1u);
  EXPECT_EQ(published.decoded, 1u);
  EXPECT_TRUE(published.streaming);
  // The camera's read is the move's item: the bin completes it.
  const auto done = scan("B-02-01-1");
  EXPECT_EQ(done.status, 201u) << done.body;
}

// A camera sends what a handheld set to ISO transmission would: ZXing's
// "01234565 12" (a UPC-E and its issue-number add-on) becomes "]E3" + the 13
// digits of its UPC-A + the add-on; without the AIM id the add-on is left
// out, since it cannot be told from the item. Either way the move books the
// UPC-E's GTIN, not its 8 printed digits.
TEST_F(CameraTest, AnAddOnIsSentAsAHandheldSendsItAndNeverBecomesTheItem) {
  const auto upce_addon = std::filesystem::path(TALLY_TEST_DATA_DIR) / "symbologies" / "upce_addon2.png";
  for (const bool aim_prefix : {true, false}) {
    SCOPED_TRACE(aim_prefix ? "aim_prefix" : "no aim_prefix");
    config_.camera.format = "grey";
    config_.aim_prefix = aim_prefix;
    scans_.clear();
    start();
    EXPECT_EQ(scan("OP:alice").status, 200u);
    EXPECT_EQ(scan("CMD:MOVE").status, 200u);
    EXPECT_EQ(scan("A-01-01-1").status, 200u);
    auto img = load_image_file(upce_addon.string());
    ASSERT_TRUE(img) << img.error().message;
    const auto before = camera_->stats().decoded;
    ASSERT_TRUE(device_.capture(*img));
    run_until([&] { return camera_->stats().decoded > before; });
    ASSERT_EQ(scans_.size(), 1u);
    EXPECT_EQ(scans_[0], aim_prefix ? (DecodedScan{"001234500006512", "]E3"}) : (DecodedScan{"0012345000065", ""}));
    run_until([&] { return replies_.size() == scans_.size(); });
    const auto done = scan("B-02-01-1");
    ASSERT_EQ(done.status, 201u) << done.body;
    EXPECT_EQ(done.body["movement"]["item"]["gtin"], "00012345000065");
    camera_->stop();
    io_.poll();
    camera_.reset();
    replies_.clear();
  }
}

TEST_F(CameraTest, GreyFramesRepeatSuppressionAndAFrameWithoutACode) {
  config_.camera.format = "grey";
  start();
  EXPECT_EQ(device_.format().pixelformat, static_cast<std::uint32_t>(V4L2_PIX_FMT_GREY));
  capture_decoded(kEanFrame);
  ASSERT_EQ(scans_.size(), 1u);
  EXPECT_EQ(scans_[0], (DecodedScan{kEan, "]E0"}));

  capture_decoded(kEanFrame);  // still under the camera
  EXPECT_EQ(scans_.size(), 1u);
  EXPECT_EQ(camera_->stats().repeats, 1u);

  capture_decoded(kNoCodeFrame);
  EXPECT_EQ(scans_.size(), 1u);
  EXPECT_EQ(camera_->stats().empty, 1u);

  capture_decoded(kGs1Frame);  // another code is a new scan at once
  ASSERT_EQ(scans_.size(), 2u);
  EXPECT_EQ(scans_[1].text, "00095060001000000128");
  capture_decoded(kEanFrame);  // seen 3 frames ago, within repeat_ms
  EXPECT_EQ(scans_.size(), 2u);
  EXPECT_EQ(camera_->stats().repeats, 2u);
  EXPECT_TRUE(refusals_.empty());
  run_until([&] { return replies_.size() == 2; });
}

TEST_F(CameraTest, ACodeSeenAgainAfterTheRepeatWindowIsANewScan) {
  config_.camera.format = "grey";
  config_.camera.repeat_ms = 20;
  start();
  capture_decoded(kEanFrame);
  ASSERT_EQ(scans_.size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));  // longer than the window: safe either way
  capture_decoded(kEanFrame);
  EXPECT_EQ(scans_.size(), 2u);
  EXPECT_EQ(camera_->stats().repeats, 0u);
}

TEST_F(CameraTest, MjpegFramesAreDecodedFromTheirJpegBytes) {
  config_.camera.format = "mjpeg";
  start();
  auto jpeg = read_file_bytes((testdata() / kEanFrame).string());
  ASSERT_TRUE(jpeg);
  const auto before = camera_->stats().decoded;
  ASSERT_TRUE(device_.capture_jpeg(*jpeg));
  run_until([&] { return camera_->stats().decoded > before; });
  ASSERT_EQ(scans_.size(), 1u);
  EXPECT_EQ(scans_[0].text, kEan);
}

TEST_F(CameraTest, AFormatTheCameraDoesNotOfferIsSaidAndRetried) {
  test::V4l2TestDevice yuyv_only("/dev/video1", {V4L2_PIX_FMT_YUYV});
  config_.camera.device = "/dev/video1";
  config_.camera.format = "grey";
  camera_ = std::make_shared<CameraScanner>(
      io_, config_, yuyv_only, [](CapturedFrame, CameraScanner::DecodeDone) { return false; },
      CameraScanner::Events{{}, [this](std::string s) { statuses_.push_back(std::move(s)); }, {}});
  camera_->start();
  run_until([&] { return yuyv_only.opens() >= 2; });
  ASSERT_FALSE(statuses_.empty());
  EXPECT_EQ(statuses_[0], "cannot open /dev/video1: does not offer format grey (it offers YUYV); retrying");
  EXPECT_EQ(statuses_.size(), 1u) << "the same failure is said once";
  camera_->stop();
  io_.poll();
  camera_.reset();
  EXPECT_EQ(yuyv_only.open_fds(), 0) << "failed opens close their fd";
}

TEST_F(CameraTest, ATruncatedFrameIsRefusedAndTheNextOneRead) {
  config_.camera.format = "grey";
  start();
  ASSERT_TRUE(device_.capture_short());
  run_until([&] { return !refusals_.empty(); });
  EXPECT_NE(refusals_[0].find("bad frame: frame holds"), std::string::npos) << refusals_[0];
  capture_decoded(kEanFrame);
  EXPECT_EQ(scans_.size(), 1u);
}

TEST_F(CameraTest, TriggerModeDecodesOnlyFromATriggerUntilARead) {
  config_.camera.format = "yuyv";
  config_.camera.mode = "trigger";
  config_.camera.trigger_timeout_ms = 60000;
  start();
  ASSERT_TRUE(device_.capture(image(kEanFrame)));  // not triggered: not decoded
  run_until([&] { return camera_->stats().frames == 1; });
  EXPECT_EQ(camera_->stats().skipped, 1u);
  EXPECT_EQ(camera_->stats().decoded, 0u);

  camera_->trigger();
  EXPECT_TRUE(camera_->stats().triggered);
  capture_decoded(kNoCodeFrame);  // nothing yet: keeps looking
  EXPECT_TRUE(camera_->stats().triggered);
  capture_decoded(kGs1Frame);
  ASSERT_EQ(scans_.size(), 1u);
  EXPECT_EQ(scans_[0].symbology, "]C1");
  EXPECT_FALSE(camera_->stats().triggered) << "a read ends the trigger";

  ASSERT_TRUE(device_.capture(image(kEanFrame)));
  run_until([&] { return camera_->stats().frames == 4; });
  EXPECT_EQ(camera_->stats().decoded, 2u);
  EXPECT_EQ(scans_.size(), 1u);
}

// POST /api/v1/cameras/{name}/trigger as tallyd serves it (CameraTriggerApi
// over the engine): 202 opens the window the same as trigger(); an unknown
// name, a continuous camera and one that is not streaming are refused with
// the reason, and nothing is triggered.
TEST_F(CameraTest, TheHttpTriggerOpensAWindowOrSaysWhyNot) {
  config_.camera.format = "yuyv";
  config_.camera.mode = "trigger";
  config_.camera.trigger_timeout_ms = 60000;
  start();
  ScannerConfig continuous = config_;
  continuous.name = "overhead";
  continuous.camera.mode = "continuous";
  ScannerConfig unplugged = config_;
  unplugged.name = "dock";
  unplugged.camera.device = "/dev/video9";
  auto no_decode = [](CapturedFrame, CameraScanner::DecodeDone) { return false; };
  std::vector<std::shared_ptr<CameraScanner>> cameras{
      camera_, std::make_shared<CameraScanner>(io_, continuous, device_, no_decode, CameraScanner::Events{}),
      std::make_shared<CameraScanner>(io_, unplugged, device_, no_decode, CameraScanner::Events{})};
  CameraTriggerApi api(*engine_, cameras);
  auto trigger = [&](const std::string& id) {
    ui::ApiReply out;
    api.trigger_camera(id, [&out](ui::ApiReply r) { out = std::move(r); });  // answers at once, on this thread
    return out;
  };

  for (const auto& [id, status, code] : {std::tuple{"nope", 404U, "unknown_camera"},
                                         std::tuple{"overhead", 409U, "camera_not_in_trigger_mode"},
                                         std::tuple{"dock", 503U, "camera_not_streaming"}}) {
    const auto r = trigger(id);
    EXPECT_EQ(r.status, status) << id << ": " << r.body;
    EXPECT_EQ(r.body["error"]["code"], code) << r.body;
  }
  EXPECT_EQ(camera_->stats().triggers, 0U);
  EXPECT_NE(trigger("dock").body["error"]["message"].get<std::string>().find("/dev/video9"), std::string::npos);

  const auto ok = trigger("cam");
  EXPECT_EQ(ok.status, 202U) << ok.body;
  EXPECT_EQ(ok.body["triggers"], 1);
  EXPECT_EQ(ok.body["timeout_ms"], 60000);
  EXPECT_TRUE(camera_->stats().triggered);
  capture_decoded(kGs1Frame);
  ASSERT_EQ(scans_.size(), 1U) << "the HTTP trigger's window decoded the frame";
  EXPECT_FALSE(camera_->stats().triggered);
  cameras[1]->stop();
  cameras[2]->stop();
}

TEST_F(CameraTest, ATriggerWithoutACodeEndsAfterItsTimeout) {
  config_.camera.format = "grey";
  config_.camera.mode = "trigger";
  config_.camera.trigger_timeout_ms = 30;
  start();
  camera_->trigger();
  run_until([&] { return camera_->stats().trigger_timeouts == 1; });
  EXPECT_FALSE(camera_->stats().triggered);
  ASSERT_FALSE(statuses_.empty());
  EXPECT_EQ(statuses_.back(), "no code within 30 ms");
  EXPECT_TRUE(scans_.empty());
}

// The trigger input: an evdev node, here a FIFO carrying the same
// struct input_event records the kernel's evdev delivers.
TEST_F(CameraTest, AKeyPressOnTheTriggerInputTriggers) {
  const auto fifo = dir_.path() / "trigger-event";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // never EOF for the reader
  ASSERT_GE(writer, 0);
  config_.camera.format = "grey";
  config_.camera.mode = "trigger";
  config_.camera.trigger = fifo.string();
  config_.camera.trigger_key = KEY_F13;
  start();
  const auto send = [&](std::uint16_t type, std::uint16_t code, std::int32_t value) {
    input_event e{};
    e.type = type;
    e.code = code;
    e.value = value;
    ASSERT_EQ(::write(writer, &e, sizeof e), static_cast<ssize_t>(sizeof e));
  };
  send(EV_KEY, KEY_A, 1);  // another key: no trigger
  send(EV_SYN, SYN_REPORT, 0);
  send(EV_KEY, KEY_F13, 1);
  send(EV_SYN, SYN_REPORT, 0);
  send(EV_KEY, KEY_F13, 0);  // the release: nothing more
  run_until([&] { return camera_->stats().triggers > 0; });
  io_.poll();
  EXPECT_EQ(camera_->stats().triggers, 1u);
  capture_decoded(kEanFrame);
  EXPECT_EQ(scans_.size(), 1u);
  ::close(writer);
}

TEST_F(CameraTest, UnplugClosesTheDeviceAndReplugResumes) {
  config_.camera.format = "grey";
  start();
  capture_decoded(kEanFrame);
  ASSERT_EQ(scans_.size(), 1u);

  device_.unplug();
  run_until([&] { return camera_->stats().losses == 1; });
  EXPECT_FALSE(camera_->stats().streaming);
  run_until([&] { return statuses_.size() >= 3; });
  EXPECT_EQ(statuses_[1], "lost /dev/video0: VIDIOC_DQBUF: No such device; retrying");
  EXPECT_EQ(statuses_[2], "cannot open /dev/video0: No such file or directory; retrying");
  run_until([&] { return device_.open_fds() == 0; });  // closed on the setup thread
  EXPECT_EQ(device_.mapped(), 0) << "buffers unmapped";

  device_.replug();
  run_until([&] { return camera_->stats().streaming; });
  EXPECT_EQ(camera_->stats().opens, 2u);
  EXPECT_EQ(statuses_.back().rfind("open /dev/video0 640x480 grey", 0), 0u) << statuses_.back();
  capture_decoded(kGs1Frame);
  ASSERT_EQ(scans_.size(), 2u);
  EXPECT_EQ(scans_[1].text, "00095060001000000128");
  run_until([&] { return replies_.size() == 2; });
}

}  // namespace
}  // namespace tally::device
