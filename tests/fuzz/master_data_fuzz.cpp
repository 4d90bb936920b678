// Fuzz target: the master-data snapshots the ledger publishes (catalog,
// locations, tasks, allowances), parsed as tallyd parses a downlink payload: JSON text
// into apply_master_data() for each kind. Invariants: no crash/UB, no
// exception; an error is "bad_master_data" with a message and changes
// nothing; success replaces exactly that kind, with its version.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "tally/scanner/master_data.hpp"

namespace {

bool same_kind(const tally::scanner::MasterData& a, const tally::scanner::MasterData& b, const std::string& kind) {
  if (kind == "catalog") return a.catalog_version == b.catalog_version && a.catalog.size() == b.catalog.size();
  if (kind == "locations") return a.locations_version == b.locations_version && a.locations.size() == b.locations.size();
  if (kind == "allowances") return a.allowances_version == b.allowances_version && a.allowances == b.allowances;
  if (a.tasks_version != b.tasks_version || a.tasks.size() != b.tasks.size()) return false;
  for (std::size_t i = 0; i < a.tasks.size(); ++i)
    if (a.tasks[i].lines != b.tasks[i].lines) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tally::scanner;
  const auto payload = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) return 0;
  for (const std::string kind : {"catalog", "locations", "tasks", "allowances", "nonsense"}) {
    MasterData md;
    md.catalog_version = 7;
    md.catalog.push_back(CatalogItem{"09506000134352", "SKU-1", "before", 1, ""});
    md.locations_version = 7;
    md.locations.push_back(KnownLocation{"A-01-01-1", "bin"});
    md.tasks_version = 7;
    md.allowances_version = 7;
    md.allowances.push_back(Allowance{"g1", "09506000134352", "", "A-01-01-1", 2, 0, 1, 2});
    const MasterData before = md;
    auto r = apply_master_data(kind, payload, md);
    if (!r) {
      TALLY_FUZZ_CHECK(r.error().code == "bad_master_data" && !r.error().message.empty());
      for (const char* k : {"catalog", "locations", "tasks", "allowances"}) TALLY_FUZZ_CHECK(same_kind(md, before, k));
      continue;
    }
    TALLY_FUZZ_CHECK(is_master_data_kind(kind));
    for (const char* k : {"catalog", "locations", "tasks", "allowances"})
      if (kind != k) TALLY_FUZZ_CHECK(same_kind(md, before, k));
    for (const auto& i : md.catalog) TALLY_FUZZ_CHECK(!(i.gtin.empty() && i.sku.empty()) && i.pack_size >= 1);
    for (const auto& a : md.allowances) TALLY_FUZZ_CHECK(!a.id.empty() && !a.item.empty() && !a.bin.empty() && a.qty >= 0);
  }
  return 0;
}
