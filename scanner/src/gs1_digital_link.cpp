// GS1 Digital Link URIs → Gs1Data (see gs1.hpp), by the rules of the GS1
// Digital Link standard as the GS1 Barcode Syntax Engine applies them:
//   - URI characters only (RFC 3986), the scheme http:// or https:// in one
//     case (HTTPS:// too), a host (name, IPv4 or [IPv6], port), the path;
//   - the primary key is found walking back from the end of the path over
//     /AI/value pairs of known AIs: the first key met (the rightmost), all
//     before it is the stem; a trailing '/' leaves no pair at the end;
//   - the AIs after the key follow one of its qualifier sequences, in order
//     (01: 22, 10, 21 or 235), each from the Syntax Dictionary;
//   - query parameters with a numeric name are AIs (of the dictionary, else
//     refused as "unknown_ai" whatever the policy): each a permitted data
//     attribute, not a qualifier that belongs in the path, with a value; a
//     '+' (a space in a query) is refused; other parameters are ignored;
//   - no AI twice; compressed URIs are refused as not supported.
// Every value is percent-decoded and then validated like any other element.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gs1_element.hpp"
#include "gs1_table.hpp"
#include "tally/scanner/gs1.hpp"
#include "text.hpp"

namespace tally::scanner {

namespace {

using gs1::Ctx;
using gs1::fail;
using gs1::kMaxText;

Error bad(std::string what) { return make_error("bad_digital_link", std::move(what)); }

Error bad_at(std::size_t off, const std::string& what) { return bad("offset " + std::to_string(off) + ": " + what); }

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view s, std::size_t off) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const int h = i + 2 < s.size() ? hex(s[i + 1]) : -1;
    const int l = h >= 0 ? hex(s[i + 2]) : -1;
    if (l < 0) return bad_at(off + i, "bad percent-encoding");
    out.push_back(static_cast<char>(h * 16 + l));
    i += 2;
  }
  return out;
}

// RFC 3986 unreserved and reserved characters, and '%'.
bool uri_char(char c) {
  return text::is_digit(c) || text::is_alpha(c) ||
         std::string_view("-._~:/?#[]@!$&'()*+,;=%").find(c) != std::string_view::npos;
}

struct Segment {
  std::string_view text;
  std::size_t off;
};

// Where the path starts (the '/' after the host), for a scheme of http or
// https in any case; nullopt when there is no host and path.
std::optional<std::size_t> dl_path_start(std::string_view s) {
  std::size_t p = 0;
  if (text::starts_with_ci(s, "https://"))
    p = 8;
  else if (text::starts_with_ci(s, "http://"))
    p = 7;
  else
    return std::nullopt;
  const auto slash = s.find('/', p);
  if (slash == std::string_view::npos || slash == p) return std::nullopt;
  for (std::size_t i = p; i < slash; ++i)  // a name, an IPv4 or an [IPv6] address, a port
    if (!text::is_alnum(s[i]) && std::string_view("-.:[]").find(s[i]) == std::string_view::npos) return std::nullopt;
  return slash;
}

std::vector<Segment> path_segments(std::string_view s, std::size_t start, std::size_t end) {
  std::vector<Segment> segs;
  std::size_t b = start + 1;
  while (b <= end) {
    auto e = s.find('/', b);
    if (e == std::string_view::npos || e > end) e = end;
    segs.push_back({s.substr(b, e - b), b});
    b = e + 1;
  }
  return segs;
}

// Index of the segment holding the primary key, walking back from the end
// over /AI/value pairs of known AIs; npos when none.
std::size_t dl_key_index(const std::vector<Segment>& segs) {
  for (std::size_t k = segs.size(); k >= 2; k -= 2) {
    const gs1::DictEntry* spec = gs1::dictionary_entry(segs[k - 2].text);
    if (spec == nullptr) return std::string_view::npos;
    if (spec->primary_key) return k - 2;
  }
  return std::string_view::npos;
}

