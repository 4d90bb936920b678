// The command line both daemons share (tallyd: firmware-host/src/config.cpp,
// tally-ledger: sync/src/ledger/config.cpp): --config, --data-dir, --http,
// --mqtt, --log-level, --help and --version. Each daemon adds its own
// options to app(); the TOML file named by --config is read first and every
// flag given (even as "") overrides it. A bad flag is a `bad_config` error.
//
//   service::CommandLine cl{"tallyd", "tallyd: the …", "folder of the journal", "MQTT broker URI"};
//   cl.app().add_flag("--stdin", …);
//   if (auto r = cl.parse(args, out); !r || out.exit_now) return …;
//   if (auto r = cl.apply(out.config, load_file); !r) return r.error();
//
// What the daemons do with the loaded result: startup.hpp.
// Header-only, like config_file.hpp: the loaders link CLI11 and tally::toml.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tally/service/config_file.hpp"

namespace tally::service {

class CommandLine {
 public:
  CommandLine(const std::string& program, const std::string& description, const std::string& data_dir_help,
              const std::string& mqtt_help)
      : app_(description, program), version_(program + " " + TALLY_VERSION) {
    app_.add_option("--config", config_file_, "TOML config file (flags override it)");
    app_.add_option("--data-dir", data_dir_, data_dir_help);
    app_.add_option("--http", http_, "HTTP listen address HOST:PORT (port 0: ephemeral)");
    app_.add_option("--mqtt", mqtt_, mqtt_help);
    app_.add_option("--log-level", log_level_, "trace, debug, info, warn, error or off");
    app_.set_version_flag("--version", version_);
  }

  CLI::App& app() { return app_; }
  bool given(const char* flag) const { return app_.count(flag) > 0; }

  // Parses argv without argv[0]. --help and --version set out.exit_now and
  // out.output (the text to print) and are ok.
  template <typename Load>
  Result<void> parse(const std::vector<std::string>& args, Load& out) {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them reversed
    try {
      app_.parse(reversed);
    } catch (const CLI::CallForHelp&) {
      out.exit_now = true;
      out.output = app_.help();
    } catch (const CLI::CallForVersion&) {
      out.exit_now = true;
      out.output = version_ + "\n";
    } catch (const CLI::ParseError& e) {
      return config::bad(e.what());
    }
    return {};
  }

  // Reads --config into `c` with load_file(path, c), then lets the common
  // flags given override it (c.data_dir, c.http_host/http_port, c.mqtt_uri,
  // c.log_level; c.config_file names the file).
  template <typename Config, typename LoadFile>
  Result<void> apply(Config& c, LoadFile&& load_file) const {
    if (!config_file_.empty()) {
      c.config_file = config_file_;
      if (auto r = load_file(c.config_file, c); !r) return r;
    }
    if (given("--data-dir")) c.data_dir = data_dir_;
    if (given("--mqtt")) c.mqtt_uri = mqtt_;
    if (given("--log-level")) c.log_level = log_level_;
    if (given("--http")) return config::parse_listen(http_, c.http_host, c.http_port);
    return {};
  }

 private:
  CLI::App app_;
  std::string version_;
  std::string config_file_, data_dir_, http_, mqtt_, log_level_;
};

}  // namespace tally::service
