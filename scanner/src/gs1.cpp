// GS1 element strings, HRI and Digital Link → Gs1Data (see gs1.hpp).
//
// One validator (make_element) turns an (AI, data) pair into a typed
// Gs1Element whatever form it came from; the three front ends only find the
// pairs. Offsets in messages are byte offsets into the text the caller gave.
#include "tally/scanner/gs1.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <set>
#include <string>
#include <utility>

#include "gs1_element.hpp"
#include "gs1_lint.hpp"
#include "gs1_table.hpp"
#include "text.hpp"

namespace tally::scanner {

namespace gs1 {
namespace {

constexpr char kGS = '\x1D';
constexpr std::string_view kCset82 =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

bool cset82(char c) { return c != '\0' && kCset82.find(c) != std::string_view::npos; }

std::string where(std::string_view ai, std::size_t off) {
  return "AI " + std::string(ai) + " at offset " + std::to_string(off) + ": ";
}

}  // namespace

Error fail(std::string code, std::string_view ai, std::size_t off, const std::string& what) {
  return make_error(std::move(code), where(ai, off) + what);
}

std::string show_char(char c) {
  if (c > ' ' && c < 0x7F) return std::string("'") + c + "'";
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto u = static_cast<unsigned char>(c);
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 0xF];
}

std::optional<Error> need_digits(const Ctx& c, std::string_view d, std::size_t from) {
  for (std::size_t i = from; i < d.size(); ++i)
    if (!text::is_digit(d[i]))
      return fail("bad_gs1", c.ai, c.off,
                  show_char(d[i]) + " at offset " + std::to_string(c.data_off + i) + " where a digit is required");
  return std::nullopt;
}

namespace {

int two(std::string_view s, std::size_t i) { return (s[i] - '0') * 10 + (s[i + 1] - '0'); }

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

int current_year() {
  const std::time_t now = std::time(nullptr);
  // Civil year from days since 1970-01-01 (H. Hinnant's algorithm).
  const long long z = static_cast<long long>(now) / 86400 + 719468;
  const long long era = (z >= 0 ? z : z - 146096) / 146097;
  const long long doe = z - era * 146097;
  const long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const long long mp = (5 * doy + 2) / 153;
  const long long m = mp < 10 ? mp + 3 : mp - 9;
  return static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
}

// GS1 General Specifications §7.12: YY minus the reference year's YY in
// 51..99 is the previous century, in -99..-50 the next one, else the same
// (so a year is at most 50 years ahead or 49 behind the reference year).
int full_year(int yy, int ref) {
  const int cur = ref % 100;
  const int century = ref - cur;
  const int diff = yy - cur;
  if (diff >= 51) return century - 100 + yy;
  if (diff <= -50) return century + 100 + yy;
  return century + yy;
}

std::string pad(int v, int width) {
  std::string s = std::to_string(v);
  if (static_cast<int>(s.size()) < width) s.insert(0, static_cast<std::size_t>(width) - s.size(), '0');
  return s;
}

// YYMMDD at d[0..6) → ISO date; DD = 00 is the last day of the month when dd0.
Result<std::string> date6(const Ctx& c, std::string_view d, bool dd0) {
  const int yy = two(d, 0);
  const int mm = two(d, 2);
  const int dd = two(d, 4);
  if (mm < 1 || mm > 12) return fail("bad_gs1", c.ai, c.off, "month " + pad(mm, 2));
  const int y = full_year(yy, c.ref_year);
  const int last = days_in_month(y, mm);
  int day = dd;
  if (dd == 0) {
    if (!dd0) return fail("bad_gs1", c.ai, c.off, "day 00");
    day = last;
  } else if (dd > last) {
    return fail("bad_gs1", c.ai, c.off, "day " + pad(dd, 2) + " of " + pad(y, 4) + "-" + pad(mm, 2));
  }
  return pad(y, 4) + "-" + pad(mm, 2) + "-" + pad(day, 2);
}

std::string place_decimal(std::string_view d, int n) {
  std::string digits(d);
  const auto un = static_cast<std::size_t>(n);
  if (digits.size() <= un) digits.insert(0, un + 1 - digits.size(), '0');
  std::string whole = digits.substr(0, digits.size() - un);
  const auto nz = whole.find_first_not_of('0');
  whole = nz == std::string::npos ? "0" : whole.substr(nz);
  if (n == 0) return whole;
  return whole + "." + digits.substr(digits.size() - un);
}

std::optional<Error> need_cset82(const Ctx& c, std::string_view d, std::size_t from = 0) {
  for (std::size_t i = from; i < d.size(); ++i)
    if (!cset82(d[i]))
      return fail("bad_gs1", c.ai, c.off,
                  show_char(d[i]) + " at offset " + std::to_string(c.data_off + i) + " is not in GS1 CSET 82");
  return std::nullopt;
}

std::optional<Error> need_csum(const Ctx& c, std::string_view digits) {
  if (text::gs1_check_digit_ok(digits)) return std::nullopt;
  int sum = 0;
  bool three = true;
  for (std::size_t i = digits.size() - 1; i-- > 0;) {
    const int v = digits[i] - '0';
    sum += three ? 3 * v : v;
    three = !three;
  }
  const int expect = (10 - sum % 10) % 10;
  return fail("bad_check_digit", c.ai, c.off,
              "check digit of " + std::string(digits) + " is " + digits.back() + ", expected " +
                  std::to_string(expect));
}

}  // namespace

// Long on purpose: the whole check of one element in one place, one case per
// format kind of the AI table.
Result<Gs1Element> make_element(const AiSpec* spec, std::string_view ai, std::string_view data, const Ctx& c) {
  Gs1Element e;
  e.ai = std::string(ai);
  e.raw = std::string(data);
  e.offset = c.off;
  if (spec == nullptr) {
    e.known = false;
    if (data.empty()) return fail("bad_gs1", ai, c.off, "no data");
    if (data.size() > 90) return fail("bad_gs1", ai, c.off, std::to_string(data.size()) + " characters, at most 90");
    if (auto err = need_cset82(c, data)) return *err;
    return e;
  }
  e.title = std::string(spec->title);
  e.unit = std::string(spec->unit);
  const std::size_t len = data.size();
  if (len < spec->min || len > spec->max) {
    std::string what;
    if (spec->min == spec->max)
      what = std::to_string(spec->min) + " characters expected, " + std::to_string(len) + " found";
    else if (len == 0)
      what = "no data";
    else if (len < spec->min)
      what = std::to_string(len) + " characters, at least " + std::to_string(spec->min);
    else
      what = std::to_string(len) + " characters, at most " + std::to_string(spec->max) +
             (spec->predefined ? "" : " (a missing GS separator?)");
    return fail("bad_gs1", ai, c.off, what);
  }
  const int n = ai.size() == 4 ? ai[3] - '0' : 0;
  switch (spec->kind) {
    case Kind::digits:
      if (auto err = need_digits(c, data)) return *err;
      break;
    case Kind::digits_csum:
      if (auto err = need_digits(c, data)) return *err;
      if (auto err = need_csum(c, data)) return *err;
      break;
    case Kind::text:
      if (auto err = need_cset82(c, data)) return *err;
      break;
    case Kind::date:
    case Kind::date_exact: {
      if (auto err = need_digits(c, data)) return *err;
      auto d = date6(c, data, spec->kind == Kind::date);
      if (!d) return d.error();
      e.date_iso = std::move(*d);
      break;
    }
    case Kind::datetime: {
      if (auto err = need_digits(c, data)) return *err;
      if (len % 2 != 0) return fail("bad_gs1", ai, c.off, "incomplete time (" + std::to_string(len) + " digits)");
      auto d = date6(c, data, false);
      if (!d) return d.error();
      std::string iso = std::move(*d);
      const int hh = two(data, 6);
      if (hh > 23) return fail("bad_gs1", ai, c.off, "hour " + pad(hh, 2));
      iso += "T" + pad(hh, 2);
      if (len >= 10) {
        const int mi = two(data, 8);
        if (mi > 59) return fail("bad_gs1", ai, c.off, "minute " + pad(mi, 2));
        iso += ":" + pad(mi, 2);
      }
      if (len >= 12) {
        const int ss = two(data, 10);
        if (ss > 59) return fail("bad_gs1", ai, c.off, "second " + pad(ss, 2));
        iso += ":" + pad(ss, 2);
      }
      e.date_iso = std::move(iso);
      break;
    }
    case Kind::measure:
    case Kind::amount:
      if (n > spec->max_n)
        return fail("bad_gs1", ai, c.off, "decimal point indicator " + std::to_string(n) + " is over " +
                                              std::to_string(spec->max_n));
      if (auto err = need_digits(c, data)) return *err;
      e.decimal = place_decimal(data, n);
      break;
    case Kind::amount_iso:
      if (auto err = need_digits(c, data)) return *err;
      e.unit = std::string(data.substr(0, 3));
      e.decimal = place_decimal(data.substr(3), n);
      break;
    case Kind::count: {
      if (auto err = need_digits(c, data)) return *err;
      std::int64_t v = 0;
      std::from_chars(data.data(), data.data() + data.size(), v);  // <= 8 digits: fits
      e.integer = v;
      break;
    }
    case Kind::gdti:
    case Kind::grai: {
      const std::size_t key = spec->kind == Kind::grai ? 14 : 13;
      if (auto err = need_digits(c, data.substr(0, key))) return *err;
      if (spec->kind == Kind::grai && data[0] != '0')
        return fail("bad_gs1", ai, c.off, "the first digit must be 0");
      if (auto err = need_csum(c, data.substr(key - 13, 13))) return *err;
      if (auto err = need_cset82(c, data, key)) return *err;
      break;
    }
    case Kind::gcn:
      if (auto err = need_digits(c, data)) return *err;
      if (auto err = need_csum(c, data.substr(0, 13))) return *err;
      break;
    case Kind::post_iso:
      if (auto err = need_digits(c, data.substr(0, 3))) return *err;
      if (auto err = need_cset82(c, data, 3)) return *err;
      break;
    case Kind::itip:
      if (auto err = need_digits(c, data)) return *err;
      if (auto err = need_csum(c, data.substr(0, 14))) return *err;
      break;
    case Kind::date_range: {  // the first date kept; the second checked
      if (auto err = need_digits(c, data)) return *err;
      if (len != 6 && len != 12) return fail("bad_gs1", ai, c.off, "a date or two (6 or 12 digits), " + std::to_string(len) + " found");
      auto d = date6(c, data, false);
      if (!d) return d.error();
      if (len == 12)
        if (auto to = date6(c, data.substr(6), false); !to) return to.error();
      e.date_iso = std::move(*d);
      break;
    }
    case Kind::cset39:  // run_linters checks each character
      break;
    case Kind::base64url:
      for (std::size_t i = 0; i < len; ++i) {
        const char ch = data[i];
        const bool pad = ch == '=' && data.find_first_not_of('=', i) == std::string_view::npos;
        if (!text::is_alnum(ch) && ch != '-' && ch != '_' && !pad)
          return fail("bad_gs1", ai, c.off,
                      show_char(ch) + " at offset " + std::to_string(c.data_off + i) + " is not in GS1 CSET 64");
      }
      break;
  }
  if (auto err = run_linters(*spec, data, c)) return *err;
  return e;
}

std::optional<Error> check_message(Gs1Data& d) {
  if (const Gs1Element* conflict = lint(d))
    return fail("bad_gs1", conflict->ai, conflict->offset, "repeated with a different value");
  return std::nullopt;
}

int ref_year(const Gs1Options& o) { return o.reference_year > 0 ? o.reference_year : current_year(); }

}  // namespace gs1