// A compressed Digital Link: the last path segment one run of base64url
// characters, long enough to hold a key, with letters and digits.
bool looks_compressed(const std::vector<Segment>& segs) {
  if (segs.empty()) return false;
  const std::string_view t = segs.back().text;
  bool digit = false;
  bool alpha = false;
  for (char c : t) {
    if (!text::is_digit(c) && !text::is_alpha(c) && c != '-' && c != '_') return false;
    digit = digit || text::is_digit(c);
    alpha = alpha || text::is_alpha(c);
  }
  return t.size() >= 8 && digit && alpha;
}

template <typename F>
void split(std::string_view s, char sep, F&& f) {
  std::size_t b = 0;
  while (b <= s.size()) {
    const auto e = std::min(s.find(sep, b), s.size());
    f(s.substr(b, e - b));
    b = e + 1;
  }
}

// Whether `ais` (the key first) follows one of the key's qualifier
// sequences: each qualifier optional, the given ones in the sequence's order.
bool key_qualifiers_ok(const std::vector<std::string>& ais) {
  if (ais.empty()) return false;
  const gs1::DictEntry* key = gs1::dictionary_entry(ais.front());
  if (key == nullptr || !key->primary_key) return false;
  if (ais.size() == 1) return true;
  bool ok = false;
  split(key->qualifiers, '|', [&](std::string_view sequence) {
    std::vector<std::string_view> order;
    split(sequence, ',', [&](std::string_view q) { order.push_back(q); });
    std::size_t next = 0;
    bool fits = true;
    for (std::size_t i = 1; i < ais.size() && fits; ++i) {
      const auto at = std::find(order.begin() + static_cast<std::ptrdiff_t>(next), order.end(), ais[i]);
      fits = at != order.end();
      next = static_cast<std::size_t>(at - order.begin()) + 1;
    }
    ok = ok || (fits && !sequence.empty());
  });
  return ok;
}

std::string qualifier_text(const gs1::DictEntry& key) {
  std::string out;
  split(key.qualifiers, '|', [&](std::string_view sequence) {
    if (!out.empty()) out += ", or ";
    std::string seq(sequence);
    std::replace(seq.begin(), seq.end(), ',', ' ');
    out += seq;
  });
  return out.empty() ? "none" : out;
}

}  // namespace

bool looks_like_digital_link(std::string_view t) {
  if (t.size() > kMaxText) return false;
  const auto start = dl_path_start(t);
  if (!start) return false;
  const auto end = std::min(t.find_first_of("?#"), t.size());
  if (end < *start) return false;
  const auto segs = path_segments(t, *start, end);
  return dl_key_index(segs) != std::string_view::npos || looks_compressed(segs);
}

