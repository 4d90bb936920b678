// GS1 EPCIS 2.0 export of the ledger's movements (JSON-LD), for
// GET /api/v1/epcis/events. One ObjectEvent per stored movement, with CBV 2.0
// bizStep and disposition (the mapping table is in docs/PROTOCOL.md "EPCIS
// export"); a correction (reason CORRECTION) becomes an error declaration of
// the movement it reverses. Pure: no store, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/ledger/store.hpp"
#include "tally/scanner/domain.hpp"

namespace tally::ledger {

// The JSON-LD prefix of Tally's extension members ("tally:device", …).
inline constexpr std::string_view kEpcisTallyNamespace = "urn:tally:epcis:";

// urn:uuid:… derived from (device, seq): the same movement always has the
// same event id, in every export and on every ledger instance.
std::string epcis_event_id(const std::string& device, std::uint64_t seq);

// The event of one movement as the ledger applied it (applied_ms: its
// recordTime). nullopt for a correction, which is not an event of its own
// (see epcis_document).
std::optional<nlohmann::json> epcis_event(const scanner::Movement& m, std::int64_t applied_ms);

// What the export needs to know about a correction (device, seq): the
// movement it reverses (device, seq - 1) and the device's movement after it
// (seq + 1), as stored; empty when not (yet) stored.
struct CorrectionContext {
  std::optional<StoredMovement> original;
  std::optional<StoredMovement> next;
};
using MovementKey = std::pair<std::string, std::uint64_t>;

// The EPCISDocument of `rows` (stored movements in ledger order). A
// correction is exported as its original's event (same eventID) with an
// errorDeclaration (declarationTime = the correction's time, reason
// incorrect_data) and, when the device's next movement has the original's
// type and item (the movement recorded again, right), correctiveEventIDs =
// [that movement's event id]. A correction whose original is unknown, and
// rows that do not parse, are skipped. "tally:nextAfter" is the row id to
// pass as `after` for the next page (`after` itself when `rows` is empty).
nlohmann::json epcis_document(std::span<const StoredMovement> rows,
                              const std::map<MovementKey, CorrectionContext>& corrections, std::uint64_t after,
                              std::int64_t now_ms);

// One page of the export from a store: movements with row id > after (at
// most `limit`), with the corrections' context read from the store.
Result<nlohmann::json> epcis_page(Store& store, std::uint64_t after, std::size_t limit, std::int64_t now_ms);

}  // namespace tally::ledger