namespace {

using gs1::AiSpec;
using gs1::Ctx;
using gs1::fail;
using gs1::kGS;
using gs1::kMaxText;
using gs1::make_element;
using gs1::ref_year;
using gs1::show_char;

// ---- element strings -------------------------------------------------------

struct EsParser {
  std::string_view s;
  const Gs1Options& o;
  int year;

  std::size_t sep_len(std::size_t p) const {
    if (s[p] == kGS) return 1;
    for (const auto& sub : o.gs_substitutes)
      if (!sub.empty() && s.substr(p).starts_with(sub)) return sub.size();
    return 0;
  }

  bool has_separator(std::size_t from) const {
    for (std::size_t p = from; p < s.size(); ++p)
      if (sep_len(p) != 0) return true;
    return false;
  }

  // Parses s[p…]. strict: known AIs only and no ambiguity probing (used to
  // test whether a tail could be read as more AIs). may_have_lost_gs: probe
  // a variable-length field that runs to the end.
  Result<std::vector<Gs1Element>> run(std::size_t p, bool strict, bool may_have_lost_gs,
                                      std::vector<std::string>* warnings) const {
    std::vector<Gs1Element> out;
    const std::size_t n = s.size();
    while (true) {
      while (p < n && sep_len(p) != 0) p += sep_len(p);
      if (p >= n) break;
      std::size_t ai_len = 0;
      const AiSpec* spec = gs1::lookup(s.substr(p), ai_len);
      if (spec == nullptr) {
        std::size_t k = p;
        while (k < n && k - p < 4 && text::is_digit(s[k])) ++k;
        if (k - p < 2)
          return make_error("bad_gs1", "offset " + std::to_string(p) + ": expected an AI (2 to 4 digits), found " +
                                           (p < n ? show_char(s[p]) : std::string("the end")));
        ai_len = gs1::unknown_ai_length(s.substr(p));
        if (p + ai_len > n || k - p < ai_len) ai_len = k - p;
        const auto ai = s.substr(p, ai_len);
        if (strict || o.unknown_ai == UnknownAiPolicy::error)
          return fail("unknown_ai", ai, p, "unknown AI");
        std::size_t r = p + ai_len;
        while (r < n && sep_len(r) == 0) ++r;
        const Ctx c{ai, p, p + ai_len, year};
        auto el = make_element(nullptr, ai, s.substr(p + ai_len, r - p - ai_len), c);
        if (!el) return el.error();
        if (warnings != nullptr)
          warnings->push_back("unknown AI " + std::string(ai) + " at offset " + std::to_string(p) +
                              ": kept as raw data up to the next GS");
        out.push_back(std::move(*el));
        p = r;
        continue;
      }
      const auto ai = s.substr(p, ai_len);
      const std::size_t q = p + ai_len;
      const Ctx c{ai, p, q, year};
      std::size_t r = q;
      if (spec->min == spec->max) {
        if (q + spec->max > n)
          return fail("bad_gs1", ai, p,
                      std::to_string(spec->max) + " characters expected, " + std::to_string(n - q) + " found");
        r = q + spec->max;
      } else {
        while (r < n && sep_len(r) == 0) ++r;
      }
      auto el = make_element(spec, ai, s.substr(q, r - q), c);
      if (!el) return el.error();
      // GS may have been lost: the field ran to the end. If its tail reads
      // as further (known, non-internal) AIs, refuse to guess.
      if (spec->min != spec->max && r == n && may_have_lost_gs && !strict) {
        for (std::size_t k = q + 1; k + 1 < n; ++k) {
          auto tail = run(k, true, false, nullptr);
          if (tail && !tail->empty() && (tail->front().ai.size() != 2 || tail->front().ai[0] != '9'))
            return fail("gs1_ambiguous", ai, p,
                        "no GS separator: the data could end at offset " + std::to_string(k) + " before AI " +
                            tail->front().ai + "; scan with GS (FNC1) or a GS substitute");
        }
      }
      out.push_back(std::move(*el));
      p = r;
    }
    return out;
  }
};

Result<Gs1Data> element_string(std::string_view text, std::size_t begin, std::string_view sym,
                               const Gs1Options& o) {
  Gs1Data d;
  d.source_form = "element_string";
  d.symbology = std::string(sym);
  const EsParser parser{text, o, ref_year(o)};
  const bool lost = sym.empty() && !parser.has_separator(begin);
  auto els = parser.run(begin, false, lost, &d.warnings);
  if (!els) return els.error();
  if (els->empty()) return make_error("bad_gs1", "offset " + std::to_string(begin) + ": no GS1 data");
  d.elements = std::move(*els);
  if (auto err = gs1::check_message(d)) return *err;
  return d;
}

// ---- HRI ----------------------------------------------------------------

// "(" + 2–4 digits + ")" at p? Returns the AI length or 0.
std::size_t hri_ai_at(std::string_view s, std::size_t p) {
  if (p >= s.size() || s[p] != '(') return 0;
  std::size_t k = p + 1;
  while (k < s.size() && text::is_digit(s[k]) && k - p - 1 < 4) ++k;
  const std::size_t len = k - p - 1;
  if (len < 2 || k >= s.size() || s[k] != ')') return 0;
  return len;
}

}  // namespace

