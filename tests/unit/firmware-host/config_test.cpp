#include "tally/device/config.hpp"
#include "tally/device/usb.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace tally::device {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tally-config-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& text) {
    const auto path = dir_ / "tallyd.toml";
    std::ofstream(path) << text;
    return path.string();
  }

  static Result<LoadResult> load(std::vector<std::string> args) { return load_config(args); }

  std::filesystem::path dir_;
};

TEST_F(ConfigTest, DefaultsAreLoopbackAndValid) {
  auto r = load({});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config.http_host, "127.0.0.1");
  EXPECT_EQ(r->config.http_port, 8080);
  EXPECT_EQ(r->config.device_id, "tally-dev");
  EXPECT_FALSE(r->config.stdin_scans);
  EXPECT_EQ(r->config.journal_path(), std::filesystem::path("tally-data") / "journal.db");
}

TEST_F(ConfigTest, FlagsSetEveryField) {
  auto r = load({"--data-dir", "/tmp/x", "--device-id", "hh-07", "--site", "berlin", "--http", "0.0.0.0:9000",
                 "--mqtt", "ssl://broker:8883", "--stdin", "--log-level", "debug"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config.data_dir, "/tmp/x");
  EXPECT_EQ(r->config.device_id, "hh-07");
  EXPECT_EQ(r->config.site, "berlin");
  EXPECT_EQ(r->config.http_host, "0.0.0.0");
  EXPECT_EQ(r->config.http_port, 9000);
  EXPECT_EQ(r->config.mqtt_uri, "ssl://broker:8883");
  EXPECT_TRUE(r->config.stdin_scans);
  EXPECT_EQ(r->config.log_level, "debug");
}

TEST_F(ConfigTest, FileIsReadAndFlagsOverrideIt) {
  const auto file = write(R"(
[device]
id = "dock-2"
site = "hamburg"
data_dir = "/var/lib/tally"
[http]
listen = "[::1]:8181"
[receiving]
location = "DOCK-7"
[engine]
queue_max = 32
)");
  auto r = load({"--config", file, "--site", "override"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config.device_id, "dock-2");
  EXPECT_EQ(r->config.site, "override");
  EXPECT_EQ(r->config.data_dir, "/var/lib/tally");
  EXPECT_EQ(r->config.http_host, "::1");
  EXPECT_EQ(r->config.http_port, 8181);
  EXPECT_EQ(r->config.receiving_location, "DOCK-7");
  EXPECT_EQ(r->config.queue_max, 32U);
}

TEST_F(ConfigTest, RefusesWithOneLineReasons) {
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"--device-id", "a/b"}, "device id"},
      {{"--device-id", "dev+#"}, "device id"},
      {{"--site", ""}, "site"},
      {{"--http", "localhost"}, "HOST:PORT"},
      {{"--http", "127.0.0.1:70000"}, "0..65535"},
      {{"--http", "127.0.0.1:80x"}, "0..65535"},
      {{"--log-level", "loud"}, "log level"},
      {{"--no-such-flag"}, "no-such-flag"},
      {{"--config", "/nonexistent/tallyd.toml"}, "cannot read config"},
  };
  for (const auto& c : cases) {
    auto r = load(c.args);
    ASSERT_FALSE(r) << c.args.front();
    EXPECT_EQ(r.error().code, "bad_config");
    EXPECT_NE(r.error().message.find(c.needle), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << "one line: " << r.error().message;
  }
}

TEST_F(ConfigTest, RefusesBadFiles) {
  for (const std::string text : {"[device]\nid = 7\n", "[devcie]\nid = \"x\"\n", "not toml at all [",
                                 "[engine]\nqueue_max = 0\n", "[http]\nlisten = \"nope\"\n"}) {
    auto r = load({"--config", write(text)});
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, "bad_config") << text;
  }
}

TEST_F(ConfigTest, HelpAndVersionExitNow) {
  auto help = load({"--help"});
  ASSERT_TRUE(help);
  EXPECT_TRUE(help->exit_now);
  EXPECT_NE(help->output.find("--stdin"), std::string::npos);
  auto version = load({"--version"});
  ASSERT_TRUE(version);
  EXPECT_TRUE(version->exit_now);
  EXPECT_NE(version->output.find(TALLY_VERSION), std::string::npos);
}

