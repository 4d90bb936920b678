// tally-ledger configuration (see tally/ledger/app.hpp). Sections of the TOML
// file: [ledger] data_dir queue_max max_message_bytes group_max, [http] listen,
// [mqtt] uri client_id ca_file cert_file key_file, [downlink] chunk_bytes catalog site, [log] level,
// [kpi] sample_interval_s history_retention_s and name = [stressed, critical],
// [allowances] (tally/ledger/allowances.hpp).
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>
#include <sstream>

#include <toml++/toml.h>

#include "tally/ledger/app.hpp"
#include "tally/mqtt/client.hpp"
#include "tally/service/command_line.hpp"
#include "tally/service/config_file.hpp"

namespace tally::ledger {
namespace {

// The loader pieces both daemons share (bad_config errors, typed keys, ids,
// HOST:PORT).
using service::config::bad;
using service::config::is_identifier;
using service::config::parse_listen;
using service::config::read_key;

// [kpi] keys that are not bands, and the most samples the history may keep.
constexpr std::string_view kKpiInterval = "sample_interval_s";
constexpr std::string_view kKpiRetention = "history_retention_s";
constexpr std::int64_t kKpiSamplesMax = 100'000;

Result<void> load_file(const std::filesystem::path& path, AppConfig& c) {
  auto parsed = service::config::parse_file(path);
  if (!parsed) return parsed.error();
  const toml::table& t = *parsed;
  if (auto r = service::config::known_sections(t, {"ledger", "http", "mqtt", "downlink", "log", "kpi", "allowances"},
                                               path);
      !r) {
    return r;
  }
  std::string data_dir = c.data_dir.string();
  std::string catalog = c.catalog_file.string();
  std::string listen;
  auto queue_max = static_cast<std::int64_t>(c.queue_max);
  auto max_bytes = static_cast<std::int64_t>(c.max_message_bytes);
  auto chunk = static_cast<std::int64_t>(c.chunk_bytes);
  auto group = static_cast<std::int64_t>(c.group_max);
  AllowancePolicy& al = c.allowances;
  std::int64_t ttl_s = al.ttl_ms / 1000, active_s = al.active_ms / 1000, margin_s = al.clock_margin_ms / 1000;
  auto per_device = static_cast<std::int64_t>(al.max_per_device);
  for (const auto& r : {read_key(t, "ledger", "data_dir", data_dir), read_key(t, "ledger", "postgres", c.postgres),
                 read_key(t, "ledger", "queue_max", queue_max),
                 read_key(t, "ledger", "max_message_bytes", max_bytes), read_key(t, "ledger", "group_max", group), read_key(t, "http", "listen", listen),
                 read_key(t, "mqtt", "uri", c.mqtt_uri), read_key(t, "mqtt", "client_id", c.client_id),
                 read_key(t, "mqtt", "ca_file", c.mqtt_ca_file), read_key(t, "mqtt", "cert_file", c.mqtt_cert_file),
                 read_key(t, "mqtt", "key_file", c.mqtt_key_file),
                 read_key(t, "downlink", "chunk_bytes", chunk), read_key(t, "downlink", "catalog", catalog),
                 read_key(t, "downlink", "site", c.site), read_key(t, "log", "level", c.log_level),
                 read_key(t, "allowances", "enabled", al.enabled), read_key(t, "allowances", "ttl_s", ttl_s),
                 read_key(t, "allowances", "grant_to", al.grant_to), read_key(t, "allowances", "active_s", active_s),
                 read_key(t, "allowances", "refresh_ms", al.refresh_ms),
                 read_key(t, "allowances", "max_per_device", per_device),
                 read_key(t, "allowances", "clock_margin_s", margin_s)}) {
    if (!r) return r.error();
  }
  if (ttl_s < 1 || ttl_s > 7 * 24 * 3600 || active_s < 1 || active_s > 7 * 24 * 3600 || margin_s < 0 ||
      margin_s > 24 * 3600 || per_device < 1 || per_device > 100000) {
    return bad("allowances: ttl_s and active_s must be 1..604800, clock_margin_s 0..86400, max_per_device 1..100000");
  }
  al.ttl_ms = ttl_s * 1000;
  al.active_ms = active_s * 1000;
  al.clock_margin_ms = margin_s * 1000;
  al.max_per_device = static_cast<std::size_t>(per_device);
  if (auto r = check_allowance_policy(al); !r) return bad(r.error().message);
  auto sample_interval = static_cast<std::int64_t>(c.kpi_sample_interval_s);
  auto retention = static_cast<std::int64_t>(c.kpi_history_retention_s);
  if (auto r = read_key(t, "kpi", kKpiInterval, sample_interval); !r) return r.error();
  if (auto r = read_key(t, "kpi", kKpiRetention, retention); !r) return r.error();
  if (sample_interval < 0 || sample_interval > 86400) return bad("kpi.sample_interval_s must be 0..86400");
  if (retention < 1 || retention > 366 * 86400) return bad("kpi.history_retention_s must be 1..31622400");
  if (sample_interval > 0 && (retention < sample_interval || retention / sample_interval > kKpiSamplesMax)) {
    return bad("kpi.history_retention_s must cover 1.." + std::to_string(kKpiSamplesMax) +
               " samples of kpi.sample_interval_s");
  }
  c.kpi_sample_interval_s = static_cast<std::uint64_t>(sample_interval);
  c.kpi_history_retention_s = static_cast<std::uint64_t>(retention);
  if (const auto* kpi = t["kpi"].as_table()) {
    for (const auto& [name, node] : *kpi) {
      if (name.str() == kKpiInterval || name.str() == kKpiRetention) continue;
      const auto* pair = node.as_array();
      const auto number = [&](std::size_t i) -> std::optional<double> {
        if (pair == nullptr || pair->size() != 2) return std::nullopt;
        if (auto v = (*pair)[i].value<double>()) return *v;
        return std::nullopt;
      };
      const auto stressed = number(0);
      const auto critical = number(1);
      if (!stressed || !critical) return bad("kpi." + std::string(name.str()) + " must be [stressed, critical]");
      if (auto r = set_kpi_band(c.kpi_bands, std::string(name.str()), *stressed, *critical); !r) {
        return bad(r.error().message);
      }
    }
  }
  if (queue_max < 1 || queue_max > 1'000'000) return bad("ledger.queue_max must be 1..1000000");
  if (max_bytes < 1024 || max_bytes > 256 * 1024 * 1024) return bad("ledger.max_message_bytes must be 1024..268435456");
  if (group < 1 || group > 1024) return bad("ledger.group_max must be 1..1024");
  c.group_max = static_cast<std::size_t>(group);
  if (chunk < 256 || chunk > 16 * 1024 * 1024) return bad("downlink.chunk_bytes must be 256..16777216");
  c.queue_max = static_cast<std::size_t>(queue_max);
  c.max_message_bytes = static_cast<std::size_t>(max_bytes);
  c.chunk_bytes = static_cast<std::size_t>(chunk);
  c.data_dir = data_dir;
  c.catalog_file = catalog;
  if (!listen.empty()) {
    if (auto r = parse_listen(listen, c.http_host, c.http_port); !r) return r.error();
  }
  return {};
}

Result<void> validate(const AppConfig& c) {
  if (c.data_dir.empty()) return bad("data dir must not be empty");
  if (c.http_host.empty()) return bad("http host must not be empty");
  if (!is_identifier(c.client_id)) return bad("client id '" + c.client_id + "' must be 1-64 of A-Z a-z 0-9 _ . -");
  if (!is_identifier(c.site)) return bad("site '" + c.site + "' must be 1-64 characters of A-Z a-z 0-9 _ . -");
  if (!c.mqtt_uri.empty() && c.mqtt_uri.rfind("tcp://", 0) != 0 && c.mqtt_uri.rfind("ssl://", 0) != 0 &&
      c.mqtt_uri.rfind("mqtt://", 0) != 0 && c.mqtt_uri.rfind("mqtts://", 0) != 0) {
    return bad("mqtt uri '" + c.mqtt_uri + "' must start with tcp://, ssl://, mqtt:// or mqtts://");
  }
  if (auto r = mqtt::check_tls_files(c.mqtt_uri, {c.mqtt_ca_file, c.mqtt_cert_file, c.mqtt_key_file}); !r) {
    return r.error();
  }
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return bad("log level '" + c.log_level + "' must be one of trace debug info warn error off");
  }
  return {};
}

}  // namespace

