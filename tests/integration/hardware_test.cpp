// Serial scanners and feedback against the real tallyd (issue 6): a real
// pseudo-terminal pair stands in for the scanner's serial/CDC-ACM port (the
// test holds the master and types into it), [[scanner]] type = "serial"
// points at a symlink to the slave, as a udev /dev/serial/by-id link would.
// Feedback goes to a sysfs-style LED directory in the temp dir and to a
// command that appends its pattern to a file.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <regex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"

namespace tally::test {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  for (char c : text) {
    if (c == '\n') {
      out.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  return out;
}

// The master side of a pty pair; the slave's path is linked at `link`.
class Pty {
 public:
  explicit Pty(const std::filesystem::path& link) {
    fd_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd_ < 0 || ::grantpt(fd_) != 0 || ::unlockpt(fd_) != 0) throw std::runtime_error("posix_openpt");
    const std::string slave = ::ptsname(fd_);
    const auto tmp = link.string() + ".new";
    std::filesystem::remove(tmp);
    std::filesystem::create_symlink(slave, tmp);
    std::filesystem::rename(tmp, link);  // atomic re-point
  }
  ~Pty() { close(); }
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;

  void write(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) throw std::runtime_error("pty write");
      done += static_cast<std::size_t>(n);
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

class HardwareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(led_dir());
    std::ofstream(led_dir() / "brightness") << "untouched\n";
    std::ofstream(led_dir() / "max_brightness") << "255\n";
    std::ofstream(config_path()) << R"([device]
id = "hw-1"
site = "test"
data_dir = ")" << (dir_.path() / "data").string() << R"("
[http]
listen = "127.0.0.1:0"
[mqtt]
uri = ""
[log]
level = "warn"
[[scanner]]
type = "serial"
name = "dock"
path = ")" << tty().string() << R"("
baud = 115200
suffix = "cr"
max_len = 64
reopen_min_ms = 20
reopen_max_ms = 200
[feedback]
leds_dir = ")" << (dir_.path() / "leds").string() << R"("
leds = ["tally::scan"]
command = ["/bin/sh", "-c", "echo {pattern} >> )" << patterns().string() << R"("]
)";
  }

  std::filesystem::path tty() const { return dir_.path() / "ttyScanner"; }
  std::filesystem::path led_dir() const { return dir_.path() / "leds" / "tally::scan"; }
  std::filesystem::path patterns() const { return dir_.path() / "patterns"; }
  std::filesystem::path config_path() const { return dir_.path() / "tallyd.toml"; }

  // The patterns the feedback command wrote, once there are at least `n`.
  std::vector<std::string> wait_patterns(std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      auto got = lines_of(slurp(patterns()));
      if (got.size() >= n || std::chrono::steady_clock::now() > deadline) return got;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the command's file has no fd to wait on
    }
  }

  static long count(const std::vector<std::string>& v, const std::string& s) {
    return std::count(v.begin(), v.end(), s);
  }

  // True once stdout said `pattern` (before now, or within the timeout).
  static bool said(Daemon& d, const std::string& pattern) {
    const std::regex re(pattern);
    for (const auto& line : d.stdout_lines()) {
      if (std::regex_search(line, re)) return true;
    }
    return d.wait_for_line(pattern).has_value();
  }

  TempDir dir_{"tallyd-hw"};
};

