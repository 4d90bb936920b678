// [[scanner]] and [feedback] in tallyd's TOML, the serial line splitter, and
// which feedback pattern an engine reply calls for.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/input.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tally/device/config.hpp"
#include "tally/device/feedback.hpp"
#include "tally/device/serial_scanner.hpp"

namespace tally::device {
namespace {

Result<LoadResult> load_text(const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("tally-scanner-config-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  auto r = load_config({"--config", path.string()});
  std::filesystem::remove(path);
  return r;
}

TEST(ScannerConfig, SerialKeysAreRead) {
  auto r = load_text(R"([[scanner]]
type = "serial"
name = "dock"
path = "/dev/ttyACM0"
baud = 115200
character_size = 7
parity = "even"
stop_bits = 2
flow_control = "hardware"
suffix = "crlf"
aim_prefix = false
max_len = 100
[[scanner]]
type = "serial"
path = "/dev/ttyS1"
suffix = "custom"
suffix_custom = "\u0003"
[[scanner]]
type = "keyboard"
vid = 0x0c2e
pid = 0x0b61
layout = "de"
suffix = "tab"
gs_substitute = "~"
)");
  ASSERT_TRUE(r) << r.error().message;
  const auto& s = r->config.scanners;
  ASSERT_EQ(s.size(), 3U);
  EXPECT_EQ(s[0].name, "dock");
  EXPECT_EQ(s[0].serial.path, "/dev/ttyACM0");
  EXPECT_EQ(s[0].serial.baud, 115200U);
  EXPECT_EQ(s[0].serial.character_size, 7U);
  EXPECT_EQ(s[0].serial.parity, "even");
  EXPECT_EQ(s[0].serial.stop_bits, 2U);
  EXPECT_EQ(s[0].serial.flow_control, "hardware");
  EXPECT_EQ(s[0].serial.suffix, "\r\n");
  EXPECT_FALSE(s[0].aim_prefix);
  EXPECT_EQ(s[0].max_len, 100U);
  EXPECT_EQ(s[1].name, "serial-1");
  EXPECT_EQ(s[1].serial.suffix, "\x03");
  EXPECT_EQ(s[1].serial.baud, 9600U);
  EXPECT_EQ(s[2].usb.vid, 0x0c2e);
  EXPECT_EQ(s[2].usb.pid, 0x0b61);
  EXPECT_EQ(s[2].usb.kind, UsbScannerKind::keyboard);
  EXPECT_EQ(s[2].usb.layout, "de");
  EXPECT_EQ(s[2].usb.name, "keyboard-2");
  ASSERT_EQ(r->config.usb_scanners.size(), 1U);  // the USB driver's list
  EXPECT_EQ(r->config.usb_scanners[0].vid, 0x0c2e);
  EXPECT_EQ(s[2].keyboard.layout, "de");
  EXPECT_EQ(s[2].keyboard.suffix, "tab");
  EXPECT_EQ(s[2].keyboard.gs_substitute, '~');
}

TEST(ScannerConfig, CameraKeysAreRead) {
  auto r = load_text(R"([[scanner]]
type = "camera"
name = "dock-cam"
device = "/dev/v4l/by-id/usb-cam-video-index0"
format = "grey"
width = 1280
height = 720
buffers = 6
mode = "trigger"
repeat_ms = 800
trigger = "/dev/input/by-path/platform-gpio-keys-event"
trigger_key = 0x100
trigger_timeout_ms = 2000
[[scanner]]
type = "keyboard"
)");
  ASSERT_TRUE(r) << r.error().message;
  const auto& c = r->config;
  ASSERT_EQ(c.scanners.size(), 2U);
  const auto& cam = c.scanners[0].camera;
  EXPECT_EQ(c.scanners[0].name, "dock-cam");
  EXPECT_EQ(cam.device, "/dev/v4l/by-id/usb-cam-video-index0");
  EXPECT_EQ(cam.format, "grey");
  EXPECT_EQ(cam.width, 1280U);
  EXPECT_EQ(cam.height, 720U);
  EXPECT_EQ(cam.buffers, 6U);
  EXPECT_EQ(cam.mode, "trigger");
  EXPECT_EQ(cam.repeat_ms, 800);
  EXPECT_EQ(cam.trigger, "/dev/input/by-path/platform-gpio-keys-event");
  EXPECT_EQ(cam.trigger_key, 0x100U);
  EXPECT_EQ(cam.trigger_timeout_ms, 2000);
  // A camera is no USB scanner: the keyboard is usb_scanners[0] (UsbDeviceId::scanner).
  ASSERT_EQ(c.usb_scanners.size(), 1U);
  EXPECT_EQ(c.usb_scanners[0].name, "keyboard-1");

  auto o = load_text("[[scanner]]\ntype = \"hid-pos\"\noutput_reports = { error = \"03 0E 00\", good = \"0301\" }\n");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->config.scanners[0].output_reports.at("error"), (std::vector<std::uint8_t>{0x03, 0x0e, 0x00}));
  EXPECT_EQ(o->config.scanners[0].output_reports.at("good"), (std::vector<std::uint8_t>{0x03, 0x01}));

  auto d = load_text("[[scanner]]\ntype = \"camera\"\n");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->config.scanners[0].camera.device, "/dev/video0");
  EXPECT_EQ(d->config.scanners[0].camera.format, "yuyv");
  EXPECT_EQ(d->config.scanners[0].camera.mode, "continuous");
  EXPECT_EQ(d->config.scanners[0].camera.repeat_ms, 1500);
}

TEST(ScannerConfig, BadValuesNameTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"[scanner]\ntype = \"serial\"\n", "[[scanner]]"},
      {"[[scanner]]\npath = \"/dev/x\"\n", "scanner[0].type"},
      {"[[scanner]]\ntype = \"parallel\"\n", "scanner[0].type"},
      {"[[scanner]]\ntype = \"serial\"\n", "scanner[0].path"},
      {"[[scanner]]\ntype = \"serial\"\npath = \"/dev/x\"\nbaud = 9601\n", "scanner[0].baud"},
      {"[[scanner]]\ntype = \"serial\"\npath = \"/dev/x\"\nparity = \"mark\"\n", "scanner[0].parity"},
      {"[[scanner]]\ntype = \"serial\"\npath = \"/dev/x\"\nstop_bits = 3\n", "scanner[0].stop_bits"},
      {"[[scanner]]\ntype = \"serial\"\npath = \"/dev/x\"\ncharacter_size = 9\n", "scanner[0].character_size"},
      {"[[scanner]]\ntype = \"serial\"\npath = \"/dev/x\"\nsuffix = \"etx\"\n", "scanner[0].suffix"},
      {"[[scanner]]\ntype = \"serial\"\npath = \"/dev/x\"\nlayout = \"us\"\n", "scanner[0].layout"},
      {"[[scanner]]\ntype = \"serial\"\npath = \"/dev/x\"\nbaud = \"fast\"\n", "scanner[0].baud"},
      {"[[scanner]]\ntype = \"keyboard\"\nlayout = \"dvorak\"\n", "dvorak"},
      {"[[scanner]]\ntype = \"keyboard\"\nvid = 70000\n", "scanner[0].vid"},
      {"[[scanner]]\ntype = \"serial\"\npath = \"/a\"\n[[scanner]]\ntype = \"serial\"\npath = \"/b\"\nname = \"serial-0\"\n",
       "used twice"},
      {"[[scanner]]\ntype = \"camera\"\nformat = \"rgb24\"\n", "scanner[0].format"},
      {"[[scanner]]\ntype = \"camera\"\nmode = \"burst\"\n", "scanner[0].mode"},
      {"[[scanner]]\ntype = \"camera\"\nwidth = 641\n", "scanner[0].width"},
      {"[[scanner]]\ntype = \"camera\"\nwidth = 8192\nheight = 8192\n", "pixels"},
      {"[[scanner]]\ntype = \"camera\"\nbuffers = 1\n", "scanner[0].buffers"},
      {"[[scanner]]\ntype = \"camera\"\nrepeat_ms = -1\n", "scanner[0].repeat_ms"},
      {"[[scanner]]\ntype = \"camera\"\ntrigger = \"/dev/input/event3\"\n", "scanner[0].trigger needs mode"},
      {"[[scanner]]\ntype = \"camera\"\nbaud = 9600\n", "scanner[0].baud"},
      {"[[scanner]]\ntype = \"camera\"\ndevice = \"\"\n", "scanner[0].device"},
      {"[[scanner]]\ntype = \"hid-pos\"\noutput_reports = { beep = \"0301\" }\n", "output_reports.beep"},
      {"[[scanner]]\ntype = \"hid-pos\"\noutput_reports = { error = \"03 1\" }\n", "output_reports.error"},
      {"[[scanner]]\ntype = \"hid-pos\"\noutput_reports = { error = \"zz\" }\n", "output_reports.error"},
      {"[[scanner]]\ntype = \"hid-pos\"\noutput_reports = \"0301\"\n", "output_reports"},
      {"[[scanner]]\ntype = \"serial\"\npath = \"/x\"\noutput_reports = {}\n", "output_reports"},
      {"[feedback]\nleds = [\"a/b\"]\n", "feedback.leds"},
      {"[feedback]\ncommand_timeout_ms = 0\n", "feedback.command_timeout_ms"},
      {"[feedback]\nblink = true\n", "feedback.blink"},
  };
  for (const auto& [text, key] : cases) {
    auto r = load_text(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, "bad_config");
    EXPECT_NE(r.error().message.find(key), std::string::npos) << text << " -> " << r.error().message;
  }
}

