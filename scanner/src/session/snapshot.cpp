// The session's state as JSON (snapshot "v": 1), written by the journal in
// the same transaction as the scan that changed it, and read back after a
// crash. A restored snapshot is checked by replaying its evidence: the
// result must write the very same snapshot. docs/JOURNAL.md.
#include <exception>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "session/core.hpp"
#include "session/steps.hpp"
#include "text.hpp"

namespace tally::scanner::workflow {

namespace {

nlohmann::json item_json(const Item& i) {
  return {{"gtin", i.gtin}, {"sku", i.sku}, {"lot", i.lot}, {"expiry", i.expiry}, {"serial", i.serial}};
}

nlohmann::json opt_location_json(const std::optional<Location>& l) {
  return l ? nlohmann::json(l->code) : nlohmann::json(nullptr);
}

nlohmann::json line_json(const TaskLine& l) {
  return {{"line", l.line}, {"gtin", l.gtin}, {"sku", l.sku}, {"qty", l.qty},
          {"bin", l.bin},   {"lot", l.lot},   {"lot_rule", l.lot_rule}};
}

TaskLine parse_line(const nlohmann::json& j) {
  TaskLine l;
  l.line = j.at("line").get<int>();
  l.gtin = j.at("gtin").get<std::string>();
  l.sku = j.at("sku").get<std::string>();
  l.qty = j.at("qty").get<std::int64_t>();
  l.bin = j.at("bin").get<std::string>();
  l.lot = j.at("lot").get<std::string>();
  l.lot_rule = j.at("lot_rule").get<std::string>();
  return l;
}

nlohmann::json endpoint_json(const Endpoint& e) {
  return {{"location", e.location.code},
          {"state", e.state ? nlohmann::json(std::string(to_string(*e.state))) : nlohmann::json(nullptr)}};
}

Endpoint parse_endpoint(const nlohmann::json& j) {
  Endpoint e{Location{j.at("location").get<std::string>()}, std::nullopt};
  if (const auto& st = j.at("state"); !st.is_null()) {
    e.state = parse_stock_state(st.get<std::string>());
    if (!e.state) throw std::invalid_argument("unknown state");
  }
  return e;
}

// The last movement (what CMD:CORRECT reverses), without device, site and
// operator: those are the session's.
nlohmann::json last_json(const Movement& m) {
  return {{"type", std::string(to_string(m.type))},
          {"item", item_json(m.item)},
          {"qty", m.qty},
          {"from", endpoint_json(m.from)},
          {"to", endpoint_json(m.to)},
          {"reason", m.reason},
          {"reference", m.reference},
          {"evidence", m.evidence},
          {"time_ms", m.wall_time_ms}};
}

Movement parse_last(const nlohmann::json& j, const SessionOptions& o, const std::string& operator_id) {
  Movement m;
  m.device = o.device;
  m.site = o.site;
  m.operator_id = operator_id;
  const auto type = parse_movement_type(j.at("type").get<std::string>());
  if (!type) throw std::invalid_argument("unknown movement type");
  m.type = *type;
  const auto& i = j.at("item");
  m.item = Item{i.at("gtin").get<std::string>(), i.at("sku").get<std::string>(), i.at("lot").get<std::string>(),
                i.at("expiry").get<std::string>(), i.at("serial").get<std::string>()};
  m.qty = j.at("qty").get<std::int64_t>();
  m.from = parse_endpoint(j.at("from"));
  m.to = parse_endpoint(j.at("to"));
  m.reason = j.at("reason").get<std::string>();
  m.reference = j.at("reference").get<std::string>();
  m.evidence = j.at("evidence").get<std::vector<std::string>>();
  m.wall_time_ms = j.at("time_ms").get<std::int64_t>();
  return m;
}

// reference and dock always; the newer fields only when set, so a
// snapshot written before they existed restores unchanged.
nlohmann::json context_json(const Context& c) {
  nlohmann::json j = {{"reference", c.reference}, {"dock", opt_location_json(c.dock)}};
  if (c.bin) j["bin"] = c.bin->code;
  if (!c.task.empty()) j["task"] = c.task;
  if (c.line_index != 0) j["line_index"] = c.line_index;
  if (c.line) j["line"] = line_json(*c.line);
  if (!c.received.empty()) j["received"] = c.received;
  if (c.source) j["source"] = c.source->code;
  if (c.state) j["goods_state"] = std::string(to_string(*c.state));
  return j;
}

Context parse_context(const nlohmann::json& j) {
  Context c;
  c.reference = j.at("reference").get<std::string>();
  const auto& dock = j.at("dock");
  if (!dock.is_null()) c.dock = Location{dock.get<std::string>()};
  if (j.contains("bin")) c.bin = Location{j.at("bin").get<std::string>()};
  if (j.contains("task")) c.task = j.at("task").get<std::string>();
  if (j.contains("line_index")) c.line_index = j.at("line_index").get<int>();
  if (j.contains("line")) c.line = parse_line(j.at("line"));
  if (j.contains("received")) c.received = j.at("received").get<std::map<std::string, std::int64_t>>();
  if (j.contains("source")) c.source = Location{j.at("source").get<std::string>()};
  if (j.contains("goods_state")) {
    c.state = parse_stock_state(j.at("goods_state").get<std::string>());
    if (!c.state) throw std::invalid_argument("unknown goods_state");
  }
  return c;
}

// Which context fields a mode may carry between steps (Workflow).
bool context_fits(Mode m, Context c) {
  const Workflow& w = workflow_of(m);
  if (c.source && !w.keeps_source) return false;
  if (c.state && !w.state_movement) return false;
  c.source.reset();
  c.state.reset();
  if (c == Context{}) return true;
  return w.context_fits != nullptr && w.context_fits(c);
}

// A code a bin or LOC: scan produces.
bool scannable_place(const Location& at) {
  auto l = Location::parse("LOC:" + at.code);
  if (l && *l == at) return true;
  auto b = Location::parse(at.code);
  return b && *b == at && !at.external();
}

bool context_ok(const State& s, const Context& c) {
  if (c.bin && !scannable_place(*c.bin)) return false;
  if (c.source && !scannable_place(*c.source)) return false;
  if (!c.task.empty()) return c.line_index >= 0;  // a task's reference comes from master data
  if (!c.reference.empty()) {
    auto l = label_of(s, c.reference);
    if (!l || l->kind != LabelKind::document || l->value != c.reference) return false;
  }
  if (c.dock) {
    auto l = Location::parse("LOC:" + c.dock->code);
    if (!l || *l != *c.dock) return false;
  }
  return true;
}

}  // namespace

nlohmann::json to_snapshot(const State& s) {
  nlohmann::json state = context_json(s.ctx);
  state["from"] = opt_location_json(s.from);
  state["item"] = s.item ? item_json(*s.item) : nlohmann::json(nullptr);
  state["qty"] = s.qty;
  state["reason"] = s.reason;
  if (s.short_pick) state["short"] = true;
  nlohmann::json j = {{"v", 1},
                      {"operator", s.operator_id},
                      {"mode", std::string(workflow_of(s).name)},
                      {"base", context_json(s.base)},
                      {"evidence", s.evidence},
                      {"state", std::move(state)}};
  if (!s.done_tasks.empty()) j["done_tasks"] = s.done_tasks;
  if (s.last_scan_ms != 0) j["last_scan_ms"] = s.last_scan_ms;
  if (!s.pin_pending.empty()) j["pin_pending"] = s.pin_pending;
  if (!s.pack_units.empty()) j["pack_units"] = s.pack_units;        // [[evidence index, units], …]
  if (!s.catalog_skus.empty()) j["catalog_skus"] = s.catalog_skus;  // [[evidence index, catalog gtin or ""], …]
  if (s.last) j["last"] = last_json(*s.last);
  return j;
}

Result<State> from_snapshot(SessionOptions options, const nlohmann::json& snapshot) {
  auto bad = [](const std::string& why) { return make_error("bad_snapshot", why); };
  try {
    if (!snapshot.is_object()) return bad("snapshot is not a JSON object");
    const auto& v = snapshot.at("v");
    if (!v.is_number_integer() || v.get<std::int64_t>() != 1) return bad("unsupported snapshot version");
    State s;
    s.options = std::move(options);
    s.operator_id = snapshot.at("operator").get<std::string>();
    if (!s.operator_id.empty() && !text::is_code(s.operator_id)) return bad("bad operator id");
    auto mode = parse_mode(snapshot.at("mode").get<std::string>());
    if (!mode) return bad("unknown mode");
    s.mode = *mode;
    s.base = parse_context(snapshot.at("base"));
    s.evidence = snapshot.at("evidence").get<std::vector<std::string>>();
    if (s.operator_id.empty() && s.mode != Mode::idle) return bad("a mode without an operator");
    if (snapshot.contains("done_tasks")) s.done_tasks = snapshot.at("done_tasks").get<std::vector<std::string>>();
    if (snapshot.contains("last_scan_ms")) s.last_scan_ms = snapshot.at("last_scan_ms").get<std::int64_t>();
    if (snapshot.contains("pin_pending")) {
      s.pin_pending = snapshot.at("pin_pending").get<std::string>();
      if (!text::is_code(s.pin_pending)) return bad("bad pending operator id");
    }
    if (snapshot.contains("pack_units")) {
      s.pack_units = snapshot.at("pack_units").get<std::map<std::size_t, std::int64_t>>();
      for (const auto& [index, units] : s.pack_units)
        if (index >= s.evidence.size() || units < 2 || units > kMaxQty) return bad("bad pack_units");
    }
    if (snapshot.contains("catalog_skus")) {
      s.catalog_skus = snapshot.at("catalog_skus").get<std::map<std::size_t, std::string>>();
      for (const auto& [index, gtin] : s.catalog_skus)
        if (index >= s.evidence.size() || !(gtin.empty() || (gtin.size() == 14 && text::all_digits(gtin))))
          return bad("bad catalog_skus");
    }
    if (snapshot.contains("last")) {
      if (s.operator_id.empty()) return bad("a last movement without an operator");
      s.last = parse_last(snapshot.at("last"), s.options, s.operator_id);
      if (auto ok = validate(*s.last); !ok || s.last->evidence.empty()) return bad("bad last movement");
    }
    if (!context_fits(s.mode, s.base)) return bad("context does not fit the mode");
    if (!context_ok(s, s.base)) return bad("bad context");
    if (!replay(s)) return bad("the evidence does not replay");
    if (to_snapshot(s) != snapshot) return bad("the state does not match the evidence");
    return s;
  } catch (const std::exception& e) {
    return bad(std::string("malformed snapshot: ") + text::quote(e.what()));
  }
}

}  // namespace tally::scanner::workflow