TEST_F(HardwareTest, SerialScansRecordMovementsAndSurviveThePortGoingAway) {
  auto pty = std::make_unique<Pty>(tty());
  Daemon d(TALLYD_PATH, {"--config", config_path().string()});
  HttpClient http(d.wait_listening());
  ASSERT_TRUE(said(d, "scanner dock: open " + tty().string())) << d.drain_stderr();

  // Refused (nobody signed in): error, nothing journaled.
  pty->write("4006381333931\r");
  ASSERT_TRUE(d.wait_for_line(R"(scanner dock: \[error\])"));
  // Longer than max_len (64): refused whole, the next scan still works.
  pty->write(std::string(100, '7') + "\r");
  ASSERT_TRUE(d.wait_for_line(R"(scanner dock: \[error\] scan longer than 64 bytes ignored)"));

  // A move of 3; CRLF from the scanner is fine with suffix "cr".
  pty->write("OP:alice\r\nCMD:MOVE\rA-01-01-1\r4006381333931\r4006381333931\r4006381333931\r");
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(d.wait_for_line(R"(scanner dock: \[good\])")) << i;
  // The command runs once per pattern, in order.
  const std::vector<std::string> before = wait_patterns(8);
  EXPECT_EQ(before, (std::vector<std::string>{"error", "error", "good", "good", "good", "good", "good", "good"}))
      << "no recorded before any movement";
  EXPECT_EQ(http.get("/api/v1/movements").json()["movements"].size(), 0U);

  pty->write("B-02-01-1\r");
  ASSERT_TRUE(d.wait_for_line(R"(scanner dock: \[good\] .*\(seq 1\))"));
  auto after = wait_patterns(9);
  ASSERT_EQ(after.size(), 9U) << slurp(patterns());
  ASSERT_EQ(after.back(), "recorded") << slurp(patterns());
  // The pattern was played: the movement is in the journal, from the serial scans.
  auto list = http.get("/api/v1/movements").json();
  ASSERT_EQ(list["movements"].size(), 1U) << list;
  EXPECT_EQ(list["movements"][0]["type"], "move");
  EXPECT_EQ(list["movements"][0]["qty"], 3);
  EXPECT_EQ(list["movements"][0]["to"]["location"], "B-02-01-1");
  const auto evidence = list["movements"][0].dump();
  EXPECT_NE(evidence.find("4006381333931"), std::string::npos);

  // The port goes away (USB unplugged): tallyd keeps serving and reopens
  // the device when it is back, under the same link.
  pty->close();
  ASSERT_TRUE(d.wait_for_line("scanner dock: lost " + tty().string()));
  EXPECT_EQ(http.get("/api/v1/status").status, 200U);
  pty = std::make_unique<Pty>(tty());
  ASSERT_TRUE(d.wait_for_line("scanner dock: open " + tty().string())) << d.drain_stderr();
  pty->write("CMD:MOVE\rB-02-01-1\r4006381333931\rA-01-01-1\r");
  ASSERT_TRUE(d.wait_for_line(R"(scanner dock: \[good\] .*\(seq 2\))"));
  EXPECT_EQ(http.get("/api/v1/movements").json()["movements"].size(), 2U);
  auto again = wait_patterns(13);
  ASSERT_EQ(again.size(), 13U) << slurp(patterns());
  EXPECT_EQ(again.back(), "recorded");
  EXPECT_EQ(count(again, "recorded"), 2);

  // HTTP scans play feedback too (the reply's "feedback").
  auto r = http.post_json("/api/v1/scans", R"({"text":"CMD:BOGUS"})");
  EXPECT_GE(r.status, 400U) << r.body;
  EXPECT_EQ(count(wait_patterns(14), "error"), 3) << slurp(patterns());

  d.signal(SIGTERM);
  EXPECT_EQ(d.wait().code, 0) << d.drain_stderr();
  // The LED was driven and left off.
  EXPECT_EQ(slurp(led_dir() / "brightness"), "0\n");
}

TEST_F(HardwareTest, BadScannerConfigNamesTheKeyAndExitsTwo) {
  std::ofstream(config_path()) << "[[scanner]]\ntype = \"serial\"\npath = \"/dev/null\"\nbaud = 12345\n";
  auto [st, err] = run_to_end(TALLYD_PATH, {"--config", config_path().string(), "--mqtt", ""});
  EXPECT_EQ(st.code, 2);
  EXPECT_NE(err.find("scanner[0].baud"), std::string::npos) << err;

  std::ofstream(config_path()) << "[feedback]\nleds = [\"no-such-led\"]\nleds_dir = \"" << dir_.str() << "\"\n";
  auto [st2, err2] = run_to_end(TALLYD_PATH, {"--config", config_path().string(), "--mqtt", "",
                                              "--data-dir", (dir_.path() / "d").string(), "--http", "127.0.0.1:0"});
  EXPECT_EQ(st2.code, 2);
  EXPECT_NE(err2.find("feedback.leds"), std::string::npos) << err2;
}

