#include "tally/edge/chunk_assembler.hpp"

#include <nlohmann/json.hpp>

namespace tally::edge {
namespace {

Error bad(std::string message) { return make_error("bad_chunk", std::move(message)); }

}  // namespace

ChunkAssembler::ChunkAssembler(AssemblerOptions options) : options_(options) {}

std::int64_t ChunkAssembler::completed_version(const std::string& kind) const {
  const auto it = completed_.find(kind);
  return it == completed_.end() ? 0 : it->second;
}

void ChunkAssembler::forget(const std::string& kind, std::int64_t version) {
  auto it = completed_.find(kind);
  if (it != completed_.end() && it->second == version) completed_.erase(it);
}

void ChunkAssembler::drop(const std::string& kind) {
  auto it = partial_.find(kind);
  if (it == partial_.end()) return;
  bytes_ -= it->second.bytes;
  partial_.erase(it);
}

Result<std::optional<MasterDataText>> ChunkAssembler::offer(const std::string& kind, std::size_t index,
                                                            const std::string& payload) {
  using nlohmann::json;
  if (payload.empty()) return std::optional<MasterDataText>{};  // a deleted retained chunk
  const json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return bad("chunk on " + kind + "/" + std::to_string(index) + " is not a JSON object");
  const auto field = [&j](const char* name) -> const json* {
    const auto it = j.find(name);
    return it == j.end() ? nullptr : &*it;
  };
  const json* v = field("v");
  const json* k = field("kind");
  const json* version = field("version");
  const json* chunk = field("chunk");
  const json* chunks = field("chunks");
  const json* data = field("data");
  if (!v || !v->is_number_integer() || v->get<std::int64_t>() != 1) return bad("chunk \"v\" must be 1");
  if (!k || !k->is_string() || k->get<std::string>() != kind)
    return bad("chunk \"kind\" does not match its topic (" + kind + ")");
  if (!version || !version->is_number_integer() || version->get<std::int64_t>() < 1) {
    return bad("chunk \"version\" must be a positive integer");
  }
  if (!chunk || !chunk->is_number_unsigned() || chunk->get<std::uint64_t>() != index) {
    return bad("chunk \"chunk\" does not match its topic index " + std::to_string(index));
  }
  if (!chunks || !chunks->is_number_unsigned() || chunks->get<std::uint64_t>() < 1 ||
      chunks->get<std::uint64_t>() > options_.max_chunks) {
    return bad("chunk \"chunks\" must be 1.." + std::to_string(options_.max_chunks));
  }
  const auto n = static_cast<std::size_t>(chunks->get<std::uint64_t>());
  if (index >= n) return bad("chunk index " + std::to_string(index) + " >= chunks " + std::to_string(n));
  if (!data || !data->is_string()) return bad("chunk \"data\" must be a string");
  const std::int64_t ver = version->get<std::int64_t>();

  if (ver <= completed_version(kind)) return std::optional<MasterDataText>{};  // stale
  auto it = partial_.find(kind);
  if (it != partial_.end()) {
    if (ver < it->second.version) return std::optional<MasterDataText>{};  // older than in progress
    if (ver > it->second.version) {
      drop(kind);  // a newer version supersedes the incomplete one
      it = partial_.end();
    } else if (it->second.chunks.size() != n) {
      drop(kind);
      return bad("chunk count of " + kind + " version " + std::to_string(ver) + " changed");
    }
  }
  const auto& text = data->get_ref<const std::string&>();
  if (it == partial_.end() || !it->second.chunks[index]) {
    if (bytes_ + text.size() > options_.max_total_bytes) {
      drop(kind);
      return make_error("chunk_too_large", kind + " version " + std::to_string(ver) + " exceeds " +
                                               std::to_string(options_.max_total_bytes) + " bytes; dropped");
    }
  }
  if (it == partial_.end()) {
    Partial p;
    p.version = ver;
    p.chunks.resize(n);
    it = partial_.emplace(kind, std::move(p)).first;
  }
  Partial& p = it->second;
  if (p.chunks[index]) return std::optional<MasterDataText>{};  // duplicate
  p.chunks[index] = text;
  p.bytes += text.size();
  bytes_ += text.size();
  ++p.have;
  if (p.have < n) return std::optional<MasterDataText>{};

  MasterDataText done;
  done.kind = kind;
  done.version = ver;
  done.text.reserve(p.bytes);
  for (const auto& c : p.chunks) done.text += *c;
  drop(kind);
  completed_[kind] = ver;
  return std::optional<MasterDataText>(std::move(done));
}

}  // namespace tally::edge
