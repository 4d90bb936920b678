// Downlink master data: the catalog, the locations and each device's tasks as
// retained, chunked MQTT messages (docs/PROTOCOL.md "## Ledger"). Pure: these
// functions only compute what to publish; tally-ledger publishes it.
//
//   tally/v1/{site}/catalog/{i}, tally/v1/{site}/locations/{i},
//   tally/v1/{site}/{device}/tasks/{i}
//   {"v":1,"kind":K,"version":V,"chunk":i,"chunks":n,"data":"<slice of the JSON text>"}
//
// Chunks are slices of the snapshot's JSON text, cut at UTF-8 character
// boundaries; concatenating "data" of chunks 0..n-1 gives the text back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/ledger/ledger.hpp"
#include "tally/ledger/store.hpp"
#include "tally/scanner/result.hpp"

namespace tally::ledger {

inline constexpr std::size_t kDefaultChunkBytes = 64 * 1024;

// The topic prefix of a record: "tally/v1/{site}/catalog" or
// "tally/v1/{site}/{device}/tasks" (scope "{site}/{device}").
std::string master_data_topic(const MasterDataRecord& record);

// The retained messages for `record`, then empty retained payloads for the
// chunk indexes [n, record.published_chunks) left over from a larger version.
std::vector<Publish> master_data_messages(const MasterDataRecord& record, std::size_t chunk_bytes);

// The scope of a device's tasks: "{site}/{device}".
inline std::string task_scope(const std::string& site, const std::string& device) { return site + "/" + device; }

// Adds (or replaces, by id) `task` in the device's current tasks snapshot
// `current` (null: none yet) and returns the new snapshot payload, checked
// with scanner::apply_master_data. Error code "bad_request".
Result<nlohmann::json> with_task(const nlohmann::json& current, const nlohmann::json& task);

// FEFO (first expired, first out): for each line of a pick task whose
// lot_rule is "fefo", that names a bin and no lot, names the lot with the
// earliest expiry among those the ledger has available in that bin
// (Store::balances, Store::lot_expiries). The device then enforces it
// (wrong_lot). A line without such stock is left as is. Other lines and
// tasks are returned unchanged. Only reads the store.
Result<nlohmann::json> assign_fefo_lots(Store& store, nlohmann::json task);

// Checks a catalog or locations payload ("bad_request" naming the problem).
Result<void> check_master_data(const std::string& kind, const nlohmann::json& payload);

// tally-ledger --catalog FILE: stores the catalog of `site` from a JSON
// file (master_data.hpp's format) unless the stored snapshot has the same
// content. Error "bad_config" naming the file for one that cannot be read
// or is not a valid catalog; store errors pass through.
Result<void> load_catalog_file(Store& store, const std::filesystem::path& file, const std::string& site);

}  // namespace tally::ledger