// A camera scanner in the real tallyd, without a camera (this machine has
// none; CameraScanner's streaming is tested against a kernel-like device in
// tests/unit/firmware-host/camera_test.cpp): tallyd serves, says why the
// device cannot be used, and retries it with the real syscalls — a missing
// node, then a node that is no V4L2 device.
TEST_F(HardwareTest, ACameraThatIsNotThereIsRetriedWhileTallydServesAndItsTriggerSaysWhy) {
  const auto video = dir_.path() / "video0";
  std::ofstream(config_path()) << "[[scanner]]\ntype = \"camera\"\nname = \"cam\"\ndevice = \"" << video.string()
                               << "\"\nreopen_min_ms = 10\nreopen_max_ms = 50\n";
  Daemon d(TALLYD_PATH, {"--config", config_path().string(), "--mqtt", "", "--data-dir", (dir_.path() / "d").string(),
                         "--http", "127.0.0.1:0"});
  HttpClient http(d.wait_listening());
  ASSERT_TRUE(said(d, "scanner cam: cannot open " + video.string() + ": No such file or directory; retrying"))
      << d.drain_stderr();
  const auto status = http.get("/api/v1/status").json();
  ASSERT_EQ(status["cameras"].size(), 1U) << status.dump();
  EXPECT_EQ(status["cameras"][0]["name"], "cam");
  EXPECT_EQ(status["cameras"][0]["device"], video.string());
  EXPECT_EQ(status["cameras"][0]["streaming"], false);
  EXPECT_EQ(status["cameras"][0]["opens"], 0);
  EXPECT_NE(http.get("/metrics").body.find("tally_camera_streaming 0\n"), std::string::npos);
  // Its HTTP trigger says why it cannot trigger now; an unknown name is 404.
  const auto busy = http.request("POST", "/api/v1/cameras/cam/trigger");
  EXPECT_EQ(busy.status, 409U) << busy.body;  // the default mode is continuous
  EXPECT_EQ(busy.json()["error"]["code"], "camera_not_in_trigger_mode") << busy.body;
  const auto unknown = http.request("POST", "/api/v1/cameras/nope/trigger");
  EXPECT_EQ(unknown.status, 404U) << unknown.body;
  EXPECT_EQ(unknown.json()["error"]["code"], "unknown_camera");
  std::ofstream(video) << "not a camera\n";
  ASSERT_TRUE(d.wait_for_line("scanner cam: cannot open " + video.string() +
                              R"(: VIDIOC_QUERYCAP \(not a V4L2 device\?\): Inappropriate ioctl for device; retrying)"))
      << d.drain_stderr();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait().code, 0) << d.drain_stderr();

  std::ofstream(config_path()) << "[[scanner]]\ntype = \"camera\"\nname = \"dock\"\nmode = \"trigger\"\ndevice = \""
                               << video.string() << "\"\n";
  {
    Daemon t(TALLYD_PATH, {"--config", config_path().string(), "--mqtt", "", "--data-dir",
                           (dir_.path() / "d").string(), "--http", "127.0.0.1:0"});
    HttpClient h(t.wait_listening());
    const auto r = h.request("POST", "/api/v1/cameras/dock/trigger");
    EXPECT_EQ(r.status, 503U) << r.body;
    EXPECT_EQ(r.json()["error"]["code"], "camera_not_streaming") << r.body;
    EXPECT_EQ(h.get("/api/v1/status").json()["cameras"][0]["triggered"], false);
    t.signal(SIGTERM);
    EXPECT_EQ(t.wait().code, 0) << t.drain_stderr();
  }

  std::ofstream(config_path()) << "[[scanner]]\ntype = \"camera\"\nformat = \"rgb24\"\n";
  auto [st, err] = run_to_end(TALLYD_PATH, {"--config", config_path().string(), "--mqtt", ""});
  EXPECT_EQ(st.code, 2);
  EXPECT_NE(err.find("scanner[0].format 'rgb24' must be grey, yuyv or mjpeg"), std::string::npos) << err;
}

}  // namespace
}  // namespace tally::test
