// UsbContext + UsbScannerManager with the real libusb against devices
// emulated by umockdev (usb_emulator.hpp): a HID POS scanner and a
// keyboard-wedge scanner from the recordings in tests/data/usb/, hot-plug,
// unplug during a scan, replug, transfer errors (suspend/resume), output
// reports, shutdown with a transfer in flight. The binary re-executes itself
// under libumockdev-preload (main below); the suite also runs under ASan.
#include <umockdev.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <span>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <unistd.h>

#include "daemon.hpp"
#include "http_client.hpp"
#include "tally/device/usb.hpp"
#include "temp_dir.hpp"
#include "usb_emulator.hpp"

namespace tally::device {
namespace {

using namespace std::chrono_literals;
using test::EmulatedUsbDevice;
using test::UrbCompletion;
using Bytes = std::vector<std::uint8_t>;

std::string data_file(const std::string& name) { return std::string(TALLY_USB_DATA) + "/" + name; }

// The data of the successful completions of a recording, in order.
std::vector<Bytes> reports_of(const std::vector<UrbCompletion>& recording) {
  std::vector<Bytes> out;
  for (const auto& c : recording) {
    if (c.status == 0) out.push_back(c.data);
  }
  return out;
}

UsbScannerSpec hid_pos_by_vid() {
  UsbScannerSpec s;
  s.name = "dock-pos";
  s.kind = UsbScannerKind::hid_pos;
  s.vid = 0x0C2E;
  s.pid = 0x0B61;
  return s;
}

class UsbScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testbed_ = umockdev_testbed_new();
    ASSERT_TRUE(umockdev_in_mock_environment()) << "run under libumockdev-preload (main() arranges it)";
  }

  void TearDown() override {
    manager_.reset();
    context_.reset();
    devices_.clear();
    g_object_unref(testbed_);
  }

  EmulatedUsbDevice& add_device(const std::string& umockdev_file, int address = 2) {
    devices_.push_back(std::make_unique<EmulatedUsbDevice>(
        testbed_, test::at_address(test::read_text(data_file(umockdev_file)), address)));
    devices_.back()->plug();
    return *devices_.back();
  }

  void start(std::vector<UsbScannerSpec> specs, UsbOptions options = {}) {
    auto ctx = UsbContext::open(io_.get_executor());
    ASSERT_TRUE(ctx) << ctx.error().message;
    context_ = std::move(*ctx);
    manager_ = std::make_unique<UsbScannerManager>(
        *context_, std::move(specs),
        [this](const UsbDeviceId& id, std::span<const std::uint8_t> report) {
          ids_.push_back(id);
          reports_.emplace_back(report.begin(), report.end());
        },
        options);
    manager_->on_connection([this](const UsbDeviceId& id, bool up) { connections_.emplace_back(id, up); });
    ASSERT_TRUE(manager_->start());
  }

  // Runs the event loop until `done` holds or `limit` passes.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.run_for(10ms);
    }
    return true;
  }

  int connected_count() const {
    int n = 0;
    for (const auto& [id, up] : connections_) n += up ? 1 : -1;
    return n;
  }

  UMockdevTestbed* testbed_ = nullptr;
  std::vector<std::unique_ptr<EmulatedUsbDevice>> devices_;
  boost::asio::io_context io_;
  std::unique_ptr<UsbContext> context_;
  std::unique_ptr<UsbScannerManager> manager_;
  std::vector<Bytes> reports_;
  std::vector<UsbDeviceId> ids_;
  std::vector<std::pair<UsbDeviceId, bool>> connections_;
};

TEST_F(UsbScannerTest, HidPosScanReportsArriveInOrder) {
  EmulatedUsbDevice& dev = add_device("hid-pos-scanner.umockdev");
  const auto recording = test::load_recording(data_file("hid-pos-scan.ioctl"));
  ASSERT_EQ(reports_of(recording).size(), 3U);  // a two-report GS1-128 scan, then an EAN-13
  start({hid_pos_by_vid()});
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  dev.play(recording);
  ASSERT_TRUE(run_until([&] { return reports_.size() >= 3; })) << reports_.size() << " reports";
  EXPECT_EQ(reports_, reports_of(recording));
  ASSERT_FALSE(ids_.empty());
  EXPECT_EQ(ids_.front().vid, 0x0C2E);
  EXPECT_EQ(ids_.front().pid, 0x0B61);
  EXPECT_EQ(ids_.front().address, 2);
  EXPECT_EQ(ids_.front().scanner, 0U);
  // Nothing more arrives, and the loop is idle: no busy polling.
  const auto wakeups = context_->wakeups();
  io_.run_for(200ms);
  EXPECT_EQ(reports_.size(), 3U);
  EXPECT_LE(context_->wakeups() - wakeups, 2U);
  const UsbStats s = manager_->stats();
  EXPECT_TRUE(s.hotplug);
  ASSERT_EQ(s.connected.size(), 1U);
  EXPECT_EQ(s.connected[0].name, "dock-pos");
  EXPECT_EQ(s.connected[0].reports, 3U);
  EXPECT_EQ(s.reports, 3U);
}