TEST_F(ConfigTest, MqttSectionHasDefaultsAndIsRead) {
  auto d = load({});
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->config.mqtt_batch_max, 500);
  EXPECT_EQ(d->config.mqtt_linger_ms, 20);
  EXPECT_EQ(d->config.mqtt_inflight_max, 8);
  EXPECT_EQ(d->config.mqtt_session_expiry_s, 7 * 24 * 3600);
  EXPECT_EQ(d->config.mqtt_backoff_min_ms, 250);
  EXPECT_EQ(d->config.mqtt_backoff_max_ms, 30000);

  const auto file = write(R"(
[mqtt]
uri = "tcp://broker:1884"
batch_max = 100
linger_ms = 5
inflight_max = 4
resend_timeout_ms = 2000
session_expiry_s = 3600
keepalive_s = 10
backoff_min_ms = 100
backoff_max_ms = 5000
)");
  auto r = load({"--config", file});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config.mqtt_uri, "tcp://broker:1884");
  EXPECT_EQ(r->config.mqtt_batch_max, 100);
  EXPECT_EQ(r->config.mqtt_linger_ms, 5);
  EXPECT_EQ(r->config.mqtt_inflight_max, 4);
  EXPECT_EQ(r->config.mqtt_resend_timeout_ms, 2000);
  EXPECT_EQ(r->config.mqtt_session_expiry_s, 3600);
  EXPECT_EQ(r->config.mqtt_keepalive_s, 10);
  EXPECT_EQ(r->config.mqtt_backoff_min_ms, 100);
  EXPECT_EQ(r->config.mqtt_backoff_max_ms, 5000);

  // --mqtt overrides the file; an empty URI turns sync off and is valid.
  auto off = load({"--config", file, "--mqtt", ""});
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(off->config.mqtt_uri, "");
}

TEST_F(ConfigTest, MqttSectionRefusesBadValues) {
  for (const std::string text :
       {"[mqtt]\nbatch_max = 0\n", "[mqtt]\ninflight_max = 0\n", "[mqtt]\nresend_timeout_ms = 1\n",
        "[mqtt]\nbackoff_min_ms = 500\nbackoff_max_ms = 100\n", "[mqtt]\nlinger_ms = \"20\"\n",
        "[mqtt]\nuri = \"http://x\"\n", "[mqtt]\nkeepalive_s = 1\n"}) {
    auto r = load({"--config", write(text)});
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, "bad_config") << text;
    EXPECT_NE(r.error().message.find("mqtt"), std::string::npos) << r.error().message;
  }
}

