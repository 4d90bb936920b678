// The MQTT contract v1 (docs/PROTOCOL.md): topics, the envelope of device
// messages, acks and device status, built and parsed here and nowhere else,
// by tallyd's sync client (sync/src/edge) and by tally-ledger
// (sync/src/ledger). The elements inside an envelope (movements, device
// exceptions) are movement_json.hpp's. Parsers never throw; the fuzz target
// tests/fuzz/wire_protocol_fuzz.cpp runs them all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/scanner/result.hpp"

namespace tally::wire {

// ---- Topics: tally/v1/{site}/{device}/{leaf}, and the site's own.
inline constexpr std::string_view kTopicRoot = "tally/v1/";
// The ledger's subscriptions: movements and exceptions shared between
// instances (MQTT 5 shared subscription), status seen by every instance.
inline constexpr const char* kMovementsSubscription = "$share/ledger/tally/v1/+/+/movements";
inline constexpr const char* kExceptionsSubscription = "$share/ledger/tally/v1/+/+/exceptions";
inline constexpr const char* kStatusSubscription = "tally/v1/+/+/status";

// "tally/v1/{site}/"
std::string site_root(std::string_view site);
// "tally/v1/{scope}/{leaf}": scope is "{site}" or "{site}/{device}".
std::string topic(std::string_view scope, std::string_view leaf);
// "tally/v1/{site}/{device}/{leaf}".
std::string device_topic(std::string_view site, std::string_view device, std::string_view leaf);

struct DeviceTopic {
  std::string site;
  std::string device;
};
// "tally/v1/{site}/{device}/{leaf}" with site and device one non-empty
// level each (no '/', '+' or '#'); nullopt for anything else.
std::optional<DeviceTopic> parse_device_topic(std::string_view topic, std::string_view leaf);

// ---- The envelope of a device message: {"v":1,"device":…,"site":…,
// "<list>":[…]}. Written by the device around elements it already holds as
// canonical text: envelope_open, the elements separated by ',', then
// kEnvelopeClose.
std::string envelope_open(std::string_view device, std::string_view site, std::string_view list_key);
inline constexpr std::string_view kEnvelopeClose = "]}";

// Any device message: a JSON object with "v": 1. Errors "bad_json", "bad_version".
Result<nlohmann::json> parse_v1_object(std::string_view payload);
// A device message's envelope, checked against its topic. Errors of
// parse_v1_object, "bad_batch" (device, site or the list missing or of the
// wrong type), "forged_device" (device or site differs from the topic's).
Result<nlohmann::json> parse_envelope(const DeviceTopic& topic, std::string_view payload, std::string_view list_key);

// ---- The ledger's ack on …/{device}/ack: {"v":1,"applied_through":N,
// "rejected":[{"seq","reason"}]} and/or "exceptions_through":N.
struct Ack {
  std::optional<std::uint64_t> applied_through;
  std::optional<std::int64_t> exceptions_through;
  std::vector<std::pair<std::uint64_t, std::string>> rejected;  // seq, "code: message"
};
std::string ack_payload(std::uint64_t applied_through, const std::vector<std::pair<std::uint64_t, std::string>>& rejected);
std::string exceptions_ack_payload(std::int64_t exceptions_through);
// nullopt for anything that is not an ack (neither member, or not "v": 1).
// A malformed "rejected" element is kept with seq 0 and reason "?" (it is
// only logged).
std::optional<Ack> parse_ack(std::string_view payload);

// ---- Device status on …/{device}/status (retained, and the will):
// {"v":1,"device","site","online":bool,"pending":N,"last_seq":N,"version":"…"}.
struct Status {
  bool online = false;
  std::uint64_t pending = 0;
  std::uint64_t last_seq = 0;
  std::string version;
};
std::string status_payload(std::string_view device, std::string_view site, const Status& status);
// "device" and "site" are optional (devices before they were added omit
// them) but must equal the topic's when present. Errors of parse_v1_object,
// "bad_status" (a member missing or of the wrong type, a number above
// 2^63-1, pending > last_seq, a version longer than 64 bytes),
// "forged_device". Other members are ignored.
Result<Status> parse_status(const DeviceTopic& topic, std::string_view payload);

// JSON text of `j`, invalid UTF-8 replaced by U+FFFD (never throws).
std::string dump(const nlohmann::json& j);

}  // namespace tally::wire