// ---- public ---------------------------------------------------------------

const Gs1Element* Gs1Data::find(std::string_view ai) const {
  for (const auto& e : elements)
    if (e.ai == ai) return &e;
  return nullptr;
}

std::string Gs1Data::to_hri() const {
  std::string out;
  for (const auto& e : elements) {
    out += "(" + e.ai + ")";
    for (char c : e.raw) {
      if (c == '(') out.push_back('\\');
      out.push_back(c);
    }
  }
  return out;
}

std::string Gs1Data::to_element_string() const {
  std::string out;
  bool need_gs = false;
  for (const auto& e : elements) {
    if (need_gs) out.push_back(kGS);
    out += e.ai + e.raw;
    const AiSpec* spec = e.known ? gs1::find_ai(e.ai) : nullptr;
    need_gs = spec == nullptr || !spec->predefined;
  }
  return out;
}

SymbologyId split_symbology(std::string_view t) {
  SymbologyId s;
  s.rest = t;
  if (t.size() < 3 || t[0] != ']' || !text::is_alpha(t[1])) return s;
  s.id = t.substr(0, 3);
  s.rest = t.substr(3);
  for (std::string_view g : {"]C1", "]e0", "]d2", "]Q3", "]J1"})
    if (s.id == g) s.gs1 = true;
  for (std::string_view g : {"]E0", "]E3", "]E4", "]I0", "]I1"})
    if (s.id == g) s.gtin = true;
  return s;
}


