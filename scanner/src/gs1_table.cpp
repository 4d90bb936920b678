// The GS1 Application Identifier table, made once from the GS1 Barcode
// Syntax Dictionary (gs1_dictionary.inc). The dictionary says each AI's
// format; Tally reads from it the kind of check it runs (kind_of below) and
// the typed value it keeps (a date, a decimal with its unit, a count).
#include "gs1_table.hpp"

#include <array>
#include <deque>
#include <string>
#include <vector>

namespace tally::scanner::gs1 {

namespace {

constexpr DictEntry kDictionary[] = {
#include "gs1_dictionary.inc"
};

bool digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// The components of a format: "[N3],iso3166" is an optional N3 whose linter
// is iso3166.
std::vector<Component> components(std::string_view format) {
  std::vector<Component> out;
  std::size_t b = 0;
  while (b < format.size()) {
    std::size_t e = format.find(' ', b);
    if (e == std::string_view::npos) e = format.size();
    std::string tok(format.substr(b, e - b));
    b = e + 1;
    Component c;
    c.optional = !tok.empty() && tok.front() == '[';
    std::erase(tok, '[');
    std::erase(tok, ']');
    const auto comma = tok.find(',');
    c.linters = comma == std::string::npos ? "" : tok.substr(comma);
    const std::string type = tok.substr(0, comma);
    c.cset = type.front();
    if (type.compare(1, 2, "..") == 0) {
      c.min = 1;
      c.max = static_cast<std::size_t>(std::stoi(type.substr(3)));
    } else {
      c.min = c.max = static_cast<std::size_t>(std::stoi(type.substr(1)));
    }
    out.push_back(std::move(c));
  }
  return out;
}

bool has(const Component& c, std::string_view linter) {
  return (c.linters + ",").find("," + std::string(linter) + ",") != std::string::npos;
}

// The kind of check for an AI of this format. The AIs whose value is a
// decimal (31nn–36nn, 390n–395n) or a count (30, 37) are named; the rest is
// read from the components and their linters.
Kind kind_of(std::string_view ai, const std::vector<Component>& comps) {
  const std::string_view a3 = ai.substr(0, std::min<std::size_t>(3, ai.size()));
  if (ai == "30" || ai == "37") return Kind::count;
  if (ai.size() == 4 && a3 >= "310" && a3 <= "369") return Kind::measure;
  if (a3 == "390" || a3 == "392") return Kind::amount;
  if (a3 == "391" || a3 == "393") return Kind::amount_iso;
  if (a3 == "394" || a3 == "395") return Kind::measure;
  if (ai == "253") return Kind::gdti;
  if (ai == "255") return Kind::gcn;
  if (ai == "8003") return Kind::grai;
  if (ai == "8006" || ai == "8026") return Kind::itip;
  if (ai == "421") return Kind::post_iso;
  const Component& first = comps.front();
  if (comps.size() >= 2 && (has(first, "yymmdd") || has(first, "yymmd0")) && has(comps[1], "hhmi"))
    return Kind::datetime;
  if (comps.size() >= 2 && has(first, "yymmdd") && has(comps[1], "hh")) return Kind::datetime;
  if (comps.size() == 2 && has(first, "yymmdd") && has(comps[1], "yymmdd")) return Kind::date_range;
  if (comps.size() == 1 && has(first, "yymmd0")) return Kind::date;
  if (comps.size() == 1 && has(first, "yymmdd")) return Kind::date_exact;
  if (comps.size() == 1 && first.cset == 'N' && has(first, "csum")) return Kind::digits_csum;
  if (comps.size() == 1 && first.cset == 'Z') return Kind::base64url;
  if (comps.size() == 1 && first.cset == 'Y') return Kind::cset39;
  for (const Component& c : comps)
    if (c.cset != 'N') return Kind::text;
  return Kind::digits;
}

// "NET WEIGHT (kg)" → "kg"; "AREA (m²), log" → "m2"; "KG PER m²" → "kg/m2".
std::string unit_of(std::string_view title) {
  if (title == "KG PER m²") return "kg/m2";
  const auto open = title.find('(');
  const auto close = title.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return {};
  std::string u(title.substr(open + 1, close - open - 1));
  for (const auto& [from, to] : std::array<std::pair<std::string_view, std::string_view>, 5>{
           {{"²", "2"}, {"³", "3"}, {" (US)", ""}, {"tr oz", "oz t"}, {".", ""}}}) {
    for (auto at = u.find(from); at != std::string::npos; at = u.find(from)) u.replace(at, from.size(), to);
  }
  return u;
}

struct Table {
  std::vector<AiSpec> specs;
  std::deque<std::string> strings;           // AIs of expanded ranges, units: stable storage for the views
  std::deque<std::vector<Component>> parts;  // each row's format, parsed once

