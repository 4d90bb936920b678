// Fuzz target: one device → ledger message as tally-ledger parses it before
// touching its store (Ledger::prepare: the topic, parse_batch for
// …/movements, parse_exceptions for …/exceptions, parse_status for
// …/status). The first input byte picks the topic: 'M' movements of hh-1,
// 'E' exceptions of hh-1, 'S' status of hh-1, anything else a raw topic up to
// the first newline; the rest is the payload.
// Invariants: no crash/UB, no exception; errors carry one of the documented
// codes and become dead letters; a parsed batch is the topic's device, its
// seqs ascend, each element is either a valid movement of that device with
// its canonical payload and seq, or a rejection with a reason; exception
// ids ascend and are positive; a status is the topic's device with pending
// <= last_seq, both below 2^63, and a version of at most 64 bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "tally/ledger/ledger.hpp"
#include "tally/wire/movement_json.hpp"

namespace {

bool batch_code(const std::string& c) {
  return c == "bad_json" || c == "bad_version" || c == "bad_batch" || c == "forged_device";
}
bool status_code(const std::string& c) {
  return c == "bad_json" || c == "bad_version" || c == "bad_status" || c == "forged_device";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tally::ledger;
  if (size == 0) return 0;
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string topic;
  if (data[0] == 'M') {
    topic = "tally/v1/s1/hh-1/movements";
  } else if (data[0] == 'E') {
    topic = "tally/v1/s1/hh-1/exceptions";
  } else if (data[0] == 'S') {
    topic = "tally/v1/s1/hh-1/status";
  } else {
    const auto nl = rest.find('\n');
    topic = rest.substr(0, nl);
    rest = nl == std::string::npos ? std::string() : rest.substr(nl + 1);
  }
  LedgerOptions options;
  options.max_message_bytes = 64 * 1024;
  const auto p = Ledger::prepare(options, Ledger::Inbound{topic, rest}, 1'790'000'000'000);
  if (p.error) {
    TALLY_FUZZ_CHECK(!p.error->code.empty() && !p.error->message.empty());
    TALLY_FUZZ_CHECK(!p.batch && !p.exceptions && !p.status);
    return 0;
  }
  TALLY_FUZZ_CHECK(p.where);
  TALLY_FUZZ_CHECK(int{p.batch.has_value()} + int{p.exceptions.has_value()} + int{p.status.has_value()} +
                       int{p.ignored} ==
                   1);
  TALLY_FUZZ_CHECK(!p.ignored || rest.empty());
  if (p.status) {
    TALLY_FUZZ_CHECK(p.status->device == p.where->device && p.status->site == p.where->site);
    TALLY_FUZZ_CHECK(p.status->pending <= p.status->last_seq);
    TALLY_FUZZ_CHECK(p.status->last_seq <= std::uint64_t{INT64_MAX} && p.status->version.size() <= 64);
  }
  if (p.batch) {
    TALLY_FUZZ_CHECK(p.batch->device == p.where->device && p.batch->site == p.where->site);
    std::uint64_t last = 0;
    for (const auto& in : p.batch->movements) {
      TALLY_FUZZ_CHECK(in.seq > last);
      last = in.seq;
      if (in.movement) {
        TALLY_FUZZ_CHECK(in.movement->seq == in.seq && in.movement->device == p.batch->device);
        TALLY_FUZZ_CHECK(in.payload == tally::wire::to_json_text(*in.movement));
        TALLY_FUZZ_CHECK(in.hash.empty() || in.computed_hash == tally::wire::chain_hash(in.prev_hash, in.payload));
      } else {
        TALLY_FUZZ_CHECK(!in.error.code.empty() && !in.error.message.empty());
      }
    }
  }
  if (p.exceptions) {
    std::int64_t last = 0;
    for (const auto& [id, e] : p.exceptions->exceptions) {
      TALLY_FUZZ_CHECK(id > last);
      last = id;
      TALLY_FUZZ_CHECK(!e.kind.empty() && e.device == p.exceptions->device && !e.owner.empty());
    }
  }
  // The parsers on their own agree with prepare().
  if (const auto t = parse_movements_topic(topic)) {
    auto b = parse_batch(*t, rest, 0);
    TALLY_FUZZ_CHECK(b.ok() || batch_code(b.error().code));
  }
  if (const auto t = parse_exceptions_topic(topic)) {
    auto b = parse_exceptions(*t, rest, 0);
    TALLY_FUZZ_CHECK(b.ok() || batch_code(b.error().code));
  }
  if (const auto t = parse_status_topic(topic)) {
    auto st = parse_status(*t, rest, 0);
    TALLY_FUZZ_CHECK(st.ok() || status_code(st.error().code));
  }
  return 0;
}