TEST_F(ConfigTest, MqttTlsFilesAreReadAndChecked) {
  const auto ca = (dir_ / "ca.crt").string(), cert = (dir_ / "hh-1.crt").string(), key = (dir_ / "hh-1.key").string();
  for (const auto& f : {ca, cert, key}) std::ofstream(f) << "-----BEGIN PEM-----\n";
  const auto tls = [&](const std::string& uri, const std::string& c, const std::string& k) {
    return "[mqtt]\nuri = \"" + uri + "\"\nca_file = \"" + ca + "\"\ncert_file = \"" + c + "\"\nkey_file = \"" + k +
           "\"\n";
  };
  auto d = load({});
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->config.mqtt_ca_file, "");
  EXPECT_EQ(d->config.mqtt_cert_file, "");
  EXPECT_EQ(d->config.mqtt_key_file, "");

  auto r = load({"--config", write(tls("ssl://broker:8883", cert, key))});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config.mqtt_ca_file, ca);
  EXPECT_EQ(r->config.mqtt_cert_file, cert);
  EXPECT_EQ(r->config.mqtt_key_file, key);
  // Sync off: the TLS files do not matter.
  EXPECT_TRUE(load({"--config", write(tls("ssl://broker:8883", cert, key)), "--mqtt", ""}));

  const auto refused = [&](const std::string& text, const std::string& words) {
    auto bad = load({"--config", write(text)});
    ASSERT_FALSE(bad) << text;
    EXPECT_EQ(bad.error().code, "bad_config");
    EXPECT_NE(bad.error().message.find(words), std::string::npos) << bad.error().message;
    EXPECT_EQ(bad.error().message.find('\n'), std::string::npos) << "one line: " << bad.error().message;
  };
  refused(tls("tcp://broker:1883", cert, key), "need an ssl:// or mqtts:// uri");
  refused(tls("ssl://broker:8883", (dir_ / "missing.crt").string(), key),
          "mqtt.cert_file '" + (dir_ / "missing.crt").string() + "' does not exist");
  refused(tls("ssl://broker:8883", cert, dir_.string()), "mqtt.key_file '" + dir_.string() + "' does not exist or is not a file");
  refused(tls("ssl://broker:8883", cert, ""), "mqtt.cert_file and mqtt.key_file must be given together");
  refused("[mqtt]\nuri = \"ssl://b:8883\"\nca_file = 5\n", "mqtt.ca_file has the wrong type");
  std::ofstream(dir_ / "empty.key").flush();
  refused(tls("ssl://broker:8883", cert, (dir_ / "empty.key").string()), "cannot be read or is empty");
  if (::geteuid() != 0) {  // root reads anything
    std::filesystem::permissions(key, std::filesystem::perms::none);
    refused(tls("ssl://broker:8883", cert, key), "mqtt.key_file '" + key + "' cannot be read");
  }
}

}  // namespace
}  // namespace tally::device

namespace tally::device {
namespace {

class SessionConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tally-session-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<LoadResult> load_file(const std::string& text) {
    const auto path = dir_ / "tallyd.toml";
    std::ofstream(path) << text;
    return load_config({"--config", path.string()});
  }

  // Each file is refused as bad_config with one line holding `want`.
  void expect_refused(const std::vector<std::pair<std::string, std::string>>& cases) {
    for (const auto& [text, want] : cases) {
      SCOPED_TRACE(text);
      auto r = load_file(text);
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, "bad_config");
      EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
      EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
  }

  std::filesystem::path dir_;
};

TEST_F(SessionConfigTest, DefaultsLeaveTheSessionAsBuilt) {
  auto r = load_config({});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config.session_idle_timeout_s, 0);
  EXPECT_FALSE(r->config.session_require_pin);
  EXPECT_FALSE(r->config.session_reason_codes);
  EXPECT_TRUE(r->config.session_pins.empty());
}

TEST_F(SessionConfigTest, SectionIsRead) {
  auto r = load_file(
      "[session]\nidle_timeout_s = 300\nrequire_pin = true\nreason_codes = [\"damaged\", \"WET\", \"wet\"]\n"
      "[session.pins]\nalice = \"1234\"\nbob = \"00998877\"\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config.session_idle_timeout_s, 300);
  EXPECT_TRUE(r->config.session_require_pin);
  ASSERT_TRUE(r->config.session_reason_codes);
  EXPECT_EQ(*r->config.session_reason_codes, (std::vector<std::string>{"DAMAGED", "WET"}));
  EXPECT_EQ(r->config.session_pins.at("bob"), "00998877");
  // An empty list means any code.
  auto any = load_file("[session]\nreason_codes = []\n");
  ASSERT_TRUE(any) << any.error().message;
  ASSERT_TRUE(any->config.session_reason_codes);
  EXPECT_TRUE(any->config.session_reason_codes->empty());
}

TEST_F(SessionConfigTest, RefusesWithOneLineReasonsThatNeverShowAPin) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[session]\nidle_timeout_s = -1\n", "session.idle_timeout_s must be 0..86400"},
      {"[session]\nidle_timeout_s = 86401\n", "session.idle_timeout_s must be 0..86400"},
      {"[session]\nidle_timeout_s = \"5\"\n", "session.idle_timeout_s has the wrong type"},
      {"[session]\nrequire_pin = true\n", "session.require_pin needs at least one operator"},
      {"[session]\nreason_codes = \"WET\"\n", "session.reason_codes must be an array"},
      {"[session]\nreason_codes = [\"a b\"]\n", "session.reason_codes entries"},
      {"[session]\nidle_timeout = 5\n", "unknown config key session.idle_timeout"},
      {"[session.pins]\nalice = \"12x456\"\n", "session.pins.alice must be a string of 4-12 digits"},
      {"[session.pins]\nalice = 123456\n", "session.pins.alice must be a string of 4-12 digits"},
      {"[session.pins]\nalice = \"123\"\n", "session.pins.alice must be a string of 4-12 digits"},
      {"[session]\npins = \"1234\"\n", "session.pins must be a table"},
  };
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE(text);
    auto r = load_file(text);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "bad_config");
    EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    EXPECT_EQ(r.error().message.find("12x456"), std::string::npos);
    EXPECT_EQ(r.error().message.find("123456"), std::string::npos);
  }
}

}  // namespace
}  // namespace tally::device