  Table() {
    for (const DictEntry& e : kDictionary) {
      const std::vector<Component>& comps = parts.emplace_back(components(e.format));
      std::size_t min = 0;
      std::size_t max = 0;
      for (const Component& c : comps) {
        min += c.optional ? 0 : c.min;
        max += c.max;
      }
      const Kind kind = kind_of(e.first, comps);
      const bool decimal = kind == Kind::measure || kind == Kind::amount || kind == Kind::amount_iso;
      std::string_view unit;
      if (kind == Kind::measure) unit = strings.emplace_back(unit_of(e.title));
      auto add = [&](std::string_view ai, bool family, int max_n) {
        specs.push_back(AiSpec{ai, kind, static_cast<std::uint8_t>(min), static_cast<std::uint8_t>(max), e.predefined,
                               family, static_cast<std::uint8_t>(max_n), e.title, unit, e.req, e.ex, e.format, comps});
      };
      if (decimal && e.first != e.last) {  // 3100-3105: the family 310, n up to 5
        add(strings.emplace_back(e.first.substr(0, 3)), true, e.last[3] - '0');
      } else if (e.first != e.last) {  // 91-99, 7030-7039: each AI on its own
        for (int v = std::stoi(std::string(e.first)); v <= std::stoi(std::string(e.last)); ++v) {
          std::string ai = std::to_string(v);
          ai.insert(0, e.first.size() - ai.size(), '0');
          add(strings.emplace_back(std::move(ai)), false, 0);
        }
      } else {
        add(e.first, false, 0);
      }
    }
  }
};

const Table& table() {
  static const Table kTable;
  return kTable;
}

}  // namespace

std::span<const AiSpec> ai_table() { return table().specs; }

const AiSpec* lookup(std::string_view s, std::size_t& ai_len) {
  ai_len = 0;
  for (const AiSpec& spec : table().specs) {
    const std::size_t n = spec.family ? 4 : spec.ai.size();
    if (s.size() < n || !digits(s.substr(0, n))) continue;
    if (s.substr(0, spec.ai.size()) != spec.ai) continue;
    ai_len = n;
    return &spec;
  }
  return nullptr;
}

const AiSpec* find_ai(std::string_view ai) {
  std::size_t n = 0;
  const AiSpec* spec = lookup(ai, n);
  return spec != nullptr && n == ai.size() ? spec : nullptr;
}

const DictEntry* dictionary_entry(std::string_view ai) {
  if (!digits(ai)) return nullptr;
  for (const DictEntry& d : kDictionary)
    if (ai.size() == d.first.size() && ai >= d.first && ai <= d.last) return &d;
  return nullptr;
}

std::size_t unknown_ai_length(std::string_view s) {
  if (s.size() < 2) return 2;
  const int a = s[0] - '0';
  const int b = s[1] - '0';
  switch (a) {
    case 2:
      return b <= 2 ? 2 : 3;  // 20–22; 23x–29x
    case 3:
      return (b == 0 || b == 7) ? 2 : 4;  // 30, 37; 31nn–39nn
    case 4:
      return b == 3 ? 4 : 3;  // 43nn; 40x–49x
    case 7:
      return b == 1 ? 3 : 4;  // 71x; 70nn, 72nn…
    case 8:
      return 4;
    default:
      return 2;  // 0x, 1x, 5x, 6x, 9x
  }
}

}  // namespace tally::scanner::gs1
