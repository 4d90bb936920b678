// The JSON wire form of a Movement (MQTT contract v1, HTTP API).
//
// Shape (snake_case; the journal stores exactly this as its canonical payload):
//   {"device","site","seq","operator","type",
//    "item":{"gtin","sku","lot","expiry","serial"},   empty strings omitted
//    "qty","from":{"location","state"},"to":{…},      state omitted for '@' parties
//    "reason","reference",                            omitted when empty
//    "evidence":[…],"time_ms","hlc"}
//
// Parsing rule: every member to_json always writes is required, every member
// it may omit is optional; a present member must have exactly the JSON type
// written here (integers must be integers, unsigned ones non-negative).
// Unknown members are ignored so v1 can grow additively. Shape errors are
// "bad_json" and name the member; then scanner::validate has the last word.
#include "tally/wire/movement_json.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace tally::wire {

using nlohmann::json;
using scanner::Endpoint;
using scanner::Movement;

namespace {

json endpoint_to_json(const Endpoint& e) {
  json j = json::object();
  j["location"] = e.location.code;
  // A valid external party ('@…') has no state, so "state" is omitted for
  // it. Whatever is present is written as is (never silently dropped), so an
  // invalid endpoint stays invalid and validate refuses it on the way back.
  if (e.state) j["state"] = scanner::to_string(*e.state);
  return j;
}

Error bad(std::string_view field, std::string_view what) {
  return make_error("bad_json", "movement: \"" + std::string(field) + "\" " + std::string(what));
}

// Each reader returns an Error when the member is absent (if required) or
// has the wrong type; `path` is the member's dotted name for messages.
std::optional<Error> read_string(const json& obj, const char* key, std::string_view path, bool required,
                                 std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return bad(path, "is missing");
    return std::nullopt;
  }
  if (!it->is_string()) return bad(path, "must be a string");
  out = it->get_ref<const std::string&>();
  return std::nullopt;
}

std::optional<Error> read_u64(const json& obj, const char* key, std::uint64_t& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return bad(key, "is missing");
  // nlohmann stores non-negative integer literals as number_unsigned.
  if (!it->is_number_unsigned()) return bad(key, "must be a non-negative integer");
  out = it->get<std::uint64_t>();
  return std::nullopt;
}

std::optional<Error> read_i64(const json& obj, const char* key, std::int64_t& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return bad(key, "is missing");
  if (it->is_number_unsigned()) {
    const auto u = it->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return bad(key, "is out of range");
    out = static_cast<std::int64_t>(u);
    return std::nullopt;
  }
  if (!it->is_number_integer()) return bad(key, "must be an integer");
  out = it->get<std::int64_t>();
  return std::nullopt;
}

std::optional<Error> read_endpoint(const json& obj, const char* key, Endpoint& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return bad(key, "is missing");
  if (!it->is_object()) return bad(key, "must be an object");
  const std::string prefix = std::string(key) + ".";
  if (auto e = read_string(*it, "location", prefix + "location", true, out.location.code)) return e;
  auto st = it->find("state");
  if (st != it->end()) {
    if (!st->is_string()) return bad(prefix + "state", "must be a string");
    const auto parsed = scanner::parse_stock_state(st->get_ref<const std::string&>());
    if (!parsed) return bad(prefix + "state", "is not a known stock state: " + st->get_ref<const std::string&>());
    out.state = parsed;
  } else {
    out.state.reset();
  }
  return std::nullopt;
}

std::optional<Error> parse_into(const json& j, Movement& m) {
  if (!j.is_object()) return make_error("bad_json", "movement: must be a JSON object");
  if (auto e = read_string(j, "device", "device", true, m.device)) return e;
  if (auto e = read_string(j, "site", "site", true, m.site)) return e;
  if (auto e = read_u64(j, "seq", m.seq)) return e;
  if (auto e = read_string(j, "operator", "operator", true, m.operator_id)) return e;

  std::string type;
  if (auto e = read_string(j, "type", "type", true, type)) return e;
  const auto parsed_type = scanner::parse_movement_type(type);
  if (!parsed_type) return bad("type", "is not a known movement type: " + type);
  m.type = *parsed_type;

  auto item = j.find("item");
  if (item == j.end()) return bad("item", "is missing");
  if (!item->is_object()) return bad("item", "must be an object");
  if (auto e = read_string(*item, "gtin", "item.gtin", false, m.item.gtin)) return e;
  if (auto e = read_string(*item, "sku", "item.sku", false, m.item.sku)) return e;
  if (auto e = read_string(*item, "lot", "item.lot", false, m.item.lot)) return e;
  if (auto e = read_string(*item, "expiry", "item.expiry", false, m.item.expiry)) return e;
  if (auto e = read_string(*item, "serial", "item.serial", false, m.item.serial)) return e;

  if (auto e = read_i64(j, "qty", m.qty)) return e;
  if (auto e = read_endpoint(j, "from", m.from)) return e;
  if (auto e = read_endpoint(j, "to", m.to)) return e;
  if (auto e = read_string(j, "reason", "reason", false, m.reason)) return e;
  if (auto e = read_string(j, "reference", "reference", false, m.reference)) return e;

  auto evidence = j.find("evidence");
  if (evidence == j.end()) return bad("evidence", "is missing");
  if (!evidence->is_array()) return bad("evidence", "must be an array of strings");
  m.evidence.reserve(evidence->size());
  for (std::size_t i = 0; i < evidence->size(); ++i) {
    const json& s = (*evidence)[i];
    if (!s.is_string()) return bad("evidence[" + std::to_string(i) + "]", "must be a string");
    m.evidence.push_back(s.get_ref<const std::string&>());
  }

  if (auto e = read_i64(j, "time_ms", m.wall_time_ms)) return e;
  if (auto e = read_u64(j, "hlc", m.hlc)) return e;
  return std::nullopt;
}

}  // namespace

