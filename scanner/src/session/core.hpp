// The session core as Session (session.hpp) calls it. Private to tally::scanner.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "session/state.hpp"
#include "tally/scanner/result.hpp"

namespace tally::scanner::workflow {

// One scan on `s` (session.cpp). On error the caller discards `s`.
Outcome handle(State& s, const Scan& scan_in);
// Rebuilds the derived state from base + evidence. False if the evidence
// does not replay cleanly (corrupt snapshot) (session.cpp).
bool replay(State& s);

// The state as JSON, and back (snapshot.cpp). from_snapshot checks that the
// snapshot is one to_snapshot wrote: it replays the evidence and compares.
// Error code: "bad_snapshot".
nlohmann::json to_snapshot(const State& s);
Result<State> from_snapshot(SessionOptions options, const nlohmann::json& snapshot);

}  // namespace tally::scanner::workflow
