// Cached master data the device works with offline: the catalog, the known
// locations and the tasks assigned to this device. The ledger publishes each
// kind as a versioned JSON snapshot (docs/PROTOCOL.md); the device stores the
// last complete version in its journal and hands the parsed form to the
// Session. Pure parsing; no I/O.
//
// Payloads (every one has "v":1 and an integer "version"):
//   catalog:   {"v":1,"version":N,"items":[{"gtin":"…","sku":"…","description":"…",
//               "pack_size":N,"suggested_bin":"…"}]}
//   locations: {"v":1,"version":N,"locations":[{"code":"A-01-01-1","kind":"bin|dock|staging"}]}
//   tasks:     {"v":1,"version":N,"tasks":[{"id":"TASK:17","type":"pick|receive|count|putaway",
//               "reference":"ORD:…","lines":[{"line":1,"gtin":"…","sku":"…","qty":N,
//               "bin":"…","lot":"…","lot_rule":"fefo|fifo|any"}]}]}
//   allowances: {"v":1,"version":N,"allowances":[{"id":"…","item":"<gtin14 or sku>","lot":"…",
//               "bin":"A-01-01-1","qty":N,"basis_seq":N,"granted_ms":N,"expires_ms":N}]}
//               (this device's pick allowances, docs/PROTOCOL.md "Pick allowances")
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tally/scanner/result.hpp"

namespace tally::scanner {

struct CatalogItem {
  std::string gtin;  // 14 digits, or empty
  std::string sku;
  std::string description;
  std::int64_t pack_size = 1;
  std::string suggested_bin;
};

struct KnownLocation {
  std::string code;
  std::string kind;  // "bin", "dock", "staging", …
};

struct TaskLine {
  int line = 0;
  std::string gtin;
  std::string sku;
  std::int64_t qty = 0;
  std::string bin;
  std::string lot;
  std::string lot_rule = "any";
  // Receive tasks (an ASN): the SSCC of the pallet the line arrives on (18
  // digits). Scanning it receives every line of that pallet at once.
  std::string sscc;
  bool operator==(const TaskLine&) const = default;
};

struct Task {
  std::string id;    // "TASK:17"
  std::string type;  // "pick", "receive", "count", "putaway"
  std::string reference;
  std::vector<TaskLine> lines;
};

// A pick allowance (escrow) the ledger granted this device: it may pick up
// to `qty` units of (item, lot) from `bin` offline without overselling,
// counting its picks with seq > basis_seq, until expires_ms (device wall
// clock, Unix ms). Expired, it counts as zero.
struct Allowance {
  std::string id;
  std::string item;  // Item::id(): the GTIN (14 digits), else the SKU
  std::string lot;
  std::string bin;   // location code
  std::int64_t qty = 0;
  std::uint64_t basis_seq = 0;
  std::int64_t granted_ms = 0;
  std::int64_t expires_ms = 0;
  bool operator==(const Allowance&) const = default;
};

struct MasterData {
  std::int64_t catalog_version = 0;  // 0: none received yet
  std::int64_t locations_version = 0;
  std::int64_t tasks_version = 0;
  std::int64_t allowances_version = 0;  // 0: the ledger grants no allowances (escrow off)
  std::vector<CatalogItem> catalog;
  std::vector<KnownLocation> locations;
  std::vector<Task> tasks;
  std::vector<Allowance> allowances;

  const CatalogItem* find_item(const std::string& gtin_or_sku) const;
  const Task* find_task(const std::string& id) const;
  bool knows_location(const std::string& code) const;
  // The allowance for picking (item, lot) from bin, or null.
  const Allowance* find_allowance(const std::string& item, const std::string& lot, const std::string& bin) const;
};

// The kinds, as used in topics and in the journal: "catalog", "locations",
// "tasks", "allowances".
bool is_master_data_kind(const std::string& kind);

// Parses one kind's payload into `into` (replacing that kind only).
// Error code "bad_master_data" with a message naming the field.
Result<void> apply_master_data(const std::string& kind, const nlohmann::json& payload, MasterData& into);

}  // namespace tally::scanner
