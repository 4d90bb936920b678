// Fuzz target: the MQTT contract's own module (tally/wire/protocol.hpp), as
// both ends use it. The first input byte picks what the rest is: 'T' a
// topic (parse_device_topic with each leaf), 'A' an ack (parse_ack), 'S' a
// status of s1/hh-1 (parse_status), anything else an envelope of s1/hh-1
// with the list "movements" (parse_envelope).
// Invariants: no crash/UB, no exception; errors carry a documented code;
// what parses round-trips: a topic rebuilt from its parts is the input, an
// ack or a status written back parses to the same value, and an envelope
// written around the parsed elements parses again.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "tally/wire/protocol.hpp"

namespace {

using namespace tally::wire;

void topic_case(const std::string& t) {
  for (const char* leaf : {"movements", "exceptions", "status", "ack", "tasks/+"}) {
    if (const auto parsed = parse_device_topic(t, leaf)) {
      TALLY_FUZZ_CHECK(!parsed->site.empty() && !parsed->device.empty());
      TALLY_FUZZ_CHECK(device_topic(parsed->site, parsed->device, leaf) == t);
    }
  }
}

void ack_case(const std::string& payload) {
  const auto ack = parse_ack(payload);
  if (!ack) return;
  TALLY_FUZZ_CHECK(ack->applied_through || ack->exceptions_through);
  if (ack->exceptions_through) {
    TALLY_FUZZ_CHECK(*ack->exceptions_through >= 0);
    const auto again = parse_ack(exceptions_ack_payload(*ack->exceptions_through));
    TALLY_FUZZ_CHECK(again && again->exceptions_through == ack->exceptions_through);
  }
  if (ack->applied_through) {
    const auto again = parse_ack(ack_payload(*ack->applied_through, ack->rejected));
    TALLY_FUZZ_CHECK(again && again->applied_through == ack->applied_through);
    TALLY_FUZZ_CHECK(again->rejected.size() == ack->rejected.size());
  }
}

void status_case(const DeviceTopic& topic, const std::string& payload) {
  const auto st = parse_status(topic, payload);
  if (!st) {
    const std::string& c = st.error().code;
    TALLY_FUZZ_CHECK(c == "bad_json" || c == "bad_version" || c == "bad_status" || c == "forged_device");
    return;
  }
  TALLY_FUZZ_CHECK(st->pending <= st->last_seq && st->version.size() <= 64);
  const auto again = parse_status(topic, status_payload(topic.device, topic.site, *st));
  TALLY_FUZZ_CHECK(again && again->online == st->online && again->pending == st->pending &&
                   again->last_seq == st->last_seq);
}

void envelope_case(const DeviceTopic& topic, const std::string& payload) {
  const auto j = parse_envelope(topic, payload, "movements");
  if (!j) {
    const std::string& c = j.error().code;
    TALLY_FUZZ_CHECK(c == "bad_json" || c == "bad_version" || c == "bad_batch" || c == "forged_device");
    return;
  }
  std::string written = envelope_open(topic.device, topic.site, "movements");
  bool first = true;
  for (const auto& element : (*j)["movements"]) {
    if (!first) written += ',';
    written += dump(element);
    first = false;
  }
  written += kEnvelopeClose;
  const auto again = parse_envelope(topic, written, "movements");
  TALLY_FUZZ_CHECK(again && (*again)["movements"].size() == (*j)["movements"].size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const DeviceTopic hh1{"s1", "hh-1"};
  switch (data[0]) {
    case 'T':
      topic_case(rest);
      break;
    case 'A':
      ack_case(rest);
      break;
    case 'S':
      status_case(hh1, rest);
      break;
    default:
      envelope_case(hh1, rest);
      break;
  }
  return 0;
}