Result<Gs1Data> parse_element_string(std::string_view text, const Gs1Options& o) {
  if (text.size() > kMaxText) return make_error("bad_gs1", "the text is longer than 4096 bytes");
  const auto sym = split_symbology(text);
  return element_string(text, sym.id.size(), sym.id, o);
}

Result<Gs1Data> parse_hri(std::string_view s, const Gs1Options& o) {
  if (s.size() > kMaxText) return make_error("bad_gs1", "the text is longer than 4096 bytes");
  Gs1Data d;
  d.source_form = "hri";
  const int year = ref_year(o);
  std::size_t p = 0;
  if (s.empty()) return make_error("bad_gs1", "offset 0: no GS1 data");
  while (p < s.size()) {
    const std::size_t len = hri_ai_at(s, p);
    if (len == 0) return make_error("bad_gs1", "offset " + std::to_string(p) + ": expected \"(AI)\"");
    const auto ai = s.substr(p + 1, len);
    const std::size_t q = p + len + 2;
    std::string data;
    std::size_t r = q;
    while (r < s.size() && hri_ai_at(s, r) == 0) {
      if (s[r] == '\\' && r + 1 < s.size() && s[r + 1] == '(') ++r;
      data.push_back(s[r]);
      ++r;
    }
    const AiSpec* spec = gs1::find_ai(ai);
    if (spec == nullptr && o.unknown_ai == UnknownAiPolicy::error) return fail("unknown_ai", ai, p, "unknown AI");
    const Ctx c{ai, p, q, year};
    auto el = make_element(spec, ai, data, c);
    if (!el) return el.error();
    if (spec == nullptr)
      d.warnings.push_back("unknown AI " + std::string(ai) + " at offset " + std::to_string(p) + ": kept as raw data");
    d.elements.push_back(std::move(*el));
    p = r;
  }
  if (auto err = gs1::check_message(d)) return *err;
  return d;
}


