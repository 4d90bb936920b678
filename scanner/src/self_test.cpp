// The scanner self-test label and its diagnosis; see self_test.hpp.
#include "tally/scanner/self_test.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tally::scanner {
namespace {

using Text = std::u32string;

constexpr std::string_view kMarker = "SELFTEST";
constexpr std::string_view kMiddle = "yzYZaqwAQW@#[]";  // then GS
constexpr std::string_view kEnd = "END";
constexpr char kGs = '\x1D';

// UTF-8 to code points; a byte that is not valid UTF-8 stands for itself
// (Latin-1), so nothing is lost and lengths stay comparable.
Text decode_utf8(std::string_view s) {
  Text out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    char32_t cp = b;
    if (b >= 0xC2 && b < 0xE0) {
      extra = 1;
      cp = b & 0x1Fu;
    } else if (b >= 0xE0 && b < 0xF0) {
      extra = 2;
      cp = b & 0x0Fu;
    } else if (b >= 0xF0 && b < 0xF5) {
      extra = 3;
      cp = b & 0x07u;
    }
    bool ok = b < 0x80 || (extra > 0 && i + extra < s.size());
    for (std::size_t k = 1; ok && k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c & 0xC0u) == 0x80u;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    if (!ok) {
      out.push_back(b);
      ++i;
    } else {
      out.push_back(cp);
      i += extra + 1;
    }
  }
  return out;
}

std::string encode_utf8(const Text& t) {
  std::string out;
  for (char32_t c : t) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

Text ascii(std::string_view s) { return Text(s.begin(), s.end()); }

// Shown to the operator: control characters spelled out.
std::string shown(const Text& t) {
  std::string out;
  for (char32_t c : t) {
    if (c == 0x1D) out += "<GS>";
    else if (c == '\r') out += "<CR>";
    else if (c == '\n') out += "<LF>";
    else if (c == '\t') out += "<TAB>";
    else if (c < 0x20 || c == 0x7F) out += "<0x" + std::string(1, "0123456789ABCDEF"[c >> 4]) + std::string(1, "0123456789ABCDEF"[c & 15]) + ">";
    else out += encode_utf8(Text(1, c));
  }
  return out;
}
std::string shown(std::string_view s) { return shown(decode_utf8(s)); }

char32_t lower(char32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
bool is_letter(char32_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
char32_t swap_case(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 'a' && c <= 'z') return c - 32;
  return c;
}

bool iequal(const Text& a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// A keyboard confusion: what the host shows for each character the scanner
// means to type (only the characters of the label matter).
struct Layout {
  std::string_view code;
  std::string_view problem;
  std::string_view fix;
  std::vector<std::pair<char32_t, char32_t>> map;
};

const std::vector<Layout>& layouts() {
  static const std::vector<Layout> kLayouts = {
      {"us_on_de",
       "the scanner types for a US keyboard but the computer uses a German (QWERTZ) layout: y and z are swapped, "
       "@ # [ ] arrive as \" \u00a7 \u00fc +",
       "set the scanner's keyboard country/language to German (or the computer's layout to US); "
       "better: let the scanner send characters as Alt+keypad codes or use its USB-POS/serial mode",
       {{'y', 'z'}, {'z', 'y'}, {'Y', 'Z'}, {'Z', 'Y'}, {'@', '"'}, {'#', U'\u00a7'}, {'[', U'\u00fc'}, {']', '+'}}},
      {"de_on_us",
       "the scanner types for a German (QWERTZ) keyboard but the computer uses a US layout: y and z are swapped, "
       "@ # [ ] arrive as q \\ 8 9",
       "set the scanner's keyboard country/language to US (or the computer's layout to German)",
       {{'y', 'z'}, {'z', 'y'}, {'Y', 'Z'}, {'Z', 'Y'}, {'@', 'q'}, {'#', '\\'}, {'[', '8'}, {']', '9'}}},
      {"us_on_fr",
       "the scanner types for a US keyboard but the computer uses a French (AZERTY) layout: a/q and z/w are "
       "swapped, digits arrive as their unshifted symbols (0 as \u00e0), @ # ] as 2 3 $",
       "set the scanner's keyboard country/language to French (or the computer's layout to US)",
       {{'a', 'q'}, {'q', 'a'}, {'A', 'Q'}, {'Q', 'A'}, {'z', 'w'}, {'w', 'z'}, {'Z', 'W'}, {'W', 'Z'},
        {'@', '2'}, {'#', '3'}, {'[', '^'}, {']', '$'}, {'0', U'\u00e0'}, {'1', '&'}}},
      {"fr_on_us",
       "the scanner types for a French (AZERTY) keyboard but the computer uses a US layout: a/q and z/w are "
       "swapped, @ # [ ] arrive as 0 3 5 -",
       "set the scanner's keyboard country/language to US (or the computer's layout to French)",
       {{'a', 'q'}, {'q', 'a'}, {'A', 'Q'}, {'Q', 'A'}, {'z', 'w'}, {'w', 'z'}, {'Z', 'W'}, {'W', 'Z'},
        {'@', '0'}, {'#', '3'}, {'[', '5'}, {']', '-'}}},
  };
  return kLayouts;
}

// What the host shows for `expected` under a layout confusion (or none) and Caps Lock.
Text predict(const Text& expected, const Layout* layout, bool caps) {
  Text out;
  out.reserve(expected.size());
  for (char32_t c : expected) {
    char32_t r = c;
    if (layout != nullptr) {
      for (const auto& [from, to] : layout->map) {
        if (from == c) {
          r = to;
          break;
        }
      }
    }
    if (caps && is_letter(r)) r = swap_case(r);
    out.push_back(r);
  }
  return out;
}

std::size_t matches(const Text& a, const Text& b) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) n += a[i] == b[i] ? 1 : 0;
  return n;
}

struct Parsed {
  Text prefix, marker, middle, gs_part, end, suffix;
};

// Splits a received scan (terminator already removed) around the markers.
bool split(const Text& r, Parsed& p) {
  std::size_t pos = Text::npos;
  for (std::size_t i = 0; i + kMarker.size() <= r.size(); ++i) {
    if (iequal(r.substr(i, kMarker.size()), kMarker)) {
      pos = i;
      break;
    }
  }
  if (pos == Text::npos) return false;
  const std::size_t body = pos + kMarker.size();
  std::size_t end = Text::npos;
  for (std::size_t i = r.size() >= kEnd.size() ? r.size() - kEnd.size() + 1 : 0; i-- > body;) {
    if (iequal(r.substr(i, kEnd.size()), kEnd)) {
      end = i;
      break;
    }
  }
  if (end == Text::npos || end - body < kMiddle.size()) return false;
  p.prefix = r.substr(0, pos);
  p.marker = r.substr(pos, kMarker.size());
  p.middle = r.substr(body, kMiddle.size());
  p.gs_part = r.substr(body + kMiddle.size(), end - body - kMiddle.size());
  p.end = r.substr(end, kEnd.size());
  p.suffix = r.substr(end + kEnd.size());
  return true;
}

bool is_terminator(char c) { return c == '\r' || c == '\n' || c == '\t'; }

}  // namespace