namespace tally::device {
namespace {

using DecodeConfigTest = SessionConfigTest;

TEST_F(DecodeConfigTest, DefaultsAreTheScannerDefaults) {
  auto r = load_config({});
  ASSERT_TRUE(r) << r.error().message;
  const scanner::DecodeOptions want;
  const scanner::DecodeOptions& got = r->config.decode;
  EXPECT_EQ(got.formats, want.formats);
  EXPECT_EQ(got.try_harder_fallback, want.try_harder_fallback);
  EXPECT_EQ(got.exhaustive, want.exhaustive);
  EXPECT_EQ(got.max_symbols, want.max_symbols);
  EXPECT_EQ(got.downscale_threshold, want.downscale_threshold);
  EXPECT_EQ(got.upscale_fallback_max_pixels, want.upscale_fallback_max_pixels);
  EXPECT_EQ(got.upscale_matrix_max_pixels, want.upscale_matrix_max_pixels);
}

TEST_F(DecodeConfigTest, SectionIsRead) {
  auto r = load_file(
      "[decode]\nformats = [\"EAN-13\", \"code128\", \"qrcode\", \"DataMatrix\", \"ITF\"]\nexhaustive = true\n"
      "max_symbols = 4\ndownscale_threshold = 0\nupscale_fallback_max_pixels = 0\n"
      "upscale_matrix_max_pixels = 0\n");
  ASSERT_TRUE(r) << r.error().message;
  const auto& d = r->config.decode;
  EXPECT_EQ(d.formats, scanner::Symbology::ean13 | scanner::Symbology::code128 | scanner::Symbology::qrcode |
                           scanner::Symbology::datamatrix | scanner::Symbology::itf);
  EXPECT_TRUE(d.exhaustive);
  EXPECT_TRUE(d.try_harder_fallback);
  EXPECT_EQ(d.max_symbols, 4);
  EXPECT_EQ(d.downscale_threshold, 0);
  EXPECT_EQ(d.upscale_fallback_max_pixels, 0);
  EXPECT_EQ(d.upscale_matrix_max_pixels, 0);
  auto fast = load_file("[decode]\ntry_harder_fallback = false\n");
  ASSERT_TRUE(fast) << fast.error().message;
  EXPECT_FALSE(fast->config.decode.try_harder_fallback);
}

TEST_F(DecodeConfigTest, RefusesWithOneLineReasons) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[decode]\nformats = [\"EAN-13\", \"GS1-128\"]\n", "decode.formats: unknown barcode format 'GS1-128'"},
      {"[decode]\nformats = [\"\"]\n", "decode.formats: unknown barcode format ''"},
      {"[decode]\nformats = []\n", "decode.formats must be a non-empty array"},
      {"[decode]\nformats = \"EAN-13\"\n", "decode.formats must be a non-empty array"},
      {"[decode]\nformats = [13]\n", "decode.formats must be an array of strings"},
      {"[decode]\nmax_symbols = 0\n", "decode.max_symbols must be 1..255, got 0"},
      {"[decode]\nmax_symbols = 256\n", "decode.max_symbols must be 1..255, got 256"},
      {"[decode]\ndownscale_threshold = -1\n", "decode.downscale_threshold must be 0..8192"},
      {"[decode]\nupscale_fallback_max_pixels = 16777217\n", "decode.upscale_fallback_max_pixels must be 0..16777216"},
      {"[decode]\nupscale_matrix_max_pixels = -1\n", "decode.upscale_matrix_max_pixels must be 0..16777216"},
      {"[decode]\nexhaustive = \"yes\"\n", "decode.exhaustive has the wrong type"},
      {"[decode]\nexhaustive = true\ntry_harder_fallback = false\n", "decode.exhaustive needs"},
      {"[decode]\nformat = [\"EAN-13\"]\n", "unknown config key decode.format"},
      {"decode = 1\n", "config section [decode] must be a table"},
  };
  expect_refused(cases);
}

}  // namespace
}  // namespace tally::device