json to_json(const Movement& m) {
  json item = json::object();
  if (!m.item.gtin.empty()) item["gtin"] = m.item.gtin;
  if (!m.item.sku.empty()) item["sku"] = m.item.sku;
  if (!m.item.lot.empty()) item["lot"] = m.item.lot;
  if (!m.item.expiry.empty()) item["expiry"] = m.item.expiry;
  if (!m.item.serial.empty()) item["serial"] = m.item.serial;

  json j = json::object();
  j["device"] = m.device;
  j["site"] = m.site;
  j["seq"] = m.seq;
  j["operator"] = m.operator_id;
  j["type"] = scanner::to_string(m.type);
  j["item"] = std::move(item);
  j["qty"] = m.qty;
  j["from"] = endpoint_to_json(m.from);
  j["to"] = endpoint_to_json(m.to);
  if (!m.reason.empty()) j["reason"] = m.reason;
  if (!m.reference.empty()) j["reference"] = m.reference;
  j["evidence"] = m.evidence;
  j["time_ms"] = m.wall_time_ms;
  j["hlc"] = m.hlc;
  return j;
}

namespace {

// ---- to_json_text: the same bytes as to_json(m).dump(), without the tree.
// nlohmann's objects are std::maps, so dump() writes members in byte order of
// their keys; the writer below follows that order by hand. Strings are
// escaped as dump() escapes them (", \, \b \f \n \r \t, other controls as
// \u00xx, lower-case hex). Anything non-ASCII takes the tree path, so UTF-8
// validation and U+FFFD replacement stay nlohmann's.
//
// It writes through a raw cursor into a buffer sized for the worst case
// (every byte escaped as \u00xx), then trims: no per-append capacity checks.

// Per byte: 0 copy as is, 1 escape, 2 non-ASCII (leave to nlohmann).
constexpr std::array<std::uint8_t, 256> kByteClass = [] {
  std::array<std::uint8_t, 256> t{};
  for (std::size_t c = 0; c < 0x20; ++c) t[c] = 1;
  t['"'] = 1;
  t['\\'] = 1;
  for (std::size_t c = 0x80; c < 0x100; ++c) t[c] = 2;
  return t;
}();

// True when any of the 8 bytes of `w` needs escaping or is non-ASCII:
// a byte < 0x20, '"', '\\' or >= 0x80 (exact for "any"; Bit Twiddling Hacks,
// "determine if a word has a byte less than n / equal to n").
constexpr bool word_needs_care(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t v) { return ((v - kOnes) & ~v & kHigh) != 0; };
  const bool control = ((w - kOnes * 0x20) & ~w & kHigh) != 0;
  return control || (w & kHigh) != 0 || has_zero(w ^ (kOnes * '"')) || has_zero(w ^ (kOnes * '\\'));
}

constexpr std::size_t kMaxIntChars = 20;  // -9223372036854775808, 18446744073709551615
constexpr std::size_t kFixedBound = 512;  // keys, punctuation, numbers, enum names

class Writer {
 public:
  explicit Writer(char* p) : p_(p) {}
  char* pos() const { return p_; }