std::string self_test_payload() {
  return std::string(kMarker) + std::string(kMiddle) + kGs + std::string(kEnd);
}

bool is_self_test(std::string_view text) {
  std::size_t n = text.size();
  while (n > 0 && is_terminator(text[n - 1])) --n;
  Parsed p;
  return split(decode_utf8(text.substr(0, n)), p);
}

// Long on purpose: one check after the other in the order of the label's
// parts, each with its fix beside it.
SelfTestReport diagnose_self_test(std::string_view received, const SelfTestOptions& options) {
  SelfTestReport report;
  std::size_t n = received.size();
  while (n > 0 && is_terminator(received[n - 1])) --n;
  const std::string_view terminator = received.substr(n);
  Parsed p;
  if (!split(decode_utf8(received.substr(0, n)), p)) {
    report.summary = "not the scanner self-test label (expected SELFTEST\u2026END, got \"" + shown(received) + "\")";
    return report;
  }
  report.recognised = true;
  const auto add = [&report](std::string code, std::string severity, std::string problem, std::string fix) {
    report.issues.push_back({std::move(code), std::move(severity), std::move(problem), std::move(fix)});
  };

  // Keyboard: the explanation (layout confusion x Caps Lock) that predicts
  // most characters of marker + middle + end; ties go to the simplest.
  const Text expected = ascii(std::string(kMarker) + std::string(kMiddle) + std::string(kEnd));
  const Text got = p.marker + p.middle + p.end;
  const Layout* best_layout = nullptr;
  bool best_caps = false;
  std::size_t best = matches(predict(expected, nullptr, false), got);
  for (bool caps : {false, true}) {
    for (const Layout* l : {static_cast<const Layout*>(nullptr), &layouts()[0], &layouts()[1], &layouts()[2], &layouts()[3]}) {
      const std::size_t m = matches(predict(expected, l, caps), got);
      if (m > best) {
        best = m;
        best_layout = l;
        best_caps = caps;
      }
    }
  }
  if (best_layout != nullptr) {
    add("keyboard_layout", "error", std::string(best_layout->problem), std::string(best_layout->fix));
  }
  if (best_caps) {
    add("caps_lock", "error", "letters arrive with their case swapped: Caps Lock is on",
        "switch Caps Lock off on the computer, or set the scanner's keyboard wedge to ignore Caps Lock "
        "(\"Caps Lock override\"/\"auto caps\")");
  }
  const Text predicted = predict(expected, best_layout, best_caps);
  if (best != expected.size()) {
    std::string changes;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (predicted[i] == got[i]) continue;
      if (!changes.empty()) changes += ", ";
      changes += "'" + shown(Text(1, expected[i])) + "' arrived as '" + shown(Text(1, got[i])) + "'";
    }
    add("characters_changed", "error", "characters arrive changed: " + changes,
        "check the scanner's keyboard country and code page against the computer's keyboard layout; "
        "or use the scanner's USB-POS/serial mode, which sends bytes instead of key presses");
  }

  // GS separator.
  const Text gs = p.gs_part;
  if (gs.empty()) {
    add("gs_dropped", "error",
        "the GS separator (FNC1, byte 0x1D) does not arrive: the fields of GS1 labels (lot, expiry, serial) run "
        "together and can be misread",
        "enable sending GS/FNC1 as 0x1D on the scanner (\"transmit GS1 separator\", \"FNC1 as GS\" or "
        "\"Ctrl+ASCII/function-code transmission\" for keyboard wedges); if it can only send a stand-in such as "
        "^] or |, turn that on and keep it in Tally's [scanner] gs_substitutes");
  } else if (gs != Text(1, char32_t{0x1D})) {
    const std::string as = encode_utf8(gs);
    bool accepted = false;
    for (const auto& s : options.accepted_gs_substitutes) accepted = accepted || s == as;
    if (accepted) {
      add("gs_substituted", "info", "the GS separator arrives as \"" + shown(gs) + "\", a stand-in Tally accepts",
          "nothing to do; a scanner that sends the real GS (0x1D) avoids clashes with data containing \"" +
              shown(gs) + "\"");
    } else {
      add("gs_replaced", "error",
          "the GS separator arrives as \"" + shown(gs) + "\", which Tally does not treat as a separator",
          "enable sending GS/FNC1 as 0x1D on the scanner, or add \"" + shown(gs) +
              "\" to Tally's [scanner] gs_substitutes");
    }
  }

  // AIM symbology identifier and other prefixes / suffixes.
  const Text aim = predict(ascii(kSelfTestAimId), best_layout, best_caps);
  const Text& pre = p.prefix;
  if (pre.empty()) {
    add("aim_missing", "warning",
        "the scanner sends no AIM symbology identifier (expected \"]C0\" before the data): Tally cannot tell a "
        "GS1-128 label from a plain Code 128 one by its identifier",
        "enable \"transmit AIM ID\" / \"symbology identifier prefix (AIM)\" on the scanner");
  } else if (pre == aim) {
    // as expected (any remapping is reported above)
  } else if (pre.size() >= aim.size() && pre.substr(pre.size() - aim.size()) == aim) {
    add("prefix_added", "warning",
        "the scanner adds \"" + shown(pre.substr(0, pre.size() - aim.size())) + "\" before the AIM identifier",
        "remove the prefix in the scanner's data-formatting settings");
  } else if (pre.size() == 3 && pre[0] == aim[0]) {
    add("aim_unexpected", "warning",
        "the scanner sends the identifier \"" + shown(pre) + "\" where a Code 128 label should give \"]C0\"",
        "set the scanner to send AIM identifiers (not its own code IDs) with \"transmit AIM ID\"");
  } else {
    add("prefix_added", "warning", "the scanner adds \"" + shown(pre) + "\" before the data and no AIM identifier",
        "remove the prefix in the scanner's data-formatting settings and enable \"transmit AIM ID\"");
  }
  if (!p.suffix.empty()) {
    add("suffix_added", "warning", "the scanner adds \"" + shown(p.suffix) + "\" after the data",
        "remove the suffix in the scanner's data-formatting settings");
  }

  // Terminator.
  if (options.check_terminator) {
    const std::string& want = options.expected_terminator;
    const std::string want_s = shown(want);
    if (terminator == want) {
      // fine
    } else if (terminator.empty()) {
      add("terminator_missing", "error", "the scanner sends no terminator after the data: scans run together",
          "set the scanner's suffix to " + want_s + " (Enter)");
    } else if (!want.empty() && terminator.size() > want.size() &&
               (terminator.substr(terminator.size() - want.size()) == want ||
                terminator.substr(0, want.size()) == want)) {
      add("terminator_extra", "warning",
          "the scanner ends each scan with " + shown(terminator) + " where " + want_s +
              " is expected: the extra key press can confirm a prompt or start an empty scan",
          "set the scanner's suffix to " + want_s + " only");
    } else if (want.empty()) {
      add("terminator_extra", "warning", "the scanner ends each scan with " + shown(terminator) + ", none expected",
          "remove the suffix in the scanner's settings");
    } else {
      add("terminator_wrong", "error",
          "the scanner ends each scan with " + shown(terminator) + " where " + want_s + " is expected",
          "set the scanner's suffix to " + want_s);
    }
  }

  std::size_t problems = 0;
  std::string codes;
  for (const auto& i : report.issues) {
    if (i.severity == "info") continue;
    ++problems;
    codes += (codes.empty() ? "" : ", ") + i.code;
  }
  report.ok = problems == 0;
  report.summary = report.ok ? std::string("scanner set-up OK: GS, characters and AIM identifier arrive as printed") +
                                   (options.check_terminator ? ", terminator as expected" : "")
                             : std::to_string(problems) + " scanner set-up problem" + (problems == 1 ? "" : "s") +
                                   ": " + codes;
  return report;
}

}  // namespace tally::scanner