namespace tally::device {
namespace {

using LabelsConfigTest = SessionConfigTest;

TEST_F(LabelsConfigTest, SectionIsRead) {
  auto r = load_file(
      "[labels]\nbin_pattern = '^[0-9]{2}\\.[0-9]{3}$'\ngs_substitutes = [\"|\"]\nunknown_ai = \"error\"\n"
      "[labels.documents]\npurchase_order = [\"BE:\", \"PO:\"]\nother = [\"LPN:\"]\n");
  ASSERT_TRUE(r) << r.error().message;
  const scanner::LabelOptions& l = r->config.labels;
  EXPECT_EQ(l.bin_regex, "^[0-9]{2}\\.[0-9]{3}$");
  EXPECT_EQ(l.gs1.gs_substitutes, (std::vector<std::string>{"|"}));
  EXPECT_EQ(l.gs1.unknown_ai, scanner::UnknownAiPolicy::error);
  EXPECT_EQ(l.documents.purchase_order, (std::vector<std::string>{"BE:", "PO:"}));
  EXPECT_EQ(l.documents.asn, (std::vector<std::string>{"ASN:"}));  // not given: the default
  EXPECT_EQ(l.documents.other, (std::vector<std::string>{"LPN:"}));
  auto bin = scanner::classify("12.345", l);
  ASSERT_TRUE(bin) << bin.error().message;
  EXPECT_EQ(bin->kind, scanner::LabelKind::location);
  auto defaults = load_config({});
  ASSERT_TRUE(defaults);
  EXPECT_TRUE(defaults->config.labels.bin_regex.empty());
  EXPECT_EQ(defaults->config.labels.gs1.gs_substitutes, scanner::Gs1Options{}.gs_substitutes);
}

TEST_F(LabelsConfigTest, RefusesWithOneLineReasons) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[labels]\nbin_pattern = '([0-9]'\n", "labels: bin_regex '([0-9]'"},
      {"[labels]\nbin_pattern = 7\n", "labels.bin_pattern has the wrong type"},
      {"[labels]\ngs_substitutes = [\"\"]\n", "labels: gs_substitutes: '' is empty"},
      {"[labels]\ngs_substitutes = \"|\"\n", "labels.gs_substitutes must be an array of strings"},
      {"[labels]\nunknown_ai = \"ignore\"\n", "labels.unknown_ai must be \"warn\" or \"error\""},
      {"[labels]\nbin_regex = 'x'\n", "unknown config key labels.bin_regex"},
      {"[labels.documents]\npo = [\"PO:\"]\n", "unknown config key labels.documents.po"},
      {"[labels.documents]\nasn = [\" \"]\n", "labels: document prefix ' ' is empty"},
      {"[labels.documents]\norder = [1]\n", "labels.documents.order must be an array of strings"},
      {"labels = 1\n", "config section [labels] must be a table"},
  };
  expect_refused(cases);
}


// [[scanner]] entries of type "hid-pos" / "keyboard" (USB scanners).
using UsbConfigTest = SessionConfigTest;