TEST_F(UsbScannerTest, KeyboardWedgeInBootModeTypesAScan) {
  EmulatedUsbDevice& dev = add_device("keyboard-scanner.umockdev");
  const auto recording = test::load_recording(data_file("keyboard-scan.ioctl"));
  UsbScannerSpec kbd;
  kbd.kind = UsbScannerKind::keyboard;  // default selector: HID boot keyboard 3/1/1
  start({hid_pos_by_vid(), kbd});
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  dev.play(recording);
  const auto expected = reports_of(recording);
  ASSERT_EQ(expected.size(), 2U * std::strlen("OP:alice\n4006381333931\n"));
  ASSERT_TRUE(run_until([&] { return reports_.size() >= expected.size(); })) << reports_.size();
  EXPECT_EQ(reports_, expected);
  EXPECT_EQ(ids_.front().scanner, 1U);
  EXPECT_EQ(ids_.front().vid, 0x05E0);
  // SET_PROTOCOL(boot) went to interface 0 before the reports were read.
  const auto controls = dev.control_requests();
  ASSERT_EQ(controls.size(), 1U);
  EXPECT_EQ(controls[0], (Bytes{0x21, 0x0B, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
}

TEST_F(UsbScannerTest, UnplugDuringAScanThenReplugResumes) {
  EmulatedUsbDevice& first = add_device("hid-pos-scanner.umockdev", 2);
  start({hid_pos_by_vid()});
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  // The first report of a two-report scan, then the URB dies: -ESHUTDOWN.
  const auto unplug = test::load_recording(data_file("hid-pos-unplug.ioctl"));
  first.play(unplug);
  first.unplug();
  ASSERT_TRUE(run_until([&] { return connected_count() == 0 && connections_.size() == 2; }));
  EXPECT_EQ(reports_, reports_of(unplug));  // only the report that made it
  first.forget();
  EXPECT_TRUE(manager_->stats().connected.empty());
  EXPECT_EQ(manager_->stats().disconnects, 1U);

  EmulatedUsbDevice& again = add_device("hid-pos-scanner.umockdev", 3);  // replug: a new address
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  const auto scan = test::load_recording(data_file("hid-pos-scan.ioctl"));
  again.play(scan);
  ASSERT_TRUE(run_until([&] { return reports_.size() >= 4; })) << reports_.size();
  std::vector<Bytes> expected = reports_of(unplug);
  for (auto& r : reports_of(scan)) expected.push_back(r);
  EXPECT_EQ(reports_, expected);
  EXPECT_EQ(ids_.back().address, 3);
  EXPECT_EQ(manager_->stats().connects, 2U);
}

TEST_F(UsbScannerTest, UnplugWhileIdleClosesTheDevice) {
  EmulatedUsbDevice& dev = add_device("hid-pos-scanner.umockdev");
  start({hid_pos_by_vid()});
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  dev.unplug();  // the pending interrupt URB completes with -ESHUTDOWN
  ASSERT_TRUE(run_until([&] { return connections_.size() == 2; }));
  EXPECT_FALSE(connections_[1].second);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(UsbScannerTest, TransferErrorsAfterResumeAreRetried) {
  EmulatedUsbDevice& dev = add_device("hid-pos-scanner.umockdev");
  UsbOptions o;
  o.retry_min = 5ms;
  start({hid_pos_by_vid()}, o);
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  const auto recording = test::load_recording(data_file("hid-pos-resume.ioctl"));  // 2 × -EPROTO, then a scan
  dev.play(recording);
  ASSERT_TRUE(run_until([&] { return !reports_.empty(); }));
  EXPECT_EQ(reports_, reports_of(recording));
  const UsbStats s = manager_->stats();
  EXPECT_EQ(s.transfer_errors, 2U);
  EXPECT_EQ(s.connects, 1U);  // retried in place, not reopened
  EXPECT_EQ(connections_.size(), 1U);
}

TEST_F(UsbScannerTest, RepeatedErrorsReopenTheDevice) {
  EmulatedUsbDevice& dev = add_device("hid-pos-scanner.umockdev");
  UsbOptions o;
  o.retry_min = 5ms;
  o.errors_before_reopen = 2;
  start({hid_pos_by_vid()}, o);
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  const auto recording = test::load_recording(data_file("hid-pos-resume.ioctl"));
  dev.play(recording);
  ASSERT_TRUE(run_until([&] { return !reports_.empty(); }));
  EXPECT_EQ(reports_, reports_of(recording));
  EXPECT_EQ(manager_->stats().connects, 2U);  // closed after 2 errors, opened again
  EXPECT_EQ(connected_count(), 1);
}

TEST_F(UsbScannerTest, DestroyingTheManagerCancelsTheTransferFirst) {
  EmulatedUsbDevice& dev = add_device("hid-pos-scanner.umockdev");
  start({hid_pos_by_vid()});
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  manager_.reset();  // waits for the cancelled URB before freeing it
  EXPECT_EQ(dev.discards(), 1);
  EXPECT_EQ(connected_count(), 0);
}

TEST_F(UsbScannerTest, OutputReportIsASetReport) {
  EmulatedUsbDevice& dev = add_device("hid-pos-scanner.umockdev");
  start({hid_pos_by_vid()});
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  std::optional<Result<void>> result;
  manager_->send_output_report(connections_[0].first, {0x03, 0x01, 0x02, 0x03, 0x04},
                               [&](Result<void> r) { result = std::move(r); });
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_TRUE(*result) << result->error().message;
  const auto controls = dev.control_requests();
  ASSERT_EQ(controls.size(), 1U);
  // SET_REPORT (0x21 0x09), wValue Output(2)<<8 | id 3, interface 0, 5 bytes:
  // with report ids the data stage starts with the id (HID 1.11 §7.2.2).
  EXPECT_EQ(controls[0], (Bytes{0x21, 0x09, 0x03, 0x02, 0x00, 0x00, 0x05, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04}));

  UsbDeviceId nobody = connections_[0].first;
  nobody.address = 99;
  std::optional<Result<void>> refused;
  manager_->send_output_report(nobody, {0x03, 0x01}, [&](Result<void> r) { refused = std::move(r); });
  ASSERT_TRUE(refused.has_value());
  ASSERT_FALSE(*refused);
  EXPECT_EQ(refused->error().code, "usb_not_connected");
}

TEST_F(UsbScannerTest, HidPosIsFoundByUsagePageWithoutVidPid) {
  add_device("keyboard-scanner.umockdev", 2);  // HID, but not usage page 0x8C
  {
    // The POS scanner lives at 1-2 so both can be plugged at once.
    std::string text = test::at_address(test::read_text(data_file("hid-pos-scanner.umockdev")), 3);
    for (std::string from : {"usb1/1-1", "1-1:1.0"}) {
      const std::string to = from == "usb1/1-1" ? "usb1/1-2" : "1-2:1.0";
      for (auto p = text.find(from); p != std::string::npos; p = text.find(from, p + to.size())) text.replace(p, from.size(), to);
    }
    devices_.push_back(std::make_unique<EmulatedUsbDevice>(testbed_, text));
    devices_.back()->plug();
  }
  UsbScannerSpec pos;  // no vid, no class: HID + usage page 0x8C in sysfs
  pos.kind = UsbScannerKind::hid_pos;
  start({pos});
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  io_.run_for(100ms);
  ASSERT_EQ(connections_.size(), 1U);
  EXPECT_EQ(connections_[0].first.vid, 0x0C2E);
  EXPECT_EQ(connections_[0].first.address, 3);
}

TEST_F(UsbScannerTest, WithoutHotplugRescansFindTheDevice) {
  UsbOptions o;
  o.hotplug = false;
  o.rescan_interval = 50ms;
  start({hid_pos_by_vid()}, o);
  EXPECT_FALSE(manager_->stats().hotplug);
  io_.run_for(100ms);
  EXPECT_EQ(connected_count(), 0);
  EmulatedUsbDevice& dev = add_device("hid-pos-scanner.umockdev");
  ASSERT_TRUE(run_until([&] { return connected_count() == 1; }));
  const auto recording = test::load_recording(data_file("hid-pos-scan.ioctl"));
  dev.play(recording);
  ASSERT_TRUE(run_until([&] { return reports_.size() >= 3; }));
  EXPECT_EQ(reports_, reports_of(recording));
}

// The real tallyd under the same testbed (the child inherits UMOCKDEV_DIR
// and the preload; its usbfs ioctls come back to this process's handler):
// the configured scanner shows up in /api/v1/status and /metrics with its
// reports counted, and SIGTERM with the device claimed ends cleanly.
TEST_F(UsbScannerTest, TallydReportsTheScannerInStatusAndMetrics) {
  EmulatedUsbDevice& dev = add_device("hid-pos-scanner.umockdev");
  dev.play(test::load_recording(data_file("hid-pos-scan.ioctl")));
  test::TempDir dir("tally-usb");
  const auto config = dir.path() / "tallyd.toml";
  std::ofstream(config) << "[mqtt]\nuri = \"\"\n[[scanner]]\ntype = \"hid-pos\"\nname = \"dock-pos\"\nvid = 0x0c2e\n";
  test::Daemon d(TALLYD_PATH, {"--config", config.string(), "--data-dir", (dir.path() / "data").string(), "--http",
                               "127.0.0.1:0"});
  test::HttpClient c(d.wait_listening());
  nlohmann::json usb;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    usb = c.get("/api/v1/status").json()["usb"];
    if (usb.value("reports", 0) >= 3) break;
    ::usleep(50000);  // the daemon's progress has no fd to wait on here
  }
  ASSERT_EQ(usb.value("reports", 0), 3) << usb.dump() << d.drain_stderr();
  EXPECT_TRUE(usb["enabled"].get<bool>());
  ASSERT_EQ(usb["scanners"].size(), 1U) << usb.dump();
  EXPECT_EQ(usb["scanners"][0]["name"], "dock-pos");
  EXPECT_EQ(usb["scanners"][0]["id"], "0c2e:0b61");
  EXPECT_EQ(usb["scanners"][0]["reports"], 3);
  const std::string metrics = c.get("/metrics").body;
  EXPECT_NE(metrics.find("tally_usb_scanners_connected 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("tally_usb_reports_total 3\n"), std::string::npos) << metrics;
  d.signal(SIGTERM);
  const auto exit = d.wait();
  EXPECT_EQ(exit.code, 0) << d.drain_stderr();
  EXPECT_EQ(dev.discards(), 1);  // its pending transfer was cancelled, not dropped
}

// USB reports reach the engine as scans: the keyboard-wedge scanner types
// "OP:alice" Enter, then an EAN-13 Enter; tallyd's decoder turns the first
// into a sign-in (status shows the operator) and prints both replies.
TEST_F(UsbScannerTest, TallydTurnsKeyboardReportsIntoScans) {
  EmulatedUsbDevice& dev = add_device("keyboard-scanner.umockdev");
  dev.play(test::load_recording(data_file("keyboard-scan.ioctl")));
  test::TempDir dir("tally-usb-kbd");
  const auto config = dir.path() / "tallyd.toml";
  std::ofstream(config) << "[mqtt]\nuri = \"\"\n[[scanner]]\ntype = \"keyboard\"\nname = \"wedge\"\nvid = 0x05e0\n";
  test::Daemon d(TALLYD_PATH, {"--config", config.string(), "--data-dir", (dir.path() / "data").string(), "--http",
                               "127.0.0.1:0"});
  test::HttpClient c(d.wait_listening());
  nlohmann::json status;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    status = c.get("/api/v1/status").json();
    if (status.value("operator", std::string()) == "alice") break;
    ::usleep(50000);  // the daemon's progress has no fd to wait on here
  }
  EXPECT_EQ(status.value("operator", std::string()), "alice") << status.dump() << d.drain_stderr();
  EXPECT_TRUE(d.wait_for_line(R"(^scanner wedge: \[good\])").has_value());
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait().code, 0);
}

// A keyboard-wedge scanner set to send no suffix: "OP:alice" arrives with no
// Enter after it, and only UsbScans' idle timer (suffix = "none",
// suffix_timeout_ms) ends the scan. Without the timer the operator would
// never be signed in.
TEST_F(UsbScannerTest, TallydEndsAScanWithoutSuffixWhenTheKeysStop) {
  EmulatedUsbDevice& dev = add_device("keyboard-scanner.umockdev");
  const auto recording = test::load_recording(data_file("keyboard-nosuffix.ioctl"));
  ASSERT_EQ(recording.size(), 16U);  // 8 keys, each pressed and released
  dev.play(recording);
  test::TempDir dir("tally-usb-nosuffix");
  const auto config = dir.path() / "tallyd.toml";
  std::ofstream(config) << "[mqtt]\nuri = \"\"\n[[scanner]]\ntype = \"keyboard\"\nname = \"wedge\"\nvid = 0x05e0\n"
                           "suffix = \"none\"\nsuffix_timeout_ms = 50\n";
  test::Daemon d(TALLYD_PATH, {"--config", config.string(), "--data-dir", (dir.path() / "data").string(), "--http",
                               "127.0.0.1:0"});
  test::HttpClient c(d.wait_listening());
  const auto line = d.wait_for_line(R"(^scanner wedge: \[)");
  ASSERT_TRUE(line.has_value()) << d.drain_stderr();
  EXPECT_EQ(line->rfind("scanner wedge: [good]", 0), 0U) << *line;
  const auto status = c.get("/api/v1/status").json();
  EXPECT_EQ(status.value("operator", std::string()), "alice") << status.dump();
  EXPECT_EQ(status["usb"]["scanners"][0]["reports"], 16) << status.dump();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait().code, 0);
}

// Feedback on the scanner's own beeper/LED: with output_reports configured,
// each pattern tallyd plays goes to the HID POS scanner as a SET_REPORT of
// that report. Nobody is signed in, so both scans of the recording are
// refused: two "error" reports, after each reply, and none for "good".
TEST_F(UsbScannerTest, TallydSendsTheOutputReportOfEachPattern) {
  EmulatedUsbDevice& dev = add_device("hid-pos-scanner.umockdev");
  dev.play(test::load_recording(data_file("hid-pos-scan.ioctl")));
  test::TempDir dir("tally-usb-feedback");
  const auto config = dir.path() / "tallyd.toml";
  std::ofstream(config) << "[mqtt]\nuri = \"\"\n[[scanner]]\ntype = \"hid-pos\"\nname = \"dock-pos\"\nvid = 0x0c2e\n"
                           "output_reports = { error = \"03 0e 00 00 00\", good = \"0301000000\" }\n";
  test::Daemon d(TALLYD_PATH, {"--config", config.string(), "--data-dir", (dir.path() / "data").string(), "--http",
                               "127.0.0.1:0"});
  test::HttpClient c(d.wait_listening());
  ASSERT_TRUE(d.wait_for_line(R"(^scanner dock-pos: \[error\])").has_value()) << d.drain_stderr();
  ASSERT_TRUE(d.wait_for_line(R"(^scanner dock-pos: \[error\])").has_value()) << d.drain_stderr();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (dev.control_requests().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    ::usleep(20000);  // the emulated device has no fd to wait on here
  }
  const Bytes error_report = {0x21, 0x09, 0x03, 0x02, 0x00, 0x00, 0x05, 0x00, 0x03, 0x0e, 0x00, 0x00, 0x00};
  EXPECT_EQ(dev.control_requests(), (std::vector<Bytes>{error_report, error_report})) << d.drain_stderr();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait().code, 0);
  EXPECT_EQ(dev.control_requests().size(), 2U) << "no report after the replies";
}

}  // namespace
}  // namespace tally::device

// libumockdev-preload must be loaded before anything opens /sys or /dev:
// without it, run this binary again with it (and tell ASan, whose runtime
// then is not first in the library list, that this is intended).
int main(int argc, char** argv) {
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload == nullptr || std::strstr(preload, "libumockdev-preload") == nullptr) {
    std::string value = "libumockdev-preload.so.0";
    if (preload != nullptr && *preload != '\0') value += std::string(":") + preload;
    ::setenv("LD_PRELOAD", value.c_str(), 1);
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string asan_value = std::string(asan != nullptr ? asan : "") + (asan != nullptr && *asan ? ":" : "") +
                                   "verify_asan_link_order=0";
    ::setenv("ASAN_OPTIONS", asan_value.c_str(), 1);
    ::execv("/proc/self/exe", argv);
    std::perror("usb_integration_tests: re-exec under libumockdev-preload");
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