  void lit(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void ch(char c) { *p_++ = c; }
  template <typename Int>
  void num(Int v) {
    p_ = std::to_chars(p_, p_ + kMaxIntChars, v).ptr;
  }
  // A JSON string; false on a non-ASCII byte (the output is then abandoned).
  // Clean 8-byte blocks are copied in one step, the rest byte by byte.
  bool str(std::string_view s) {
    *p_++ = '"';
    const char* in = s.data();
    const char* const end = in + s.size();
    while (in < end) {
      if (end - in >= 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, in, sizeof w);
        if (!word_needs_care(w)) {
          std::memcpy(p_, in, sizeof w);
          p_ += sizeof w;
          in += sizeof w;
          continue;
        }
      }
      for (const char* stop = std::min(in + 8, end); in < stop; ++in) {
        const auto c = static_cast<unsigned char>(*in);
        const std::uint8_t cls = kByteClass[c];
        if (cls == 0) {
          *p_++ = static_cast<char>(c);
          continue;
        }
        if (cls == 2) return false;
        *p_++ = '\\';
        switch (c) {
          case '"': *p_++ = '"'; break;
          case '\\': *p_++ = '\\'; break;
          case '\b': *p_++ = 'b'; break;
          case '\f': *p_++ = 'f'; break;
          case '\n': *p_++ = 'n'; break;
          case '\r': *p_++ = 'r'; break;
          case '\t': *p_++ = 't'; break;
          default: {
            constexpr char kHex[] = "0123456789abcdef";
            lit("u00");
            *p_++ = kHex[c >> 4];
            *p_++ = kHex[c & 0xF];
          }
        }
      }
    }
    *p_++ = '"';
    return true;
  }
  bool endpoint(const Endpoint& e) {
    lit(R"({"location":)");
    if (!str(e.location.code)) return false;
    if (e.state) {
      lit(R"(,"state":)");
      str(scanner::to_string(*e.state));
    }
    ch('}');
    return true;
  }
  // `"key":"value"` unless value is empty, with a comma before all but the first.
  bool member_if(std::string_view key, const std::string& value, bool& first) {
    if (value.empty()) return true;
    if (!first) ch(',');
    first = false;
    ch('"');
    lit(key);
    lit("\":");
    return str(value);
  }

 private:
  char* p_;
};

std::size_t worst_case_size(const Movement& m, const Stamp& stamp) {
  auto w = [](std::string_view s) { return 6 * s.size() + 2; };
  std::size_t n = kFixedBound + w(stamp.device) + w(stamp.site) + w(m.operator_id) + w(m.item.gtin) +
                  w(m.item.sku) + w(m.item.lot) + w(m.item.expiry) + w(m.item.serial) + w(m.reason) +
                  w(m.reference) + w(m.from.location.code) + w(m.to.location.code);
  for (const auto& e : m.evidence) n += w(e) + 1;
  return n;
}

// The writer proper; false when a string holds a non-ASCII byte.
bool write_ascii(Writer& o, const Movement& m, const Stamp& stamp) {
  o.lit(R"({"device":)");
  if (!o.str(stamp.device)) return false;
  o.lit(R"(,"evidence":[)");
  for (std::size_t i = 0; i < m.evidence.size(); ++i) {
    if (i > 0) o.ch(',');
    if (!o.str(m.evidence[i])) return false;
  }
  o.lit(R"(],"from":)");
  if (!o.endpoint(m.from)) return false;
  o.lit(R"(,"hlc":)");
  o.num(stamp.hlc);
  o.lit(R"(,"item":{)");
  bool first = true;
  if (!o.member_if("expiry", m.item.expiry, first)) return false;
  if (!o.member_if("gtin", m.item.gtin, first)) return false;
  if (!o.member_if("lot", m.item.lot, first)) return false;
  if (!o.member_if("serial", m.item.serial, first)) return false;
  if (!o.member_if("sku", m.item.sku, first)) return false;
  o.lit(R"(},"operator":)");
  if (!o.str(m.operator_id)) return false;
  o.lit(R"(,"qty":)");
  o.num(m.qty);
  first = false;
  if (!o.member_if("reason", m.reason, first)) return false;
  if (!o.member_if("reference", m.reference, first)) return false;
  o.lit(R"(,"seq":)");
  o.num(stamp.seq);
  o.lit(R"(,"site":)");
  if (!o.str(stamp.site)) return false;
  o.lit(R"(,"time_ms":)");
  o.num(m.wall_time_ms);
  o.lit(R"(,"to":)");
  if (!o.endpoint(m.to)) return false;
  o.lit(R"(,"type":)");
  o.str(scanner::to_string(m.type));
  o.ch('}');
  return true;
}

}  // namespace

void to_json_text(const Movement& m, const Stamp& stamp, std::string& out) {
  out.resize(worst_case_size(m, stamp));
  Writer o(out.data());
  if (write_ascii(o, m, stamp)) {
    out.resize(static_cast<std::size_t>(o.pos() - out.data()));
    return;
  }
  Movement copy = m;
  copy.device = stamp.device;
  copy.site = stamp.site;
  copy.seq = stamp.seq;
  copy.hlc = stamp.hlc;
  out = to_json(copy).dump(-1, ' ', false, json::error_handler_t::replace);
}

void to_json_text(const Movement& m, std::string& out) {
  to_json_text(m, Stamp{m.device, m.site, m.seq, m.hlc}, out);
}

