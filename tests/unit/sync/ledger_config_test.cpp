// tally-ledger configuration: --postgres and the [kpi] bands.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
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

}  // namespace
}  // namespace tally::ledger
