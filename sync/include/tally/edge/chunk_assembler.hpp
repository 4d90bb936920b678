// Reassembles chunked downlink master data (docs/PROTOCOL.md, "Downlink"):
// retained messages on tally/v1/{site}/catalog/{i}, …/locations/{i} and
// tally/v1/{site}/{device}/tasks/{i}, each
//   {"v":1,"kind":K,"version":V,"chunk":i,"chunks":n,"data":"<slice>"}.
// When all n chunks of one version are present their data, concatenated in
// chunk order, is the master-data JSON text. Pure; no I/O.
//
// Bounded: at most max_chunks per version and max_total_bytes of chunk data
// held over all kinds; a chunk that would exceed it drops its version. A
// newer version drops an incomplete older one; chunks of versions older than
// the one being assembled or already completed are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tally/scanner/result.hpp"

namespace tally::edge {

struct AssemblerOptions {
  std::size_t max_total_bytes = 16U * 1024U * 1024U;
  std::size_t max_chunks = 4096;
};

struct MasterDataText {
  std::string kind;
  std::int64_t version = 0;
  std::string text;
};

class ChunkAssembler {
 public:
  explicit ChunkAssembler(AssemblerOptions options = {});

  // One chunk message: `kind` and `index` come from the topic, `payload` is
  // the message. Returns the complete master data when this chunk finished a
  // version; nothing while incomplete or for ignored chunks (empty payload,
  // duplicate, stale version); an error ("bad_chunk", "chunk_too_large") for
  // a malformed or oversized chunk (state is kept consistent either way).
  Result<std::optional<MasterDataText>> offer(const std::string& kind, std::size_t index, const std::string& payload);

  // The newest version completed per kind (0: none yet).
  std::int64_t completed_version(const std::string& kind) const;
  // Forget a completion (storing it failed): the same version may be assembled again.
  void forget(const std::string& kind, std::int64_t version);
  std::size_t bytes_held() const { return bytes_; }

 private:
  struct Partial {
    std::int64_t version = 0;
    std::vector<std::optional<std::string>> chunks;
    std::size_t have = 0;
    std::size_t bytes = 0;
  };
  void drop(const std::string& kind);

  AssemblerOptions options_;
  std::map<std::string, Partial> partial_;
  std::map<std::string, std::int64_t> completed_;
  std::size_t bytes_ = 0;
};

}  // namespace tally::edge