std::string to_json_text(const Movement& m) {
  std::string out;
  to_json_text(m, out);
  return out;
}

std::string chain_hash(std::string_view prev_hash, std::string_view canonical) {
  // One EVP context per thread, reused: the journal and the ledger's parse
  // thread hash every movement.
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx c;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (c.ctx == nullptr || EVP_DigestInit_ex(c.ctx, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(c.ctx, prev_hash.data(), prev_hash.size()) != 1 ||
      EVP_DigestUpdate(c.ctx, canonical.data(), canonical.size()) != 1 || EVP_DigestFinal_ex(c.ctx, md, &len) != 1) {
    return {};  // only on allocation failure inside OpenSSL; an empty hash never verifies
  }
  constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * static_cast<std::size_t>(len), '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xF];
  }
  return out;
}

bool is_chain_hash(std::string_view text) {
  return text.size() == kGenesisHash.size() &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void append_chained(std::string& out, std::string_view canonical, std::string_view prev_hash, std::string_view hash) {
  // canonical is a JSON object: drop its closing brace, add the two members.
  if (!canonical.empty() && canonical.back() == '}') canonical.remove_suffix(1);
  out.append(canonical);
  out.append(R"(,"hash":")");
  out.append(hash);
  out.append(R"(","prev_hash":")");
  out.append(prev_hash);
  out.append("\"}");
}

Result<Movement> movement_from_json(const json& j) {
  Movement m;
  try {
    if (auto e = parse_into(j, m)) return std::move(*e);
  } catch (const json::exception& e) {
    // The explicit checks above should make this unreachable; it is the
    // backstop that keeps nlohmann exceptions inside this adapter.
    return make_error("bad_json", std::string("movement: ") + e.what());
  }
  if (auto valid = scanner::validate(m); !valid) return valid.error();
  return m;
}

// ---------------------------------------------------------- device exceptions

json to_json(const scanner::DeviceException& e) {
  return json{{"kind", e.kind},         {"operator", e.operator_id}, {"mode", e.mode},
              {"expected", e.expected}, {"scanned", e.scanned},      {"evidence", e.evidence},
              {"time_ms", e.time_ms},   {"task", e.task},            {"reason", e.reason}};
}

std::string to_json_text(const scanner::DeviceException& e) {
  // Raw scan bytes that are not UTF-8 become U+FFFD (scans.text keeps them).
  return to_json(e).dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<scanner::DeviceException> device_exception_from_json(const json& j) {
  constexpr std::size_t kMaxText = 4096;
  constexpr std::size_t kMaxEvidence = 1000;
  auto fail = [](std::string_view field, std::string_view what) {
    return make_error("bad_json", "device exception: \"" + std::string(field) + "\" " + std::string(what));
  };
  if (!j.is_object()) return make_error("bad_json", "device exception: must be a JSON object");
  scanner::DeviceException e;
  const std::pair<const char*, std::string*> strings[] = {
      {"kind", &e.kind},       {"operator", &e.operator_id}, {"mode", &e.mode},    {"expected", &e.expected},
      {"scanned", &e.scanned}, {"task", &e.task},            {"reason", &e.reason}};
  for (const auto& [key, out] : strings) {
    const auto it = j.find(key);
    if (it == j.end()) return fail(key, "is missing");
    if (!it->is_string()) return fail(key, "must be a string");
    *out = it->get<std::string>();
    if (out->size() > kMaxText) return fail(key, "is longer than 4096 bytes");
  }
  if (e.kind.empty() || e.kind.size() > 32 ||
      !std::all_of(e.kind.begin(), e.kind.end(),
                   [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; })) {
    return fail("kind", "must be 1-32 of [a-z0-9_]");
  }
  const auto t = j.find("time_ms");
  if (t == j.end()) return fail("time_ms", "is missing");
  if (!t->is_number_integer() ||
      (t->is_number_unsigned() && t->get<std::uint64_t>() > std::uint64_t{std::numeric_limits<std::int64_t>::max()})) {
    return fail("time_ms", "must be an integer (Unix ms)");
  }
  e.time_ms = t->get<std::int64_t>();
  const auto ev = j.find("evidence");
  if (ev == j.end()) return fail("evidence", "is missing");
  if (!ev->is_array()) return fail("evidence", "must be an array of strings");
  if (ev->size() > kMaxEvidence) return fail("evidence", "has more than 1000 scans");
  for (const auto& x : *ev) {
    if (!x.is_string()) return fail("evidence", "must be an array of strings");
    if (x.get_ref<const std::string&>().size() > kMaxText) return fail("evidence", "has a scan longer than 4096 bytes");
    e.evidence.push_back(x.get<std::string>());
  }
  return e;
}

}  // namespace tally::wire
