// Small ASCII text helpers shared by the scanner sources. Private header.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tally::scanner::text {

inline constexpr std::size_t kMaxCodeLength = 32;  // ids and location codes
inline constexpr std::size_t kMaxQuote = 64;       // scan text quoted in messages

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
constexpr char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

inline std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_upper(c);
  return out;
}

inline bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (to_upper(s[i]) != to_upper(prefix[i])) return false;
  return true;
}

inline bool equals_ci(std::string_view a, std::string_view b) { return a.size() == b.size() && starts_with_ci(a, b); }

inline bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

// [A-Za-z0-9_.-]{1,32}: badge ids, LOC: codes, tote ids, reason codes.
inline bool is_code(std::string_view s) {
  if (s.empty() || s.size() > kMaxCodeLength) return false;
  for (char c : s)
    if (!is_alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

// Strips spaces, tabs, CR and LF (what keyboard-wedge scanners add).
inline std::string_view trim(std::string_view s) {
  constexpr std::string_view kWs = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(kWs);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kWs);
  return s.substr(b, e - b + 1);
}

// Scan text made safe to show in a message (and to put in JSON): at most 64
// characters, anything but printable ASCII replaced by '?'.
inline std::string quote(std::string_view s) {
  const bool cut = s.size() > kMaxQuote;
  if (cut) s = s.substr(0, kMaxQuote);
  std::string out;
  out.reserve(s.size() + 3);
  for (char c : s) out.push_back(c >= ' ' && c <= '~' ? c : '?');
  if (cut) out += "...";
  return out;
}

// GS1 mod-10 check digit over all digits (the last one is the check digit).
inline bool gs1_check_digit_ok(std::string_view digits) {
  if (digits.size() < 2 || !all_digits(digits)) return false;
  int sum = 0;
  bool three = true;
  for (std::size_t i = digits.size() - 1; i-- > 0;) {
    const int d = digits[i] - '0';
    sum += three ? 3 * d : d;
    three = !three;
  }
  return (10 - sum % 10) % 10 == digits.back() - '0';
}

// UPC-E (number system 0 or 1, six digits, check digit) expanded to its
// UPC-A, 12 digits (GS1 General Specifications §5.2.2.4.2); nullopt when
// `upce` is not 8 digits with number system 0 or 1. The check digit is
// carried over, not checked.
inline std::optional<std::string> upce_to_upca(std::string_view upce) {
  if (upce.size() != 8 || !all_digits(upce) || (upce[0] != '0' && upce[0] != '1')) return std::nullopt;
  const std::string_view d = upce.substr(1, 6);
  std::string body;
  switch (d[5]) {
    case '0':
    case '1':
    case '2':
      body = std::string(d.substr(0, 2)) + d[5] + "0000" + std::string(d.substr(2, 3));
      break;
    case '3':
      body = std::string(d.substr(0, 3)) + "00000" + std::string(d.substr(3, 2));
      break;
    case '4':
      body = std::string(d.substr(0, 4)) + "00000" + d[4];
      break;
    default:
      body = std::string(d.substr(0, 5)) + "0000" + d[5];
      break;
  }
  return upce[0] + body + upce[7];
}

}  // namespace tally::scanner::text