TEST(ScannerConfig, FeedbackKeysAreRead) {
  auto r = load_text(R"([feedback]
leds = ["tally::scan", "input3::numlock"]
leds_dir = "/tmp/leds"
beeper = "/dev/input/event5"
command = ["/usr/bin/logger", "tally {pattern}"]
command_timeout_ms = 100
acked = false
)");
  ASSERT_TRUE(r) << r.error().message;
  const auto& f = r->config.feedback;
  EXPECT_EQ(f.leds, (std::vector<std::string>{"tally::scan", "input3::numlock"}));
  EXPECT_EQ(f.leds_dir, "/tmp/leds");
  EXPECT_EQ(f.beeper, "/dev/input/event5");
  EXPECT_EQ(f.command, (std::vector<std::string>{"/usr/bin/logger", "tally {pattern}"}));
  EXPECT_EQ(f.command_timeout_ms, 100);
  EXPECT_FALSE(f.acked);
}

std::vector<std::string> split(LineSplitter& s, const std::string& bytes) {
  std::vector<std::string> out;
  for (auto& item : s.feed(bytes)) out.push_back(item.refused ? "<refused>" : item.scan.symbology + "|" + item.scan.text);
  return out;
}

TEST(LineSplitter, SplitsAtTheSuffixAcrossReads) {
  LineSplitter cr("\r", 10, true);
  EXPECT_EQ(split(cr, "]E04006"), std::vector<std::string>{});
  EXPECT_EQ(split(cr, "381\r\nOP:al"), (std::vector<std::string>{"]E0|4006381"}));
  EXPECT_EQ(split(cr, "ice\r\r\n"), (std::vector<std::string>{"|OP:alice"}));
  // Over max_len: refused once, up to its suffix; then it goes on.
  EXPECT_EQ(split(cr, "0123456789ABCDEF"), (std::vector<std::string>{"<refused>"}));
  EXPECT_EQ(split(cr, "GHIJ\rok\r"), (std::vector<std::string>{"|ok"}));
  EXPECT_EQ(split(cr, "0123456789X\r"), (std::vector<std::string>{"<refused>"}));

  LineSplitter etx("\x03", 10, false);
  EXPECT_EQ(split(etx, "]C1AB\rC\x03"), (std::vector<std::string>{"|]C1AB\rC"}));
  LineSplitter crlf("\r\n", 10, true);
  EXPECT_EQ(split(crlf, "A\rB\r\n"), (std::vector<std::string>{"|A\rB"}));
}

