// Fuzz target: what tallyd's sync client takes from the broker — the
// ledger's ack (edge::parse_ack) and chunked downlink master data
// (edge::ChunkAssembler). The whole input is tried as an ack; then each line
// is a downlink chunk: its first byte picks the kind ('c' catalog, 'l'
// locations, else tasks), the second the chunk index (byte % 8), the rest is
// the payload. Invariants: no crash/UB, no exception; an ack has
// applied_through or exceptions_through; the assembler never holds more than
// its bound, a completed version is the highest yet for its kind and its
// text is what the chunks carried.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "tally/edge/chunk_assembler.hpp"
#include "tally/edge/edge_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tally::edge;
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (const auto ack = parse_ack(input)) {
    TALLY_FUZZ_CHECK(ack->applied_through || ack->exceptions_through);
    if (ack->exceptions_through) TALLY_FUZZ_CHECK(*ack->exceptions_through >= 0);
  }

  AssemblerOptions options;
  options.max_total_bytes = 4096;
  options.max_chunks = 16;
  ChunkAssembler assembler(options);
  std::size_t at = 0;
  while (at < input.size()) {
    auto nl = input.find('\n', at);
    if (nl == std::string::npos) nl = input.size();
    const std::string line = input.substr(at, nl - at);
    at = nl + 1;
    if (line.size() < 2) continue;
    const std::string kind = line[0] == 'c' ? "catalog" : line[0] == 'l' ? "locations" : "tasks";
    const auto index = static_cast<std::size_t>(static_cast<unsigned char>(line[1]) % 8);
    const std::int64_t before = assembler.completed_version(kind);
    auto r = assembler.offer(kind, index, line.substr(2));
    TALLY_FUZZ_CHECK(assembler.bytes_held() <= options.max_total_bytes);
    if (!r) {
      TALLY_FUZZ_CHECK(r.error().code == "bad_chunk" || r.error().code == "chunk_too_large");
      continue;
    }
    if (*r) {
      TALLY_FUZZ_CHECK((*r)->kind == kind && (*r)->version > before);
      TALLY_FUZZ_CHECK(assembler.completed_version(kind) == (*r)->version);
      TALLY_FUZZ_CHECK((*r)->text.size() <= options.max_total_bytes);
    } else {
      TALLY_FUZZ_CHECK(assembler.completed_version(kind) == before);
    }
  }
  return 0;
}
