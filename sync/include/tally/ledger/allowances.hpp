// Offline pick allowances (escrow, docs/PROTOCOL.md "Pick allowances").
//
// While a device is online the ledger grants it an allowance per (item, lot,
// bin) out of the available stock; offline, the device records a pick within
// it normally and raises "allowance_exceeded" at once for one beyond it, so two
// offline devices cannot silently oversell the same units.
//
// Grants are a master-data kind of their own, "allowances", scope
// "{site}/{device}", published like the tasks (retained, chunked, versioned;
// the device stores each version atomically in its journal). A grant counts
// the device's picks of its key with seq > basis_seq (the device's
// applied_through when it was granted): the ledger and the device count the
// same movements. Its remaining part is qty minus those picks.
//
// The policy keeps, for every (item, lot, bin), the sum of the remaining
// parts of the live grants of all devices <= the available balance when it
// grants: a grant is never enlarged or replaced while it is live (the device
// may still hold it offline), only dropped once used up (the ledger has seen
// picks for all of it) or expired (expires_ms, on both clocks), and the
// units come back to the pool for the next grant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tally/ledger/store.hpp"
#include "tally/scanner/result.hpp"

namespace tally::ledger {

struct AllowancePolicy {
  bool enabled = false;
  std::int64_t ttl_ms = 15 * 60 * 1000;  // a grant's life
  // Who gets a share of a bin's stock: "tasks" = the devices whose pick tasks
  // name the item (and lot, if the line has one) in that bin; "active" =
  // every device seen within active_ms, for every available balance row.
  std::string grant_to = "tasks";
  std::int64_t active_ms = 10 * 60 * 1000;
  std::size_t max_per_device = 500;  // grants in one device's snapshot
  std::int64_t refresh_ms = 2000;    // tally-ledger re-grants this often (and after stock changes)
  // An expired grant keeps its units this much longer, for a device whose
  // clock is behind the ledger's (it still counts the grant as live).
  std::int64_t clock_margin_ms = 2 * 60 * 1000;
};

// Error code "bad_config".
Result<void> check_allowance_policy(const AllowancePolicy& policy);

// Drops used-up and expired grants and grants the freed and new stock,
// splitting each row's available qty evenly (rounded up, in device order)
// among the devices the policy names that hold no live grant for it.
// Stores every device snapshot that changed ("allowances", put_master_data)
// and returns those records, for the caller to publish. Reads balances,
// devices, tasks and the movements of devices holding grants.
Result<std::vector<MasterDataRecord>> regrant_allowances(Store& store, const AllowancePolicy& policy,
                                                         std::int64_t now_ms);

}  // namespace tally::ledger
