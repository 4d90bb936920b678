// The GS1 Barcode Syntax Dictionary's linters, run on each component of an
// AI's data (gs1_element.hpp run_linters). Written from the dictionary's
// descriptions of them; the code lists are generated (gs1_code_lists.inc).
// Not run: gcppos1/gcppos2 (need GS1's company prefix table), couponcode,
// couponposoffer; csum and the date and time linters are the checks of the
// AI's kind (gs1.cpp make_element).
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gs1_element.hpp"
#include "gs1_table.hpp"
#include "text.hpp"

namespace tally::scanner::gs1 {

namespace {

#include "gs1_code_lists.inc"

template <std::size_t N>
bool listed(const std::array<std::string_view, N>& list, std::string_view code) {
  return std::binary_search(list.begin(), list.end(), code);
}

// "<v> is not <what>" unless `v` is in the sorted `list`.
template <std::size_t N>
std::optional<std::string> in_list(const std::array<std::string_view, N>& list, std::string_view v,
                                   std::string_view what) {
  if (listed(list, v)) return std::nullopt;
  return std::string(v) + " is not " + std::string(what);
}

constexpr std::string_view kCset82 =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kCset39 = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr std::string_view kCset32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

std::uint64_t number(std::string_view digits) {
  std::uint64_t v = 0;
  for (char c : digits) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  return v;
}

// GS1 General Specifications §7.9.5: the check character pair of CSET 82
// data, weighted by primes from the right, modulo 1021.
bool check_pair_ok(std::string_view v) {
  static constexpr std::array<int, 97> kPrimes = {
      2,   3,   5,   7,   11,  13,  17,  19,  23,  29,  31,  37,  41,  43,  47,  53,  59,  61,  67,  71,
      73,  79,  83,  89,  97,  101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173,
      179, 181, 191, 193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281,
      283, 293, 307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397, 401, 409,
      419, 421, 431, 433, 439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499, 503, 509};
  if (v.size() < 2 || v.size() - 2 > kPrimes.size()) return false;
  const std::string_view body = v.substr(0, v.size() - 2);
  int sum = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const auto at = kCset82.find(body[body.size() - 1 - i]);
    if (at == std::string_view::npos) return false;
    sum += static_cast<int>(at) * kPrimes[i];
  }
  sum %= 1021;
  return v[v.size() - 2] == kCset32[static_cast<std::size_t>(sum >> 5)] &&
         v[v.size() - 1] == kCset32[static_cast<std::size_t>(sum & 31)];
}

// ISO 13616: letters of the country, two check digits, then letters and
// digits; moved four places and read as a number, modulo 97 is 1.
std::optional<std::string> iban(std::string_view v) {
  if (v.size() < 5) return "an IBAN has at least 5 characters";
  if (!listed(kIso3166Alpha2, v.substr(0, 2))) return "\"" + std::string(v.substr(0, 2)) + "\" is not an IBAN country";
  if (!text::is_digit(v[2]) || !text::is_digit(v[3])) return "the IBAN's check digits are not digits";
  int mod = 0;
  const std::string moved = std::string(v.substr(4)) + std::string(v.substr(0, 4));
  for (char c : moved) {
    if (text::is_digit(c)) {
      mod = (mod * 10 + (c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      mod = (mod * 100 + (c - 'A' + 10)) % 97;
    } else {
      return std::string("'") + c + "' is not allowed in an IBAN";
    }
  }
  if (mod != 1) return "the IBAN's check digits do not match";
  return std::nullopt;
}

// What is wrong with component `v` by `linter`, or nullopt. Unknown
// linters (and those not run, see above) pass.
std::optional<std::string> lint_one(std::string_view linter, std::string_view v) {
  const auto digits = [&] { return text::all_digits(v); };
  if (linter == "zero") return v == "0" ? std::nullopt : std::optional<std::string>("must be 0");
  if (linter == "nonzero")
    return digits() && v.find_first_not_of('0') == std::string_view::npos ? std::optional<std::string>("must not be 0")
                                                                          : std::nullopt;
  if (linter == "yesno") return v == "0" || v == "1" ? std::nullopt : std::optional<std::string>("must be 0 or 1");
  if (linter == "winding")
    return v == "0" || v == "1" || v == "9" ? std::nullopt : std::optional<std::string>("must be 0, 1 or 9");
  if (linter == "iso5218")
    return v == "0" || v == "1" || v == "2" || v == "9" ? std::nullopt
                                                        : std::optional<std::string>("must be 0, 1, 2 or 9");
  if (linter == "pieceoftotal") {
    if (!digits() || v.size() % 2 != 0) return "piece and total of equal width";
    const auto piece = number(v.substr(0, v.size() / 2));
    const auto total = number(v.substr(v.size() / 2));
    if (piece == 0 || total == 0 || piece > total)
      return "piece " + std::string(v.substr(0, v.size() / 2)) + " of " + std::string(v.substr(v.size() / 2));
    return std::nullopt;
  }
  if (linter == "latitude")
    return digits() && number(v) <= 1800000000 ? std::nullopt
                                               : std::optional<std::string>("latitude beyond 90 degrees");
  if (linter == "longitude")
    return digits() && number(v) <= 3600000000 ? std::nullopt
                                               : std::optional<std::string>("longitude beyond 180 degrees");
  if (linter == "iso3166" || linter == "iso3166999")
    return v == "999" && linter == "iso3166999" ? std::nullopt : in_list(kIso3166, v, "an ISO 3166 country code");
  if (linter == "iso3166alpha2") return in_list(kIso3166Alpha2, v, "an ISO 3166 country code");
  if (linter == "iso4217") return in_list(kIso4217, v, "an ISO 4217 currency code");
  if (linter == "iban") return iban(v);
  if (linter == "packagetype") return in_list(kPackageTypes, v, "a package type code");
  if (linter == "mediatype") return in_list(kMediaTypes, v, "an AIDC media type");
  if (linter == "csumalpha")
    return check_pair_ok(v) ? std::nullopt : std::optional<std::string>("check character pair does not match");
  if (linter == "hyphen")
    return v.find_first_not_of('-') == std::string_view::npos ? std::nullopt
                                                              : std::optional<std::string>("must be '-'");
  if (linter == "hasnondigit") return digits() ? std::optional<std::string>("must not be digits only") : std::nullopt;
  if (linter == "nozeroprefix")
    return v.size() > 1 && v.front() == '0' ? std::optional<std::string>("must not start with 0") : std::nullopt;
  if (linter == "posinseqslash") {
    const auto slash = v.find('/');
    const std::string_view pos = v.substr(0, std::min(slash, v.size()));
    const std::string_view end = slash == std::string_view::npos ? std::string_view() : v.substr(slash + 1);
    if (pos.empty() || end.empty() || !text::all_digits(pos) || !text::all_digits(end) || pos.front() == '0' ||
        end.front() == '0' || number(pos) > number(end))
      return "a position in a sequence, \"<pos>/<end>\"";
    return std::nullopt;
  }
  if (linter == "pcenc") {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (v[i] == '%' && (i + 2 >= v.size() || !std::isxdigit(static_cast<unsigned char>(v[i + 1])) ||
                          !std::isxdigit(static_cast<unsigned char>(v[i + 2]))))
        return "bad percent-encoding";
    return std::nullopt;
  }
  if (linter == "importeridx")
    return v.size() == 1 && (text::is_alnum(v[0]) || v[0] == '-' || v[0] == '_')
               ? std::nullopt
               : std::optional<std::string>("an importer index is one of 0-9 A-Z a-z - _");
  return std::nullopt;
}

}  // namespace

std::optional<Error> run_linters(const AiSpec& spec, std::string_view data, const Ctx& c) {
  std::size_t pos = 0;
  for (const Component& comp : spec.parts) {
    if (pos >= data.size()) break;  // optional components left out
    const std::size_t len = comp.min == comp.max ? std::min(comp.max, data.size() - pos) : data.size() - pos;
    if (len < comp.min)  // 423: a third country code of 1 digit
      return fail("bad_gs1", c.ai, c.off,
                  "the component at offset " + std::to_string(c.data_off + pos) + " has " + std::to_string(len) +
                      " of its " + std::to_string(comp.min) + " characters");
    const std::string_view part = data.substr(pos, len);
    if (comp.cset == 'N')  // a numeric part of an AI whose kind checks text (4330: N6 [X1])
      if (auto err = need_digits(c, data.substr(0, pos + len), pos)) return *err;
    if (comp.cset == 'Y')
      for (std::size_t i = 0; i < part.size(); ++i)
        if (kCset39.find(part[i]) == std::string_view::npos)
          return fail(
              "bad_gs1", c.ai, c.off,
              show_char(part[i]) + " at offset " + std::to_string(c.data_off + pos + i) + " is not in GS1 CSET 39");
    std::string_view linters = comp.linters;
    while (!linters.empty()) {
      linters.remove_prefix(1);  // the ','
      const std::string_view name = linters.substr(0, linters.find(','));
      linters.remove_prefix(name.size());
      if (auto what = lint_one(name, part))
        return fail("bad_gs1", c.ai, c.off, *what + " (offset " + std::to_string(c.data_off + pos) + ")");
    }
    pos += len;
  }
  return std::nullopt;
}

}  // namespace tally::scanner::gs1
