// classify(): scan text → Label, default label grammar (docs/DOMAIN.md).
//
// The text is offered to a list of recognisers in order; each one either
// declines (nullopt: "not my kind of label") or owns the text and returns a
// Label or an Error. A GS1 element-string / Digital Link recogniser slots in
// before `digits` (it owns "(01)…", "]C1…", "https://…/01/…").
#include "tally/scanner/label.hpp"

#include <array>
#include <charconv>
#include <optional>
#include <string>
#include <utility>

#include "text.hpp"

namespace tally::scanner {

namespace {

using Recognized = std::optional<Result<Label>>;
using Recognizer = Recognized (*)(std::string_view);

constexpr std::int64_t kMaxQty = 1'000'000;

constexpr std::array<std::string_view, 14> kVerbs = {"RECEIVE", "PUTAWAY", "PICK",   "MOVE",  "DAMAGE",
                                                     "HOLD",    "RELEASE", "RETURN", "COUNT", "CONFIRM",
                                                     "UNDO",    "CANCEL",  "DONE",   "LOGOUT"};

Error unknown(std::string_view t, std::string_view why = "unknown label") {
  return make_error("unknown_label", std::string(why) + " \"" + text::quote(t) + "\"");
}

Label make(LabelKind kind, std::string value) {
  Label l;
  l.kind = kind;
  l.value = std::move(value);
  return l;
}

Recognized badge(std::string_view t) {
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

Recognized command(std::string_view t) {
  if (!text::starts_with_ci(t, "CMD:")) return std::nullopt;
  const auto rest = t.substr(4);
  if (text::starts_with_ci(rest, "QTY:")) return quantity(t, rest.substr(4));
  if (text::starts_with_ci(rest, "REASON:")) {
    const auto code = rest.substr(7);
    if (!text::is_code(code))
      return Result<Label>(make_error("bad_command", "bad reason code \"" + text::quote(t) + "\""));
    return Result<Label>(make(LabelKind::reason, text::upper(code)));
  }
  for (auto verb : kVerbs)
    if (text::equals_ci(rest, verb)) return Result<Label>(make(LabelKind::command, std::string(verb)));
  return Result<Label>(make_error("bad_command", "unknown command \"" + text::quote(t) + "\""));
}

Recognized tote(std::string_view t) {
  if (!text::starts_with_ci(t, "TOTE:")) return std::nullopt;
  const auto id = t.substr(5);
  if (!text::is_code(id)) return Result<Label>(unknown(t, "bad tote label"));
  return Result<Label>(make(LabelKind::container, text::upper(id)));
}

// PO:/ASN:/ORD:/TASK: + a value of printable ASCII without spaces (≤ 64).
Recognized document(std::string_view t) {
  for (std::string_view prefix : {"PO:", "ASN:", "ORD:", "TASK:"}) {
    if (!text::starts_with_ci(t, prefix)) continue;
    const auto v = t.substr(prefix.size());
    bool ok = !v.empty() && v.size() <= text::kMaxQuote;
    for (char c : v) ok = ok && c > ' ' && c < 0x7F;
    if (!ok) return Result<Label>(unknown(t, "bad document label"));
    return Result<Label>(make(LabelKind::document, std::string(prefix) + std::string(v)));
  }
  return std::nullopt;
}

// Bins and LOC:<code>. External parties ("@customer") are not labels: stock
// leaves for a party only through the workflow that means it (ship, …).
Recognized location(std::string_view t) {
  if (t.front() == '@') return std::nullopt;
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
Recognized digits(std::string_view t) {
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

constexpr std::array<Recognizer, 6> kRecognizers = {badge, command, tote, document, location, digits};

}  // namespace

Result<Label> classify(std::string_view raw) {
  const auto t = text::trim(raw);
  if (t.empty()) return make_error("empty_scan", "the scan is empty");
  for (Recognizer r : kRecognizers)
    if (auto got = r(t)) return std::move(*got);
  return unknown(t);
}

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
  }
  return "unknown";
}

}  // namespace tally::scanner
