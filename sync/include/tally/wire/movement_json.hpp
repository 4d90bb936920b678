// The wire format of a movement (MQTT contract v1, HTTP API): JSON with the
// fields of docs/PROTOCOL.md. Parsing validates shape and types and then the
// domain rules, so a parsed movement is always valid.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tally/scanner/domain.hpp"
#include "tally/scanner/result.hpp"
#include "tally/scanner/session.hpp"

namespace tally::wire {

nlohmann::json to_json(const scanner::Movement& m);
// The canonical text of a movement (the journal's stored payload, the MQTT
// batch element): byte-identical to to_json(m).dump() with invalid UTF-8
// replaced by U+FFFD (nlohmann's error_handler_t::replace), so it never
// throws. Written directly rather than through a json tree, which makes it
// several times faster on the journal's hot path.
std::string to_json_text(const scanner::Movement& m);
// The same into `out` (replacing its content, reusing its capacity).
void to_json_text(const scanner::Movement& m, std::string& out);

// The fields the journal assigns to a movement. to_json_text(m, stamp, out)
// writes exactly what to_json_text would write for a copy of `m` with these
// fields set, without making that copy (the journal's hot path).
struct Stamp {
  std::string_view device;
  std::string_view site;
  std::uint64_t seq = 0;
  std::uint64_t hlc = 0;
};
void to_json_text(const scanner::Movement& m, const Stamp& stamp, std::string& out);

// ---- Tamper-evident history (docs/PROTOCOL.md, "Hash chain").
// Each device's movements form a chain: hash(seq) = SHA-256 over the ASCII
// bytes of prev_hash (64 lower-case hex characters; kGenesisHash for seq 1)
// followed by the movement's canonical text (to_json_text, without "hash"
// and "prev_hash"), written as 64 lower-case hex characters. The sha256sum of
// `printf '%s%s' "$prev" "$canonical"` gives the same value.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";
std::string chain_hash(std::string_view prev_hash, std::string_view canonical);
// 64 lower-case hex characters.
bool is_chain_hash(std::string_view text);
// The wire element: the canonical text with ,"hash":…,"prev_hash":… added
// before its closing brace (appended to `out`).
void append_chained(std::string& out, std::string_view canonical, std::string_view prev_hash, std::string_view hash);

// Error codes: "bad_json" (shape/type), then scanner::validate's codes.
Result<scanner::Movement> movement_from_json(const nlohmann::json& j);

// ---- Device-side exceptions (scanner::DeviceException): the journal's
// stored form and the element of an exceptions message (docs/PROTOCOL.md
// "Device exceptions"): {"kind","operator","mode","expected","scanned",
// "evidence":[…],"time_ms","task","reason"}.
nlohmann::json to_json(const scanner::DeviceException& e);
// to_json(e).dump() with invalid UTF-8 replaced by U+FFFD (never throws).
std::string to_json_text(const scanner::DeviceException& e);
// Error code "bad_json" naming the first bad member: every member present
// with its type, kind 1-32 of [a-z0-9_], strings at most 4 KiB, evidence at
// most 1000 scans.
Result<scanner::DeviceException> device_exception_from_json(const nlohmann::json& j);

}  // namespace tally::wire