Result<AppLoad> load_app_config(const std::vector<std::string>& args) {
  AppLoad out;
  service::CommandLine cl{"tally-ledger", "tally-ledger: the Tally reference central ledger",
                          "folder of the ledger database (ledger.db)", "MQTT broker URI (empty: no MQTT)"};
  std::string client_id, catalog, site, postgres;
  std::size_t max_bytes = 0;
  cl.app().add_option("--postgres", postgres, "PostgreSQL conninfo: use PostgreSQL instead of data-dir/ledger.db");
  cl.app().add_option("--client-id", client_id, "MQTT client id, unique per ledger instance");
  cl.app().add_option("--catalog", catalog, "catalog JSON file to load and publish for --site at start");
  cl.app().add_option("--site", site, "site of --catalog");
  cl.app().add_option("--max-message-bytes", max_bytes, "larger MQTT messages become dead letters");
  cl.app().add_flag("--check-invariants", out.config.check_invariants,
                    "check that balances equal the movements and every item sums to zero, print violations, exit 0/1");
  if (auto r = cl.parse(args, out); !r) return r.error();
  if (out.exit_now) return out;  // --help, --version

  AppConfig& c = out.config;
  const bool check = c.check_invariants;
  if (auto r = cl.apply(c, load_file); !r) return r.error();
  c.check_invariants = check;
  if (cl.given("--postgres")) c.postgres = postgres;
  if (cl.given("--client-id")) c.client_id = client_id;
  if (cl.given("--catalog")) c.catalog_file = catalog;
  if (cl.given("--site")) c.site = site;
  if (cl.given("--max-message-bytes")) {
    if (max_bytes < 1024) return bad("--max-message-bytes must be at least 1024");
    c.max_message_bytes = max_bytes;
  }
  if (auto r = validate(c); !r) return r.error();
  return out;
}

}  // namespace tally::ledger