// A typed reply as the engine gives it (one recorded movement with `seq`).
ui::ScanReply reply_of(ui::ScanReply::Kind kind, scanner::Feedback feedback, std::uint64_t seq = 0) {
  ui::ScanReply r;
  r.kind = kind;
  r.outcome.feedback = feedback;
  if (seq > 0) {
    scanner::Movement m;
    m.seq = seq;
    r.recorded.push_back(m);
  }
  return r;
}

TEST(Feedback, PatternForEngineReplies) {
  using K = ui::ScanReply::Kind;
  using F = scanner::Feedback;
  EXPECT_EQ(pattern_for(reply_of(K::accepted, F::good)), Pattern::good);
  EXPECT_EQ(pattern_for(reply_of(K::recorded, F::good, 3)), Pattern::recorded);
  EXPECT_EQ(pattern_for(reply_of(K::recorded, F::warning, 3)), Pattern::warning);
  EXPECT_EQ(pattern_for(reply_of(K::refused, F::error)), Pattern::error);
  EXPECT_EQ(pattern_for(ui::ScanReply::failure(make_error("disk_full", "full"))), Pattern::error);
  ui::ScanReply self_test = reply_of(K::self_test, F::good);
  self_test.self_test = scanner::SelfTestReport{true, true, {}, "OK"};
  EXPECT_EQ(pattern_for(self_test), Pattern::good);
  self_test.self_test->ok = false;
  EXPECT_EQ(pattern_for(self_test), Pattern::warning);
  ui::FrameReply frame;  // nothing found
  EXPECT_EQ(pattern_for(frame), std::nullopt);
  frame.scans.push_back({"]E0x", "]E0", reply_of(K::accepted, F::good)});
  frame.scans.push_back({"]E0y", "]E0", reply_of(K::recorded, F::good, 4)});
  EXPECT_EQ(pattern_for(frame), Pattern::recorded);
  frame.scans.push_back({"]E0z", "]E0", reply_of(K::refused, F::error)});
  EXPECT_EQ(pattern_for(frame), Pattern::error);
  EXPECT_EQ(pattern_for(ui::FrameReply::failure(make_error("not_an_image", "no"))), Pattern::error);
}

