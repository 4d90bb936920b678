// The helpers every workflow shares (steps.hpp).
#include "session/steps.hpp"

#include <algorithm>
#include <utility>

#include "text.hpp"

namespace tally::scanner::workflow {

namespace {

Outcome outcome(Feedback feedback, std::string code, std::string message) {
  Outcome o;
  o.feedback = feedback;
  o.code = std::move(code);
  o.message = std::move(message);
  return o;
}

}  // namespace

Outcome good(std::string code, std::string message) {
  return outcome(Feedback::good, std::move(code), std::move(message));
}

Outcome fail(std::string code, std::string message) {
  return outcome(Feedback::error, std::move(code), std::move(message));
}

Outcome fail(const Error& e) { return fail(e.code, e.message); }

std::string qty_text(std::int64_t qty, const Item& item) { return std::to_string(qty) + " x " + item.id(); }

std::string line_item_id(const TaskLine& l) { return l.sku.empty() ? gtin14(l.gtin) : l.sku; }

TaskLine resolved(const TaskLine& l, const MasterData* master) {
  TaskLine r = l;
  r.gtin = gtin14(r.gtin);
  if (r.gtin.empty() && !r.sku.empty() && master) {
    if (const CatalogItem* c = master->find_item(r.sku)) r.gtin = gtin14(c->gtin);
  }
  return r;
}

bool line_item_matches(const TaskLine& line, const Item& item) {
  if (!line.gtin.empty() && item.gtin == line.gtin) return true;
  return !line.sku.empty() && item.sku == line.sku;
}

void reset_to_base(State& s) {
  s.evidence.clear();
  s.pack_units.clear();
  s.catalog_skus.clear();
  s.ctx = s.base;
  s.from = s.ctx.source;  // move: the source kept from the previous move
  s.item.reset();
  s.qty = 0;
  s.reason.clear();
  s.short_pick = false;
}

void next_step(State& s) {
  s.base = s.ctx;
  reset_to_base(s);
}

void clear_all(State& s) {
  s.base = {};
  reset_to_base(s);
}

bool step_open(const State& s) {
  if (!s.evidence.empty()) return true;
  Context c = s.ctx;
  c.source.reset();
  c.state.reset();
  return c != Context{};
}

Result<Label> label_of(const State& s, std::string_view text, std::optional<std::string>* catalog_gtin) {
  auto label = classify(text, s.options.labels);
  if (label || label.error().code != "unknown_label") return label;
  std::optional<std::string> gtin;
  const std::string sku(text::trim(split_symbology(text::trim(text)).rest));
  if (s.replay_sku) {
    gtin = *s.replay_sku;
  } else if (const CatalogItem* c = s.master ? s.master->find_item(sku) : nullptr; c && c->sku == sku) {
    gtin = gtin14(c->gtin);  // as a scan of the barcode gives it
  }
  if (!gtin || sku.empty()) return label;
  Label l;
  l.kind = LabelKind::item;
  l.value = sku;
  l.item.sku = sku;
  l.item.gtin = *gtin;
  if (catalog_gtin != nullptr) *catalog_gtin = std::move(gtin);
  return l;
}

void note_catalog_sku(State& s, const std::string& text, const std::optional<std::string>& gtin) {
  if (gtin && !s.evidence.empty() && s.evidence.back() == text) s.catalog_skus[s.evidence.size() - 1] = *gtin;
}

std::string prompt(const State& s) {
  if (!s.pin_pending.empty()) return "Scan your PIN";
  if (s.operator_id.empty()) return "Scan your badge";
  return workflow_of(s).prompt(s);
}

Outcome unexpected(const State& s, const Label& l) {
  return fail("unexpected_label", "A " + std::string(to_string(l.kind)) + " is not expected here. " + prompt(s));
}

Units units_of(const State& s, const Label& l) {
  if (l.number > 0) return {l.number, false};
  if (s.replay_pack) return {*s.replay_pack, *s.replay_pack > 1};
  if (s.master) {
    if (const CatalogItem* c = s.master->find_item(l.item.id()); c && c->pack_size > 1) return {c->pack_size, true};
  }
  return {};
}

Outcome count_item(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  const Units u = units_of(s, l);
  if (s.qty + u.n > kMaxQty) return fail("invalid_qty", "Quantity cannot exceed 1000000");
  const bool first = s.qty == 0;
  s.item = l.item;
  s.qty += u.n;
  if (u.from_pack) s.pack_units[s.evidence.size()] = u.n;
  s.evidence.push_back(text);
  Outcome o = good("item_counted", qty_text(s.qty, *s.item));
  if (u.n > 1) o.message += " (+" + std::to_string(u.n) + (u.from_pack ? " pack)" : " GS1 count)");
  // Not in the catalog (when one is loaded): accepted, flagged once per step.
  if (first && s.master && s.master->catalog_version > 0 && s.master->find_item(l.item.id()) == nullptr) {
    o.feedback = Feedback::warning;
    o.message = l.item.id() + " is not in the catalog; " + o.message;
    o.exception = exception(s, "unknown_item", "a catalog item", text, {text}, time_ms);
  }
  return o;
}

Outcome same_item(State& s, const Label& l, const std::string& text, std::int64_t time_ms, std::string_view what) {
  if (s.item && *s.item != l.item)
    return fail("different_item", "One item per " + std::string(what) + ": finish or cancel " + s.item->id() + " first");
  return count_item(s, l, text, time_ms);
}

Outcome shared_label(State& s, const Label& l, const std::string& text) {
  switch (l.kind) {
    case LabelKind::quantity:
      return set_qty(s, l, text);
    case LabelKind::reason:
      return set_reason(s, l, text);
    default:
      return unexpected(s, l);
  }
}

Outcome set_qty(State& s, const Label& l, const std::string& text) {
  if (!s.item) return fail("no_item", "Scan the item before the quantity");
  s.qty = l.number;
  s.evidence.push_back(text);
  return good("qty_set", qty_text(s.qty, *s.item));
}

Outcome set_reason(State& s, const Label& l, const std::string& text) {
  const auto& codes = s.options.reason_codes;
  if (workflow_of(s).reason_checked && !codes.empty() && std::find(codes.begin(), codes.end(), l.value) == codes.end())
    return fail("unknown_reason", "Reason " + l.value + " is not one of this site's reason codes");
  s.reason = l.value;
  s.evidence.push_back(text);
  return good("reason_set", "Reason " + l.value);
}

// Any time in the step; it stays for the next steps of the mode. Only a
// state the mode's movement type can take from is accepted (the transition
// table).
Outcome set_state(State& s, const Label& l, const std::string& text) {
  const Workflow& w = workflow_of(s);
  const auto state = parse_stock_state(l.value);
  if (!state || !w.state_movement) return unexpected(s, l);
  bool allowed = false;
  for (const Transition& t : transitions(*w.state_movement))
    if (t.from == state && (w.state_to ? t.to == w.state_to : t.to == state)) allowed = true;
  if (!allowed)
    return fail("invalid_state",
                "A " + std::string(to_string(*w.state_movement)) + " cannot take goods in state " + l.value);
  s.ctx.state = state;
  s.evidence.push_back(text);
  return good("state_set", "Goods " + l.value);
}

StockState goods_state(const State& s) { return s.ctx.state.value_or(workflow_of(s).goods_default); }

std::string state_note(const State& s) {
  return s.ctx.state ? " [" + std::string(to_string(*s.ctx.state)) + "]" : std::string();
}

Result<Movement> make_movement(const State& s, MovementType type, Endpoint from, Endpoint to,
                               std::vector<std::string> evidence, std::int64_t time_ms) {
  Movement m;
  m.device = s.options.device;
  m.site = s.options.site;
  m.operator_id = s.operator_id;
  m.type = type;
  if (s.item) m.item = *s.item;
  m.qty = s.qty;
  m.from = std::move(from);
  m.to = std::move(to);
  m.reason = s.reason;
  m.reference = s.ctx.reference;
  m.evidence = std::move(evidence);
  m.wall_time_ms = time_ms;
  if (auto ok = validate(m); !ok) return ok.error();
  return m;
}

DeviceException exception(const State& s, std::string kind, std::string expected, std::string scanned,
                          std::vector<std::string> evidence, std::int64_t time_ms) {
  DeviceException e;
  e.kind = std::move(kind);
  e.operator_id = s.operator_id;
  e.mode = std::string(workflow_of(s).name);
  e.expected = std::move(expected);
  e.scanned = std::move(scanned);
  e.evidence = std::move(evidence);
  e.time_ms = time_ms;
  e.task = task_ref(s);
  e.reason = s.reason;
  return e;
}

Outcome refuse(const State& s, std::string code, std::string message, std::string expected, const std::string& text,
               std::int64_t time_ms) {
  Outcome o = fail(code, std::move(message));
  o.exception = exception(s, std::move(code), std::move(expected), text, {text}, time_ms);
  return o;
}

std::string task_ref(const State& s) {
  if (s.ctx.task.empty() || !s.ctx.line) return {};
  return s.ctx.task + "/" + std::to_string(s.ctx.line->line);
}

}  // namespace tally::scanner::workflow
