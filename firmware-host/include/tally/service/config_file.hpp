// What both daemons' TOML configuration loaders share (tallyd:
// firmware-host/src/config.cpp, tally-ledger: sync/src/ledger/config.cpp):
// reading the file, refusing unknown sections and keys, typed keys, ids and
// HOST:PORT. Every failure is a `bad_config` error naming the file, section
// or key, so a bad file changes nothing and says why.
//
// Header-only: the loaders include it and link tally::toml and
// tally::scanner (Result, Error) themselves; tally::service's library does
// not parse TOML.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include <toml++/toml.h>

#include "tally/scanner/result.hpp"

namespace tally::service::config {

inline Error bad(std::string message) { return make_error("bad_config", std::move(message)); }

// The parsed file, or an error naming the file and the line.
inline Result<toml::table> parse_file(const std::filesystem::path& path) {
  try {
    return toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "cannot read config " << path.string() << ": " << e.description() << " (line " << e.source().begin.line
        << ")";
    return bad(msg.str());
  }
}

// An error when the file has a top-level section outside `known`.
inline Result<void> known_sections(const toml::table& t, std::initializer_list<std::string_view> known,
                                   const std::filesystem::path& path) {
  for (const auto& [k, v] : t) {
    if (std::find(known.begin(), known.end(), k.str()) == known.end()) {
      return bad("unknown config section [" + std::string(k.str()) + "] in " + path.string());
    }
  }
  return {};
}

// [section] key into `out` when present; an error when it has another type.
template <typename T>
Result<void> read_key(const toml::table& t, std::string_view section, std::string_view key, T& out) {
  const auto node = t[section][key];
  if (!node) return {};
  if (auto v = node.template value<T>()) {
    out = *v;
    return {};
  }
  return bad("config key " + std::string(section) + "." + std::string(key) + " has the wrong type");
}

// The table of [section], or nullptr when absent; an error when it is not a
// table or holds a key outside `keys`.
inline Result<const toml::table*> section_table(const toml::table& t, std::string_view section,
                                                std::initializer_list<std::string_view> keys) {
  const auto* table = t[section].as_table();
  if (table == nullptr) {
    if (t.contains(section)) return bad("config section [" + std::string(section) + "] must be a table");
    return static_cast<const toml::table*>(nullptr);
  }
  for (const auto& [k, v] : *table) {
    if (std::find(keys.begin(), keys.end(), k.str()) == keys.end()) {
      return bad("unknown config key " + std::string(section) + "." + std::string(k.str()));
    }
  }
  return table;
}

// A device, site or client id: 1–64 of [A-Za-z0-9_.-] (safe in MQTT topics
// and file names).
inline bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

// "HOST:PORT" → host, port. IPv6 hosts are written [::1]:8080.
inline Result<void> parse_listen(const std::string& text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return bad("--http expects HOST:PORT, got '" + text + "'");
  }
  std::string h = text.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  const std::string p = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc{} || end != p.data() + p.size() || value > 65535) {
    return bad("--http port must be 0..65535, got '" + p + "'");
  }
  host = h;
  port = static_cast<std::uint16_t>(value);
  return {};
}

}  // namespace tally::service::config