TEST_F(UsbConfigTest, ReadsUsbScanners) {
  auto r = load_file(R"([[scanner]]
type = "hid-pos"
name = "dock"
vid = 0x0c2e
pid = 0x0b61

[[scanner]]
type = "keyboard"
interface_class = 3
interface_subclass = 1
interface_protocol = 1
detach_kernel_driver = false
layout = "de"

[[scanner]]
type = "serial"
path = "/dev/ttyACM0"
)");
  ASSERT_TRUE(r) << r.error().message;
  const auto& s = r->config.usb_scanners;
  ASSERT_EQ(s.size(), 2U);  // the serial entry is not a USB scanner
  EXPECT_EQ(s[0].name, "dock");
  EXPECT_EQ(s[0].kind, UsbScannerKind::hid_pos);
  EXPECT_EQ(s[0].vid, 0x0c2e);
  EXPECT_EQ(s[0].pid, 0x0b61);
  EXPECT_TRUE(s[0].detach_kernel_driver);
  EXPECT_FALSE(s[0].interface_class.has_value());
  EXPECT_EQ(s[1].name, "keyboard-1");
  EXPECT_EQ(s[1].kind, UsbScannerKind::keyboard);
  EXPECT_EQ(s[1].interface_class, 3);
  EXPECT_EQ(s[1].interface_protocol, 1);
  EXPECT_FALSE(s[1].detach_kernel_driver);
  EXPECT_EQ(s[1].layout, "de");
  auto none = load_config({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->config.usb_scanners.empty());
}

TEST_F(UsbConfigTest, RefusesBadScannersWithOneLineReasons) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[[scanner]]\nvid = 1\n", "scanner[0].type is required"},
      {"[[scanner]]\ntype = \"hid\"\n", "scanner[0].type 'hid' must be"},
      {"[[scanner]]\ntype = \"hid-pos\"\nvid = 0x10000\n", "scanner[0].vid must be an integer 0..65535"},
      {"[[scanner]]\ntype = \"hid-pos\"\nvid = \"0c2e\"\n", "scanner[0].vid must be an integer"},
      {"[[scanner]]\ntype = \"hid-pos\"\npid = 1\n", "scanner[0].pid needs scanner[0].vid"},
      {"[[scanner]]\ntype = \"hid-pos\"\ninterface_class = 256\n", "scanner[0].interface_class must be"},
      {"[[scanner]]\ntype = \"hid-pos\"\nlayout = \"us\"\n", "unknown config key scanner[0].layout"},
      {"[[scanner]]\ntype = \"keyboard\"\nbaud = 9600\n", "unknown config key scanner[0].baud"},
      {"[[scanner]]\ntype = \"keyboard\"\ndetach_kernel_driver = 1\n", "detach_kernel_driver must be true or false"},
      {"scanner = 1\n", "config key scanner must be an array of tables"},
  };
  expect_refused(cases);
}

TEST(ReportDescriptor, FindsUsagePagesAndRefusesTruncatedInput) {
  const std::vector<std::uint8_t> pos = {0x05, 0x8C, 0x09, 0x02, 0xA1, 0x01, 0xC0};
  EXPECT_TRUE(report_descriptor_uses_page(pos, 0x8C));
  EXPECT_FALSE(report_descriptor_uses_page(pos, 0x01));
  const std::vector<std::uint8_t> two_byte = {0x06, 0x8C, 0x00, 0x09, 0x02};  // Usage Page, 2-byte data
  EXPECT_TRUE(report_descriptor_uses_page(two_byte, 0x8C));
  const std::vector<std::uint8_t> keyboard = {0x05, 0x01, 0x09, 0x06, 0xA1, 0x01, 0x05, 0x07, 0xC0};
  EXPECT_FALSE(report_descriptor_uses_page(keyboard, 0x8C));
  EXPECT_TRUE(report_descriptor_uses_page(keyboard, 0x07));
  const std::vector<std::uint8_t> truncated = {0x09, 0x02, 0x06, 0x8C};  // the page's data is cut off
  EXPECT_FALSE(report_descriptor_uses_page(truncated, 0x8C));
  const std::vector<std::uint8_t> long_item = {0xFE, 0x02, 0x10, 0x05, 0x8C, 0x05, 0x01};  // 0x05 0x8C is data
  EXPECT_FALSE(report_descriptor_uses_page(long_item, 0x8C));
  EXPECT_TRUE(report_descriptor_uses_page(long_item, 0x01));
  EXPECT_FALSE(report_descriptor_uses_page({}, 0x8C));
}

}  // namespace
}  // namespace tally::device
