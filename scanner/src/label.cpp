// classify(): scan text → Label, label grammar of docs/DOMAIN.md, adjustable
// per site with LabelOptions.
//
// The text is offered to a list of recognisers in order; each one either
// declines (nullopt: "not my kind of label") or owns the text and returns a
// Label or an Error. The GS1 recogniser owns "(01)…", "https://…/01/…" and
// wedge element strings that start with a GS1 key AI; symbology identifiers
// ("]C1…", "]E0…") are handled before the list.
#include "tally/scanner/label.hpp"

#include <array>
#include <charconv>
#include <optional>
#include <regex>
#include <string>
#include <utility>

#include "text.hpp"

namespace tally::scanner {

namespace {

using Recognized = std::optional<Result<Label>>;
using Recognizer = Recognized (*)(std::string_view, const LabelOptions&);

constexpr std::int64_t kMaxQty = 1'000'000;

constexpr std::array<std::string_view, 15> kVerbs = {"RECEIVE", "PUTAWAY", "PICK",   "MOVE",  "DAMAGE",
                                                     "HOLD",    "RELEASE", "RETURN", "COUNT", "CONFIRM",
                                                     "UNDO",    "CANCEL",  "DONE",   "LOGOUT", "CORRECT"};

Error unknown(std::string_view t, std::string_view why = "unknown label") {
  return make_error("unknown_label", std::string(why) + " \"" + text::quote(t) + "\"");
}

Label make(LabelKind kind, std::string value) {
  Label l;
  l.kind = kind;
  l.value = std::move(value);
  return l;
}

Recognized badge(std::string_view t, const LabelOptions& /*o*/) {
  if (!text::starts_with_ci(t, "OP:")) return std::nullopt;
  const auto id = t.substr(3);
  if (!text::is_code(id)) return Result<Label>(unknown(t, "bad operator badge"));
  return Result<Label>(make(LabelKind::operator_badge, std::string(id)));
}

Result<Label> quantity(std::string_view t, std::string_view n) {
  std::int64_t v = 0;
  const auto* end = n.data() + n.size();
  const auto [p, ec] = std::from_chars(n.data(), end, v);
  if (!text::all_digits(n) || ec != std::errc() || p != end || v < 1 || v > kMaxQty)
    return make_error("bad_quantity", "quantity must be 1 to 1000000: \"" + text::quote(t) + "\"");
  Label l = make(LabelKind::quantity, {});
  l.number = v;
  return l;
}

// PIN:<digits> after a badge. Errors never quote the text.
Recognized pin(std::string_view t, const LabelOptions& /*o*/) {
  if (!text::starts_with_ci(t, "PIN:")) return std::nullopt;
  const auto digits = t.substr(4);
  if (digits.size() < 4 || digits.size() > 12 || !text::all_digits(digits))
    return Result<Label>(make_error("unknown_label", "bad PIN label: PIN: and 4 to 12 digits"));
  return Result<Label>(make(LabelKind::pin, std::string(digits)));
}

Recognized command(std::string_view t, const LabelOptions& /*o*/) {
  if (!text::starts_with_ci(t, "CMD:")) return std::nullopt;
  const auto rest = t.substr(4);
  if (text::starts_with_ci(rest, "QTY:")) return quantity(t, rest.substr(4));
  if (text::starts_with_ci(rest, "REASON:")) {
    const auto code = rest.substr(7);
    if (!text::is_code(code))
      return Result<Label>(make_error("bad_command", "bad reason code \"" + text::quote(t) + "\""));
    return Result<Label>(make(LabelKind::reason, text::upper(code)));
  }
  if (text::starts_with_ci(rest, "STATE:")) {  // the stock state of the goods handled (wire name)
    std::string name(rest.substr(6));
    for (char& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (auto state = parse_stock_state(name)) return Result<Label>(make(LabelKind::state, std::string(to_string(*state))));
    return Result<Label>(make_error("bad_command", "unknown stock state \"" + text::quote(t) + "\""));
  }
  for (auto verb : kVerbs)
    if (text::equals_ci(rest, verb)) return Result<Label>(make(LabelKind::command, std::string(verb)));
  return Result<Label>(make_error("bad_command", "unknown command \"" + text::quote(t) + "\""));
}

Recognized tote(std::string_view t, const LabelOptions& /*o*/) {
  if (!text::starts_with_ci(t, "TOTE:")) return std::nullopt;
  const auto id = t.substr(5);
  if (!text::is_code(id)) return Result<Label>(unknown(t, "bad tote label"));
  return Result<Label>(make(LabelKind::container, text::upper(id)));
}

// PO:/ASN:/ORD:/TASK: (or the site's prefixes) + a value of printable ASCII
// without spaces (≤ 64).
std::array<std::pair<DocumentKind, const std::vector<std::string>*>, 5> document_kinds(const LabelOptions& o) {
  const auto& d = o.documents;
  return {{{DocumentKind::purchase_order, &d.purchase_order},
           {DocumentKind::asn, &d.asn},
           {DocumentKind::order, &d.order},
           {DocumentKind::task, &d.task},
           {DocumentKind::other, &d.other}}};
}

Recognized document(std::string_view t, const LabelOptions& o) {
  for (const auto& [kind, prefixes] : document_kinds(o)) {
    for (const std::string& p : *prefixes) {
      const std::string prefix = text::upper(p);
      if (prefix.empty() || !text::starts_with_ci(t, prefix)) continue;
      const auto v = t.substr(prefix.size());
      bool ok = !v.empty() && v.size() <= text::kMaxQuote;
      for (char c : v) ok = ok && c > ' ' && c < 0x7F;
      if (!ok) return Result<Label>(unknown(t, "bad document label"));
      Label l = make(LabelKind::document, std::string(prefix) + std::string(v));
      l.document = kind;
      return l;
    }
  }
  return std::nullopt;
}

// Bins and LOC:<code>. External parties ("@customer") are not labels: stock
// leaves for a party only through the workflow that means it (ship, …).
Recognized location(std::string_view t, const LabelOptions& o) {
  if (t.front() == '@') return std::nullopt;
  if (!o.bin_regex.empty() && !text::starts_with_ci(t, "LOC:")) {
    if (t.size() > text::kMaxCodeLength) return std::nullopt;
    try {
      const std::regex re(o.bin_regex, std::regex::ECMAScript | std::regex::icase);
      if (!std::regex_match(t.begin(), t.end(), re)) return std::nullopt;
    } catch (const std::exception& e) {
      return Result<Label>(make_error("bad_options", std::string("bin_regex: ") + e.what()));
    }
    Label l = make(LabelKind::location, text::upper(t));
    l.location.code = l.value;
    return l;
  }
  auto loc = Location::parse(t);
  if (!loc) {
    if (text::starts_with_ci(t, "LOC:")) return Result<Label>(unknown(t, "bad location label"));
    return std::nullopt;
  }
  Label l = make(LabelKind::location, loc->code);
  l.location = std::move(*loc);
  return l;
}

// Digits only: GTIN-8/12/13/14 (item) or an 18-digit SSCC (container).
Recognized digits(std::string_view t, const LabelOptions& /*o*/) {
  if (!text::all_digits(t)) return std::nullopt;
  const auto n = t.size();
  const bool sscc = n == 18;
  if (!sscc && n != 8 && n != 12 && n != 13 && n != 14) return std::nullopt;
  if (!text::gs1_check_digit_ok(t))
    return Result<Label>(make_error(
        "bad_check_digit", std::string(sscc ? "SSCC " : "GTIN ") + std::string(t) + " has a wrong check digit"));
  if (sscc) return Result<Label>(make(LabelKind::container, std::string(t)));
  Label l = make(LabelKind::item, std::string(14 - n, '0') + std::string(t));
  l.item.gtin = l.value;
  return l;
}

// Parsed GS1 data → Label (see label.hpp for the mapping).
Result<Label> from_gs1(Result<Gs1Data> parsed) {
  if (!parsed) return parsed.error();
  Gs1Data& d = *parsed;
  auto raw = [&](std::string_view ai) -> std::string {
    const auto* e = d.find(ai);
    return e != nullptr ? e->raw : std::string();
  };
  Label l;
  if (const auto* e = d.find("01"); e != nullptr)
    l.item.gtin = e->raw;
  else if (const auto* c = d.find("02"); c != nullptr)
    l.item.gtin = c->raw;
  l.item.lot = raw("10");
  if (const auto* e = d.find("17"); e != nullptr && e->date_iso) l.item.expiry = *e->date_iso;
  l.item.serial = raw("21");
  if (const auto* e = d.find("37"); e != nullptr && e->integer)
    l.number = *e->integer;
  else if (const auto* v = d.find("30"); v != nullptr && v->integer)
    l.number = *v->integer;
  if (const auto* e = d.find("00"); e != nullptr) {
    l.kind = LabelKind::container;
    l.value = e->raw;
  } else if (const auto* g = d.find("414"); g != nullptr) {
    l.kind = LabelKind::location;
    const auto ext = raw("254");
    l.location.code = ext.empty() ? g->raw : text::upper(ext);
    l.value = l.location.code;
  } else if (!l.item.gtin.empty()) {
    l.kind = LabelKind::item;
    l.value = l.item.gtin;
  } else {
    return make_error("unknown_label", "GS1 data \"" + text::quote(d.to_hri()) +
                                           "\" has no item, SSCC or location key (AI 01, 02, 00 or 414)");
  }
  l.gs1 = std::move(d);
  return l;
}

// Element strings typed on a keyboard wedge start with a key AI. Digits-only
// texts of GTIN/SSCC length are left to `digits`.
bool wedge_element_string(std::string_view t, const LabelOptions& o) {
  if (!text::is_digit(t.front())) return false;
  const auto n = t.size();
  if (text::all_digits(t) && (n == 8 || n == 12 || n == 13 || n == 14 || n == 18)) return false;
  if (t.find('\x1D') != std::string_view::npos) return true;
  for (const auto& sub : o.gs1.gs_substitutes)
    if (!sub.empty() && t.find(sub) != std::string_view::npos && n > 2) return true;
  for (std::string_view key : {"00", "01", "02", "253", "414", "8003", "8004"})
    if (t.starts_with(key) && n > key.size() + 1) return true;
  return false;
}

// GS1 HRI "(01)…", Digital Link URIs and wedge element strings.
Recognized gs1_data(std::string_view t, const LabelOptions& o) {
  if (t.size() >= 4 && t.front() == '(' && text::is_digit(t[1])) return from_gs1(parse_hri(t, o.gs1));
  if (looks_like_digital_link(t)) return from_gs1(parse_digital_link(t, o.gs1));
  if (wedge_element_string(t, o)) return from_gs1(parse_element_string(t, o.gs1));
  return std::nullopt;
}

constexpr std::array<Recognizer, 8> kRecognizers = {badge, pin, command, tote, document, gs1_data, location, digits};

}  // namespace

Result<Label> classify(std::string_view raw, const LabelOptions& options) {
  auto t = text::trim(raw);
  if (t.empty()) return make_error("empty_scan", "the scan is empty");
  const auto sym = split_symbology(t);
  if (sym.gs1 || sym.gtin) return from_gs1(parse_gs1(t, options.gs1));
  if (!sym.id.empty()) {
    t = text::trim(sym.rest);
    if (t.empty()) return make_error("empty_scan", "the scan is empty after its symbology identifier");
  }
  for (Recognizer r : kRecognizers)
    if (auto got = r(t, options)) return std::move(*got);
  return unknown(t);
}

Result<void> validate(const LabelOptions& options) {
  const auto blank = [](const std::string& s) { return text::trim(s).size() != s.size() || s.empty(); };
  for (const std::string& sub : options.gs1.gs_substitutes) {
    if (blank(sub)) return make_error("bad_options", "gs_substitutes: '" + sub + "' is empty or has blanks around it");
  }
  for (const auto& [kind, prefixes] : document_kinds(options)) {
    for (const std::string& p : *prefixes) {
      if (blank(p)) return make_error("bad_options", "document prefix '" + p + "' is empty or has blanks around it");
    }
  }
  if (!options.bin_regex.empty()) {
    try {
      const std::regex re(options.bin_regex, std::regex::ECMAScript | std::regex::icase);
    } catch (const std::exception& e) {
      return make_error("bad_options", "bin_regex '" + options.bin_regex + "': " + e.what());
    }
  }
  return {};
}

Result<Label> classify(std::string_view raw) {
  static const LabelOptions kDefaults;
  return classify(raw, kDefaults);
}

std::string redacted(std::string_view raw) {
  auto t = text::trim(raw);
  if (!t.empty() && t.front() == ']') {
    const auto sym = split_symbology(t);
    if (!sym.id.empty()) t = text::trim(sym.rest);
  }
  if (text::starts_with_ci(t, "PIN:")) return "PIN:****";
  return std::string(raw);
}

std::span<const std::string_view> command_verbs() { return kVerbs; }

std::string_view to_string(LabelKind k) {
  switch (k) {
    case LabelKind::operator_badge:
      return "operator_badge";
    case LabelKind::command:
      return "command";
    case LabelKind::quantity:
      return "quantity";
    case LabelKind::reason:
      return "reason";
    case LabelKind::location:
      return "location";
    case LabelKind::container:
      return "container";
    case LabelKind::document:
      return "document";
    case LabelKind::item:
      return "item";
    case LabelKind::state:
      return "state";
    case LabelKind::pin:
      return "pin";
  }
  return "unknown";
}

}  // namespace tally::scanner