namespace {

// The bare GTIN of an EAN/UPC ("]E0", "]E3", "]E4") or ITF ("]I0", "]I1")
// symbol, as (01) padded to 14 digits. "]E0": 13 digits (ISO/IEC 15420), or
// what scanners set to send UPC-A and UPC-E as printed also send under it:
// 12 digits (UPC-A) or 8 (UPC-E, expanded to its UPC-A). "]E3": the 13
// digits then a 2- or 5-digit add-on, kept in Gs1Data::addon. "]E4": EAN-8.
// "]I0"/"]I1": ITF-14.
Result<Gs1Data> ean_upc_itf(const SymbologyId& sym, std::size_t begin, const Gs1Options& o) {
  const std::string_view body = sym.rest;
  const auto n = body.size();
  const char kind = sym.id[1];
  const char mod = sym.id[2];
  std::string_view main = body;
  std::string_view addon;
  bool shape = text::all_digits(body);
  std::string carries;
  if (kind == 'I') {
    carries = "an ITF-14 GTIN (14 digits)";
    shape = shape && n == 14;
  } else if (mod == '4') {
    carries = "an EAN-8 (8 digits)";
    shape = shape && n == 8;
  } else if (mod == '3') {
    carries = "an EAN-13 and its add-on (15 or 18 digits)";
    shape = shape && (n == 15 || n == 18);
    main = body.substr(0, std::min<std::size_t>(n, 13));
    addon = body.substr(main.size());
  } else {
    carries = "an EAN-13 (13 digits), UPC-A (12) or UPC-E (8)";
    shape = shape && (n == 13 || n == 12 || n == 8);
  }
  if (!shape)
    return make_error("bad_gs1", "offset " + std::to_string(begin) + ": " + std::string(sym.id) + " carries " +
                                     carries + ", got \"" + text::quote(body) + "\"");
  std::string digits(main);
  if (kind == 'E' && mod == '0' && n == 8) {
    auto upca = text::upce_to_upca(main);
    if (!upca)
      return make_error("bad_gs1", "offset " + std::to_string(begin) + ": UPC-E \"" + std::string(main) +
                                       "\" has number system " + main[0] + ", only 0 and 1 exist");
    digits = *upca;
  }
  Gs1Data d;
  d.source_form = "element_string";
  d.symbology = std::string(sym.id);
  d.addon = std::string(addon);
  const std::string gtin = std::string(14 - digits.size(), '0') + digits;
  auto el = make_element(gs1::find_ai("01"), "01", gtin, Ctx{"01", begin, begin, ref_year(o)});
  if (!el) return el.error();
  d.elements.push_back(std::move(*el));
  return d;
}

}  // namespace

Result<Gs1Data> parse_gs1(std::string_view text, const Gs1Options& o) {
  if (text.size() > kMaxText) return make_error("bad_gs1", "the text is longer than 4096 bytes");
  const auto sym = split_symbology(text);
  const auto body = sym.rest;
  const std::size_t begin = sym.id.size();
  auto with_sym = [&](Result<Gs1Data> r) -> Result<Gs1Data> {
    if (r) r->symbology = std::string(sym.id);
    return r;
  };
  if (sym.gtin) return ean_upc_itf(sym, begin, o);
  if (!body.empty() && body.front() == '(') {
    auto r = parse_hri(body, o);
    if (!r && begin > 0) return make_error(r.error().code, r.error().message + " (after the " + std::string(sym.id) + " prefix)");
    return with_sym(std::move(r));
  }
  if (looks_like_digital_link(body)) {
    auto r = parse_digital_link(body, o);
    if (!r && begin > 0) return make_error(r.error().code, r.error().message + " (after the " + std::string(sym.id) + " prefix)");
    return with_sym(std::move(r));
  }
  return element_string(text, begin, sym.id, o);
}

}  // namespace tally::scanner