// The LED is driven on for a pattern and off after it; the command gets each
// pattern; acked waits until the ack covers the highest recorded seq.
TEST(Feedback, LedCommandAndAcked) {
  const auto dir = std::filesystem::temp_directory_path() / ("tally-feedback-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "led0");
  std::ofstream(dir / "led0" / "brightness") << "x\n";
  std::ofstream(dir / "led0" / "max_brightness") << "255\n";
  const auto out = dir / "patterns";
  FeedbackConfig config;
  config.leds_dir = dir;
  config.leds = {"led0"};
  config.command = {"/bin/sh", "-c", "echo {pattern} >> " + out.string()};
  boost::asio::io_context io;
  auto fb = Feedback::open(io, config);
  ASSERT_TRUE(fb) << fb.error().message;
  const auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(slurp(dir / "led0" / "brightness"), "0\n");  // off at start
  (*fb)->on_reply(reply_of(ui::ScanReply::Kind::recorded, scanner::Feedback::good, 3));
  EXPECT_EQ(slurp(dir / "led0" / "brightness"), "255\n");  // on while it plays
  (*fb)->on_ack(2);  // not yet everything recorded
  (*fb)->on_ack(3);
  (*fb)->on_ack(3);  // once
  const auto until = [&](const std::string& want) {
    for (int i = 0; i < 500 && slurp(out) != want; ++i) io.run_for(std::chrono::milliseconds(10));
    return slurp(out);
  };
  EXPECT_EQ(until("recorded\nacked\n"), "recorded\nacked\n");
  for (int i = 0; i < 100 && slurp(dir / "led0" / "brightness") != "0\n"; ++i) io.run_for(std::chrono::milliseconds(10));
  EXPECT_EQ(slurp(dir / "led0" / "brightness"), "0\n");
  EXPECT_EQ((*fb)->stats().commands, 2U);
  EXPECT_EQ((*fb)->stats().command_failures, 0U);
  std::filesystem::remove_all(dir);
}

// The evdev beeper: a FIFO stands in for /dev/input/by-path/…-event-spkr
// (no /dev/uinput or pcspkr here, and umockdev's evdev emulation replays
// reads, not writes). Feedback writes whole struct input_event records, as
// the kernel's evdev write() takes them: EV_SND/SND_TONE with the pitch in
// Hz (0 = silent), each followed by EV_SYN/SYN_REPORT. The FIFO gets
// exactly the bytes the device node would.
TEST(Feedback, BeeperGetsToneEventsForEachSegment) {
  const auto dir = std::filesystem::temp_directory_path() / ("tally-beeper-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto node = dir / "event-spkr";
  ASSERT_EQ(::mkfifo(node.c_str(), 0600), 0);
  const int reader = ::open(node.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // the "kernel" side
  ASSERT_GE(reader, 0);
  const auto read_events = [reader] {
    std::vector<input_event> out;
    input_event e{};
    while (::read(reader, &e, sizeof e) == static_cast<ssize_t>(sizeof e)) out.push_back(e);
    return out;
  };
  const auto tones = [](const std::vector<input_event>& events) {
    std::vector<int> hz;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i];
      if (i % 2 == 0) {
        EXPECT_EQ(e.type, EV_SND) << i;
        EXPECT_EQ(e.code, SND_TONE) << i;
        hz.push_back(e.value);
      } else {
        EXPECT_EQ(e.type, EV_SYN) << i;
        EXPECT_EQ(e.code, SYN_REPORT) << i;
        EXPECT_EQ(e.value, 0) << i;
      }
      EXPECT_EQ(e.time.tv_sec, 0) << "the kernel stamps the time";
      EXPECT_EQ(e.time.tv_usec, 0);
    }
    return hz;
  };
  FeedbackConfig config;
  config.beeper = node.string();
  boost::asio::io_context io;
  auto fb = Feedback::open(io, config);
  ASSERT_TRUE(fb) << fb.error().message;
  std::vector<Pattern> extra;
  (*fb)->add_output([&extra](Pattern p) { extra.push_back(p); });
  EXPECT_EQ(tones(read_events()), (std::vector<int>{0})) << "silent at start";

  (*fb)->play(Pattern::recorded);  // one 120 ms beep at 2000 Hz
  io.run();
  EXPECT_EQ(tones(read_events()), (std::vector<int>{2000, 0}));
  (*fb)->play(Pattern::error);  // three low beeps, the last long
  io.restart();
  io.run();
  EXPECT_EQ(tones(read_events()), (std::vector<int>{500, 0, 500, 0, 350, 0}));
  EXPECT_EQ(extra, (std::vector<Pattern>{Pattern::recorded, Pattern::error}));
  (*fb)->stop();
  EXPECT_EQ(tones(read_events()), (std::vector<int>{0}));
  (*fb)->play(Pattern::good);  // stopped: nothing more
  EXPECT_TRUE(read_events().empty());
  EXPECT_EQ(extra.size(), 2U);
  fb->reset();
  ::close(reader);
  std::filesystem::remove_all(dir);
}

TEST(Feedback, ABeeperThatCannotBeOpenedIsAConfigError) {
  FeedbackConfig config;
  config.beeper = "/nonexistent/event-spkr";
  boost::asio::io_context io;
  auto fb = Feedback::open(io, config);
  ASSERT_FALSE(fb);
  EXPECT_EQ(fb.error().code, "bad_config");
  EXPECT_NE(fb.error().message.find("feedback.beeper: cannot open /nonexistent/event-spkr"), std::string::npos);
}

}  // namespace
}  // namespace tally::device