// Long on purpose: the rules of the header, in the order a URI is read.
Result<Gs1Data> parse_digital_link(std::string_view s, const Gs1Options& o) {
  if (s.size() > kMaxText) return bad("the URI is longer than 4096 bytes");
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!uri_char(s[i])) return bad_at(i, gs1::show_char(s[i]) + " is not allowed in a URI");
  const auto start = dl_path_start(s);
  if (!start) return bad("not an http(s) URI with a host and a path");
  const std::string_view scheme = s.substr(0, s.find(':'));
  if (scheme != "http" && scheme != "https" && scheme != "HTTP" && scheme != "HTTPS")
    return bad_at(0, "the scheme \"" + std::string(scheme) + "\" is not http or https in one case");
  const auto frag = std::min(s.find('#'), s.size());
  const auto qpos = std::min(s.find('?'), frag);
  if (qpos < *start) return bad("not an http(s) URI with a host and a path");
  const auto segs = path_segments(s, *start, qpos);
  if (!segs.empty() && segs.back().text.empty()) return bad_at(qpos - 1, "the path ends in '/'");
  const auto key = dl_key_index(segs);
  if (key == std::string_view::npos) {
    if (looks_compressed(segs))
      return bad("\"" + text::quote(segs.back().text) +
                 "\" looks like a compressed GS1 Digital Link URI: not supported (print the uncompressed form)");
    return bad("no GS1 primary key (01, 00, 414, …) followed by its value at the end of the path");
  }
  Gs1Data d;
  d.source_form = "digital_link";
  const int year = gs1::ref_year(o);
  auto add = [&](std::string_view ai, std::string_view raw_value, std::size_t off,
                 std::size_t value_off) -> std::optional<Error> {
    if (raw_value.empty()) return fail("bad_digital_link", ai, off, "no value");
    auto value = percent_decode(raw_value, value_off);
    if (!value) return value.error();
    std::string v = std::move(*value);
    const gs1::AiSpec* spec = gs1::find_ai(ai);
    if (ai == "01" && (v.size() == 8 || v.size() == 12 || v.size() == 13) && text::all_digits(v))
      v.insert(0, 14 - v.size(), '0');  // GTIN-8/12/13 in a URI are padded to 14
    if (spec == nullptr && o.unknown_ai == UnknownAiPolicy::error) return fail("unknown_ai", ai, off, "unknown AI");
    for (const Gs1Element& e : d.elements)
      if (e.ai == ai) return fail("bad_digital_link", ai, off, "appears twice in the URI");
    auto el = gs1::make_element(spec, ai, v, Ctx{ai, off, value_off, year});
    if (!el) return el.error();
    if (spec == nullptr)
      d.warnings.push_back("unknown AI " + std::string(ai) + " at offset " + std::to_string(off) +
                           ": kept as raw data");
    d.elements.push_back(std::move(*el));
    return std::nullopt;
  };
  std::vector<std::string> path_ais;
  for (std::size_t i = key; i + 1 < segs.size(); i += 2) {
    path_ais.emplace_back(segs[i].text);
    if (!key_qualifiers_ok(path_ais)) {
      const gs1::DictEntry& k = *gs1::dictionary_entry(path_ais.front());
      return fail("bad_digital_link", segs[i].text, segs[i].off,
                  "not a key qualifier of AI " + path_ais.front() + " here (in order: " + qualifier_text(k) + ")");
    }
    if (auto err = add(segs[i].text, segs[i + 1].text, segs[i].off, segs[i + 1].off)) return *err;
  }
  if (qpos < frag) {
    std::optional<Error> error;
    std::size_t b = qpos + 1;
    split(s.substr(qpos + 1, frag - qpos - 1), '&', [&](std::string_view param) {
      const std::size_t off = b;
      b += param.size() + 1;
      const auto eq = param.find('=');
      const std::string_view name = param.substr(0, std::min(eq, param.size()));
      if (error || eq == std::string_view::npos || name.empty() || !text::all_digits(name)) return;
      const std::string_view value = param.substr(eq + 1);
      if (const auto plus = value.find('+'); plus != std::string_view::npos) {
        error = bad_at(off + eq + 1 + plus, "'+' in a query value is a space, which GS1 data cannot hold (%2B is '+')");
        return;
      }
      const gs1::DictEntry* spec = gs1::dictionary_entry(name);
      if (spec == nullptr) {  // numeric names are AIs in a Digital Link
        error = fail("unknown_ai", name, off, "a numeric query parameter that is not a GS1 AI");
        return;
      }
      {
        if (!spec->data_attr) {
          error = fail("bad_digital_link", name, off, "is not a Digital Link data attribute");
          return;
        }
        for (std::size_t j = 1; j <= path_ais.size(); ++j) {
          std::vector<std::string> seq(path_ais.begin(), path_ais.begin() + static_cast<std::ptrdiff_t>(j));
          seq.emplace_back(name);
          seq.insert(seq.end(), path_ais.begin() + static_cast<std::ptrdiff_t>(j), path_ais.end());
          if (key_qualifiers_ok(seq)) {
            error = fail("bad_digital_link", name, off,
                         "is a key qualifier of AI " + path_ais.front() + ": it belongs in the path, not the query");
            return;
          }
        }
      }
      error = add(name, value, off, off + eq + 1);
    });
    if (error) return *error;
  }
  if (auto err = gs1::check_message(d)) return *err;
  return d;
}

}  // namespace tally::scanner
