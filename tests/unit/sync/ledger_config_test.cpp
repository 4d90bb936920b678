// tally-ledger configuration: --postgres, the [kpi] bands, [allowances], and
// the refusals it shares with tallyd (tally/service/config_file.hpp).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tally/ledger/app.hpp"
#include "temp_dir.hpp"

namespace tally::ledger {
namespace {

TEST(LedgerConfig, PostgresFlagAndKpiBands) {
  test::TempDir dir{"tally-ledger-config"};
  const auto file = dir.path() / "ledger.toml";
  {
    std::ofstream out(file);
    out << "[ledger]\npostgres = \"dbname=from_file\"\n[kpi]\nsync_lag_s = [10, 20]\npick_accuracy = [0.9, 0.8]\n";
  }
  auto c = load_app_config({"--config", file.string()});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->config.postgres, "dbname=from_file");
  EXPECT_DOUBLE_EQ(c->config.kpi_bands.at("sync_lag_s").stressed, 10);
  EXPECT_DOUBLE_EQ(c->config.kpi_bands.at("pick_accuracy").critical, 0.8);
  EXPECT_DOUBLE_EQ(c->config.kpi_bands.at("damage_rate").stressed, 0.005);  // default kept

  auto flag = load_app_config({"--config", file.string(), "--postgres", "dbname=flag"});
  ASSERT_TRUE(flag);
  EXPECT_EQ(flag->config.postgres, "dbname=flag");
  EXPECT_TRUE(load_app_config({})->config.postgres.empty());

  for (const std::string bad : {"[kpi]\nnope = [1, 2]\n", "[kpi]\nsync_lag_s = [20, 10]\n", "[kpi]\nsync_lag_s = 5\n",
                                "[kpi]\nsync_lag_s = [1, \"x\"]\n"}) {
    std::ofstream(file) << bad;
    auto r = load_app_config({"--config", file.string()});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "bad_config") << bad;
  }
}

TEST(LedgerConfig, AllowancesSection) {
  test::TempDir dir{"tally-ledger-config"};
  const auto file = dir.path() / "ledger.toml";
  EXPECT_FALSE(load_app_config({})->config.allowances.enabled);  // off by default
  std::ofstream(file) << "[allowances]\nenabled = true\nttl_s = 60\ngrant_to = \"active\"\nactive_s = 30\n"
                         "refresh_ms = 500\nmax_per_device = 7\nclock_margin_s = 0\n";
  auto c = load_app_config({"--config", file.string()});
  ASSERT_TRUE(c) << c.error().message;
  const AllowancePolicy& p = c->config.allowances;
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(p.ttl_ms, 60'000);
  EXPECT_EQ(p.grant_to, "active");
  EXPECT_EQ(p.active_ms, 30'000);
  EXPECT_EQ(p.refresh_ms, 500);
  EXPECT_EQ(p.max_per_device, 7U);
  EXPECT_EQ(p.clock_margin_ms, 0);
  for (const std::string bad : {"[allowances]\ngrant_to = \"all\"\n", "[allowances]\nttl_s = 0\n",
                                "[allowances]\nrefresh_ms = 10\n", "[allowances]\nenabled = \"yes\"\n",
                                "[allowances]\nmax_per_device = 0\n"}) {
    std::ofstream(file) << bad;
    auto r = load_app_config({"--config", file.string()});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "bad_config") << bad;
  }
}

TEST(LedgerConfig, BadFilesAreRefusedWithTheReason) {
  test::TempDir dir{"tally-ledger-config"};
  const auto file = dir.path() / "ledger.toml";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[ledger\n", "cannot read config " + file.string()},
      {"[ledgr]\ndata_dir = \"/x\"\n", "unknown config section [ledgr] in " + file.string()},
      {"[ledger]\nqueue_max = \"big\"\n", "config key ledger.queue_max has the wrong type"},
      {"[http]\nlisten = \"127.0.0.1\"\n", "expects HOST:PORT"},
      {"[http]\nlisten = \"127.0.0.1:70000\"\n", "port must be 0..65535"},
  };
  for (const auto& [text, want] : cases) {
    std::ofstream(file) << text;
    auto r = load_app_config({"--config", file.string()});
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, "bad_config") << text;
    EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
  }
  std::ofstream(file) << "[http]\nlisten = \"[::1]:8081\"\n";
  auto v6 = load_app_config({"--config", file.string()});
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->config.http_host, "::1");
  EXPECT_EQ(v6->config.http_port, 8081);
}

}  // namespace
}  // namespace tally::ledger
