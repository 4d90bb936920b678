// What tally-ledger's HTTP API shows of store records, and its errors as
// replies. Private to tally::ledger_app (app.cpp).
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "tally/ledger/store.hpp"
#include "tally/scanner/result.hpp"
#include "tally/ui/device_api.hpp"

namespace tally::ledger {

nlohmann::json to_json(const ExceptionRecord& e);
// Stored movements as the API shows them: the wire movement plus the
// ledger's row "id" and "applied_ms".
nlohmann::json movements_json(const std::vector<StoredMovement>& rows);
// GET /api/v1/devices: the ledger's view of each device (devices table) and
// the device's own last word (its retained status), by device id. A device
// known only from its status (it never synced) is listed too.
nlohmann::json devices_json(const std::vector<DeviceInfo>& rows, const std::vector<DeviceStatus>& statuses);
// bad_request 400, not_found 404, conflict 409, disk_full 507, else 500.
ui::ApiReply error_reply(const Error& e);

}  // namespace tally::ledger
