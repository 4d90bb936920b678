// The scan workflow state machine. See docs/DOMAIN.md for the workflows and
// their prompts.
//
// Shape: handle() works on a copy of the session and only keeps the copy when
// the outcome is not an error, so a refused scan never changes anything. The
// open step is kept as its effective scans (`evidence_`) on top of a base
// context (`base_`); undo drops the last scan and replays the rest, and
// restore() replays a snapshot's evidence to rebuild (and check) the state.
#include "tally/scanner/session.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "tally/scanner/label.hpp"
#include "text.hpp"

namespace tally::scanner {

namespace {

constexpr std::int64_t kMaxQty = 1'000'000;

Outcome good(std::string code, std::string message) {
  Outcome o;
  o.feedback = Feedback::good;
  o.code = std::move(code);
  o.message = std::move(message);
  return o;
}

Outcome fail(std::string code, std::string message) {
  Outcome o;
  o.feedback = Feedback::error;
  o.code = std::move(code);
  o.message = std::move(message);
  return o;
}

Outcome fail(const Error& e) { return fail(e.code, e.message); }

nlohmann::json item_json(const Item& i) {
  return {{"gtin", i.gtin}, {"sku", i.sku}, {"lot", i.lot}, {"expiry", i.expiry}, {"serial", i.serial}};
}

nlohmann::json opt_location_json(const std::optional<Location>& l) {
  return l ? nlohmann::json(l->code) : nlohmann::json(nullptr);
}

std::string qty_text(std::int64_t qty, const Item& item) { return std::to_string(qty) + " x " + item.id(); }

// What the picker is told to pick: the SKU when the line names one.
std::string line_item_id(const TaskLine& l) { return l.sku.empty() ? gtin14(l.gtin) : l.sku; }

// A task line as the session keeps it: a SKU-only line gets its GTIN from
// the catalog now, so checking a scan against it never needs master data
// later (undo and restore replay without it).
TaskLine resolved(const TaskLine& l, const MasterData* master) {
  TaskLine r = l;
  r.gtin = gtin14(r.gtin);
  if (r.gtin.empty() && !r.sku.empty() && master) {
    if (const CatalogItem* c = master->find_item(r.sku)) r.gtin = gtin14(c->gtin);
  }
  return r;
}

constexpr const char* kEmptySku = "*EMPTY*";  // the item of an empty-bin count
static_assert(std::string_view(kEmptySku) == kEmptyBinSku);

nlohmann::json line_json(const TaskLine& l) {
  return {{"line", l.line}, {"gtin", l.gtin}, {"sku", l.sku}, {"qty", l.qty},
          {"bin", l.bin},   {"lot", l.lot},   {"lot_rule", l.lot_rule}};
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

}  // namespace

std::string iso_date(std::int64_t time_ms) {
  // days since 1970-01-01 → civil date (H. Hinnant's algorithm), UTC.
  std::int64_t days = time_ms / 86'400'000;
  if (time_ms % 86'400'000 < 0) --days;
  days += 719'468;
  const std::int64_t era = (days >= 0 ? days : days - 146'096) / 146'097;
  const std::int64_t doe = days - era * 146'097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  auto two = [](std::int64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  std::string year = std::to_string(y);
  if (y >= 0 && y < 1000) year = std::string(4 - year.size(), '0') + year;
  return year + "-" + two(m) + "-" + two(d);
}

std::optional<std::string> lot_problem(const TaskLine& line, const Item& item, std::int64_t time_ms) {
  if (!line.lot.empty() && line.lot_rule != "any" && !item.lot.empty() && item.lot != line.lot) return "wrong_lot";
  if (!item.expiry.empty() && item.expiry < iso_date(time_ms)) return "expired_lot";
  return std::nullopt;
}

bool allowance_applies(const MasterData& master, const Movement& m) {
  return master.allowances_version > 0 && m.type == MovementType::pick && m.from.state == StockState::available &&
         !m.from.location.external();
}

AllowanceUse allowance_use(const MasterData& master, const Movement& pick, std::int64_t used, std::int64_t time_ms) {
  AllowanceUse u;
  u.grant = master.find_allowance(pick.item.id(), pick.item.lot, pick.from.location.code);
  if (u.grant != nullptr) {
    u.expired = time_ms >= u.grant->expires_ms;
    u.remaining = u.expired ? 0 : std::max<std::int64_t>(0, u.grant->qty - used);
  }
  u.exceeded = pick.qty > u.remaining;
  return u;
}

DeviceException allowance_exception(const AllowanceUse& use, const Movement& pick, const std::string& mode) {
  DeviceException x;
  x.kind = "allowance_exceeded";
  x.operator_id = pick.operator_id;
  x.mode = mode;
  const std::string what = pick.item.id() + (pick.item.lot.empty() ? "" : " lot " + pick.item.lot) + " from " +
                           pick.from.location.code;
  x.expected = "at most " + std::to_string(use.remaining) + " x " + what +
               (use.grant == nullptr ? " (no allowance)"
                                     : " (allowance " + use.grant->id + (use.expired ? ", expired)" : ")"));
  x.scanned = std::to_string(pick.qty) + " x " + what;
  x.evidence = pick.evidence;
  x.time_ms = pick.wall_time_ms;
  x.task = pick.reference;
  return x;
}

struct Session::Impl {
  using Mode = Session::Mode;
  using Context = Session::Context;

  static std::string_view mode_name(Mode m) {
    switch (m) {
      case Mode::idle:
        return "idle";
      case Mode::move:
        return "move";
      case Mode::putaway:
        return "putaway";
      case Mode::receive:
        return "receive";
      case Mode::pick:
        return "pick";
      case Mode::damage:
        return "damage";
      case Mode::hold:
        return "hold";
      case Mode::release:
        return "release";
      case Mode::return_:
        return "return";
      case Mode::count:
        return "count";
    }
    return "idle";
  }

  static constexpr Mode kModes[] = {Mode::idle, Mode::move,    Mode::putaway, Mode::receive, Mode::pick,
                                    Mode::damage, Mode::hold, Mode::release, Mode::return_, Mode::count};

  static std::optional<Mode> parse_mode(std::string_view s) {
    for (Mode m : kModes)
      if (mode_name(m) == s) return m;
    return std::nullopt;
  }

  static std::optional<Mode> mode_of_verb(std::string_view verb) {
    for (Mode m : kModes)
      if (m != Mode::idle && text::equals_ci(mode_name(m), verb)) return m;
    return std::nullopt;
  }

  // damage, hold, release: bin → item(s) → (reason) → CONFIRM, state changes in place.
  static bool in_place(const Session& s) {
    return s.mode_ == Mode::damage || s.mode_ == Mode::hold || s.mode_ == Mode::release;
  }
  static bool reason_required(const Session& s) {
    return s.mode_ == Mode::damage || s.mode_ == Mode::hold || s.mode_ == Mode::return_;
  }
  static bool reason_checked(const Session& s) { return in_place(s) || s.mode_ == Mode::return_ || s.mode_ == Mode::pick; }

  static bool transfer(const Session& s) { return s.mode_ == Mode::move || s.mode_ == Mode::putaway; }

  // A step holds scans, or a receipt, task or counted bin is open. A move's
  // kept source and a chosen state are not open work: they just drop.
  static bool step_open(const Session& s) {
    if (!s.evidence_.empty()) return true;
    Context c = s.ctx_;
    c.source.reset();
    c.state.reset();
    return c != Context{};
  }

  // Which modes take CMD:STATE, and the state their goods are in unless it says otherwise.
  static bool takes_state(const Session& s) { return s.mode_ == Mode::move || in_place(s); }
  static StockState default_state(Mode m) { return m == Mode::release ? StockState::quality_hold : StockState::available; }
  static StockState goods_state(const Session& s) { return s.ctx_.state.value_or(default_state(s.mode_)); }
  // " [returned]" in a prompt when CMD:STATE chose a state.
  static std::string state_note(const Session& s) {
    return s.ctx_.state ? " [" + std::string(to_string(*s.ctx_.state)) + "]" : std::string();
  }

  static std::string prompt(const Session& s) {
    if (!s.pin_pending_.empty()) return "Scan your PIN";
    if (s.operator_.empty()) return "Scan your badge";
    switch (s.mode_) {
      case Mode::idle:
        return "Scan a mode to start: MOVE, RECEIVE, PUTAWAY, PICK, DAMAGE, HOLD, RELEASE, RETURN or COUNT";
      case Mode::move:
      case Mode::putaway:
        if (!s.from_) return s.mode_ == Mode::move ? "Scan source bin" + state_note(s) : "Scan source location";
        if (s.qty_ == 0 && s.base_.source && s.from_ == s.base_.source)
          return "Scan item from " + s.from_->code + state_note(s) + ", or another source bin";
        if (s.qty_ == 0) return "Scan item" + state_note(s);
        if (s.mode_ == Mode::putaway && !suggested_bin(s).empty())
          return "Scan item, quantity or destination bin (suggested " + suggested_bin(s) + ")";
        return "Scan item, quantity or destination bin";
      case Mode::receive:
        if (s.item_) return "Scan item, quantity or CONFIRM";
        return "Scan item, document or dock";
      case Mode::pick:
        return pick_prompt(s);
      case Mode::damage:
      case Mode::hold:
      case Mode::release:
        if (!s.from_) return "Scan bin" + state_note(s);
        if (s.qty_ == 0) return "Scan item" + state_note(s);
        if (reason_required(s) && s.reason_.empty()) return "Scan item, quantity or reason";
        return "Scan item, quantity or CONFIRM";
      case Mode::return_:
        if (s.qty_ == 0) return "Scan returned item or order";
        if (s.reason_.empty()) return "Scan item, quantity or reason";
        return "Scan item, quantity or returns location";
      case Mode::count:
        if (!s.ctx_.bin) return "Scan bin to count";
        if (s.item_) return "Scan item, quantity or CONFIRM";
        if (s.base_.bin != s.ctx_.bin) return "Scan item, or CONFIRM for an empty bin";
        return "Scan next item in " + s.ctx_.bin->code + ", or DONE";
    }
    return "Scan your badge";
  }

  static std::string pick_prompt(const Session& s) {
    if (!s.ctx_.line) {
      if (!s.from_) return "Scan TASK or bin to pick";
      if (s.qty_ == 0) return "Scan item";
      return "Scan item, quantity or tote";
    }
    const TaskLine& l = *s.ctx_.line;
    const std::string what = std::to_string(l.qty) + " x " + line_item_id(l);
    if (!s.from_) return "Go to " + location_code(l.bin) + ", pick " + what;
    if (s.qty_ >= l.qty || s.short_) return "Scan the tote";
    if (s.qty_ == 0) return "Pick " + what;
    return "Picked " + std::to_string(s.qty_) + " of " + what + ": scan item, or REASON + CONFIRM if short";
  }

  // Clears the open step back to its base context.
  static void reset_to_base(Session& s) {
    s.evidence_.clear();
    s.pack_units_.clear();
    s.catalog_skus_.clear();
    s.ctx_ = s.base_;
    s.from_ = s.ctx_.source;  // move: the source kept from the previous move
    s.item_.reset();
    s.qty_ = 0;
    s.reason_.clear();
    s.short_ = false;
  }

  // Starts a fresh step after a commit; the receipt context carries over.
  static void next_step(Session& s) {
    s.base_ = s.ctx_;
    reset_to_base(s);
  }

  static void clear_all(Session& s) {
    s.base_ = {};
    reset_to_base(s);
  }

  // A scan's meaning under the site's grammar (SessionOptions::labels). A
  // text the grammar does not own that is a SKU of the catalog is an item
  // with that SKU (and the catalog's GTIN); `catalog_gtin` then says so.
  // While replaying, the recorded catalog_skus_ decide, not the master data.
  static Result<Label> label_of(const Session& s, std::string_view text,
                                std::optional<std::string>* catalog_gtin = nullptr) {
    auto label = classify(text, s.options_.labels);
    if (label || label.error().code != "unknown_label") return label;
    std::optional<std::string> gtin;
    const std::string sku(text::trim(split_symbology(text::trim(text)).rest));
    if (s.replay_sku_) {
      gtin = *s.replay_sku_;
    } else if (const CatalogItem* c = s.master_ ? s.master_->find_item(sku) : nullptr; c && c->sku == sku) {
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

  // Records that the scan just added to the evidence was a catalog SKU.
  static void note_catalog_sku(Session& s, const std::string& text, const std::optional<std::string>& gtin) {
    if (gtin && !s.evidence_.empty() && s.evidence_.back() == text) s.catalog_skus_[s.evidence_.size() - 1] = *gtin;
  }

  // Rebuilds the derived state from base_ + evidence_. False if the
  // evidence does not replay cleanly (corrupt snapshot).
  static bool replay(Session& s) {
    std::vector<std::string> scans = std::move(s.evidence_);
    const std::map<std::size_t, std::int64_t> packs = std::move(s.pack_units_);
    const std::map<std::size_t, std::string> skus = std::move(s.catalog_skus_);
    reset_to_base(s);
    if (s.mode_ == Mode::idle || s.operator_.empty()) return scans.empty() && packs.empty() && skus.empty();
    bool ok = true;
    for (std::size_t i = 0; ok && i < scans.size(); ++i) {
      const std::string& t = scans[i];
      const auto sku = skus.find(i);
      s.replay_sku_.emplace(sku == skus.end() ? std::nullopt : std::optional<std::string>(sku->second));
      std::optional<std::string> catalog_gtin;
      auto label = label_of(s, t, &catalog_gtin);
      if (!label || label->kind == LabelKind::operator_badge || label->kind == LabelKind::pin) {
        ok = false;
        break;
      }
      // Only a pick's short-pick CONFIRM stays inside an open step.
      const bool confirm = label->kind == LabelKind::command && label->value == "CONFIRM" && s.mode_ == Mode::pick;
      if (label->kind == LabelKind::command && !confirm) {
        ok = false;
        break;
      }
      const auto pack = packs.find(i);
      s.replay_pack_ = pack == packs.end() ? 1 : pack->second;
      Outcome o = confirm ? command(s, *label, t, 0) : step(s, *label, t, 0);
      ok = o.accepted() && !o.movement;
      note_catalog_sku(s, t, catalog_gtin);
    }
    s.replay_pack_.reset();
    s.replay_sku_.reset();
    // Every recorded pack size and catalog SKU must have been used by the scan it names.
    return ok && s.pack_units_ == packs && s.catalog_skus_ == skus;
  }

  static Result<Movement> make_movement(const Session& s, MovementType type, Endpoint from, Endpoint to,
                                        std::vector<std::string> evidence, std::int64_t time_ms) {
    Movement m;
    m.device = s.options_.device;
    m.site = s.options_.site;
    m.operator_id = s.operator_;
    m.type = type;
    if (s.item_) m.item = *s.item_;
    m.qty = s.qty_;
    m.from = std::move(from);
    m.to = std::move(to);
    m.reason = s.reason_;
    m.reference = s.ctx_.reference;
    m.evidence = std::move(evidence);
    m.wall_time_ms = time_ms;
    if (auto ok = validate(m); !ok) return ok.error();
    return m;
  }

  // The open receive line as a receipt into the dock. `completing` is the
  // scan that commits it, if it belongs to the line (CONFIRM, DONE).
  static Result<Movement> receipt(const Session& s, const std::string* completing, std::int64_t time_ms) {
    std::vector<std::string> ev = s.evidence_;
    if (completing) ev.push_back(*completing);
    const Location dock = s.ctx_.dock.value_or(Location{s.options_.receiving_location});
    return make_movement(s, MovementType::receipt, {kSupplier, std::nullopt}, {dock, StockState::inbound},
                         std::move(ev), time_ms);
  }

  // An item scan: the first unit, or one more of the same item.
  // A device-side exception of the current operator/mode (and task line).
  static DeviceException exception(const Session& s, std::string kind, std::string expected, std::string scanned,
                                   std::vector<std::string> evidence, std::int64_t time_ms) {
    DeviceException e;
    e.kind = std::move(kind);
    e.operator_id = s.operator_;
    e.mode = std::string(mode_name(s.mode_));
    e.expected = std::move(expected);
    e.scanned = std::move(scanned);
    e.evidence = std::move(evidence);
    e.time_ms = time_ms;
    e.task = task_ref(s);
    e.reason = s.reason_;
    return e;
  }

  // "TASK:17/1" on a task line, else empty.
  static std::string task_ref(const Session& s) {
    if (s.ctx_.task.empty() || !s.ctx_.line) return {};
    return s.ctx_.task + "/" + std::to_string(s.ctx_.line->line);
  }

  // A refused scan that is still a fact worth recording.
  static Outcome refuse(const Session& s, std::string code, std::string message, std::string expected,
                        const std::string& text, std::int64_t time_ms) {
    Outcome o = fail(code, std::move(message));
    o.exception = exception(s, std::move(code), std::move(expected), text, {text}, time_ms);
    return o;
  }

  // How many units one item scan adds: the GS1 count (37)/(30) it carries,
  // else the catalog's pack_size for its id (recorded when > 1, see
  // pack_units_), else 1. `from_pack` says the pack size decided.
  struct Units {
    std::int64_t n = 1;
    bool from_pack = false;
  };
  static Units units_of(const Session& s, const Label& l) {
    if (l.number > 0) return {l.number, false};
    if (s.replay_pack_) return {*s.replay_pack_, *s.replay_pack_ > 1};
    if (s.master_) {
      if (const CatalogItem* c = s.master_->find_item(l.item.id()); c && c->pack_size > 1) return {c->pack_size, true};
    }
    return {};
  }

  static Outcome count_item(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    const Units u = units_of(s, l);
    if (s.qty_ + u.n > kMaxQty) return fail("invalid_qty", "Quantity cannot exceed 1000000");
    const bool first = s.qty_ == 0;
    s.item_ = l.item;
    s.qty_ += u.n;
    if (u.from_pack) s.pack_units_[s.evidence_.size()] = u.n;
    s.evidence_.push_back(text);
    Outcome o = good("item_counted", qty_text(s.qty_, *s.item_));
    if (u.n > 1) o.message += " (+" + std::to_string(u.n) + (u.from_pack ? " pack)" : " GS1 count)");
    // Not in the catalog (when one is loaded): accepted, flagged once per step.
    if (first && s.master_ && s.master_->catalog_version > 0 && s.master_->find_item(l.item.id()) == nullptr) {
      o.feedback = Feedback::warning;
      o.message = l.item.id() + " is not in the catalog; " + o.message;
      o.exception = exception(s, "unknown_item", "a catalog item", text, {text}, time_ms);
    }
    return o;
  }

  static Outcome set_qty(Session& s, const Label& l, const std::string& text) {
    if (!s.item_) return fail("no_item", "Scan the item before the quantity");
    s.qty_ = l.number;
    s.evidence_.push_back(text);
    return good("qty_set", qty_text(s.qty_, *s.item_));
  }

  static Outcome set_reason(Session& s, const Label& l, const std::string& text) {
    const auto& codes = s.options_.reason_codes;
    if (reason_checked(s) && !codes.empty() && std::find(codes.begin(), codes.end(), l.value) == codes.end())
      return fail("unknown_reason", "Reason " + l.value + " is not one of this site's reason codes");
    s.reason_ = l.value;
    s.evidence_.push_back(text);
    return good("reason_set", "Reason " + l.value);
  }

  static Outcome unexpected(const Session& s, const Label& l) {
    return fail("unexpected_label", "A " + std::string(to_string(l.kind)) + " is not expected here. " + prompt(s));
  }

  // The catalog's suggested bin for the open item, as a location code; empty
  // when there is none.
  static std::string suggested_bin(const Session& s) {
    if (!s.master_ || !s.item_) return {};
    const CatalogItem* c = s.master_->find_item(s.item_->id());
    if (!c || c->suggested_bin.empty()) return {};
    return location_code(c->suggested_bin);
  }

  // move and putaway: source → item(s) / quantity → destination.
  static Outcome step_transfer(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    if (!s.from_) {
      if (l.kind != LabelKind::location) return unexpected(s, l);
      s.from_ = l.location;
      s.evidence_.push_back(text);
      return good("source_set", "From " + l.location.code);
    }
    switch (l.kind) {
      case LabelKind::item:
        if (s.item_ && *s.item_ != l.item)
          return fail("different_item", "One item per movement: finish or cancel " + s.item_->id() + " first");
        return count_item(s, l, text, time_ms);
      case LabelKind::quantity:
        return set_qty(s, l, text);
      case LabelKind::reason:
        return set_reason(s, l, text);
      case LabelKind::location: {
        // The source kept from the previous move is replaced by another bin scanned before an item.
        if (!s.item_ && s.base_.source && s.from_ == s.base_.source) {
          s.from_ = l.location;
          s.evidence_.push_back(text);
          return good("source_set", "From " + l.location.code);
        }
        if (!s.item_) return fail("no_item", "Scan an item before the destination bin");
        if (l.location == *s.from_) return fail("same_location", "Destination is the source bin " + l.location.code);
        const bool move = s.mode_ == Mode::move;
        std::vector<std::string> ev = s.evidence_;
        ev.push_back(text);
        // A move keeps the goods' state (CMD:STATE, default available).
        const StockState from_state = move ? goods_state(s) : StockState::inbound;
        auto m = make_movement(s, move ? MovementType::move : MovementType::putaway, {*s.from_, from_state},
                               {l.location, move ? from_state : StockState::available}, ev, time_ms);
        if (!m) return fail(m.error());
        Outcome o = good("movement_recorded", std::string(move ? "Moved " : "Put away ") + qty_text(s.qty_, *s.item_) +
                                                  " from " + s.from_->code + " to " + l.location.code);
        // Put-away into another bin than the catalog suggests: allowed, flagged.
        const std::string suggested = move ? std::string() : suggested_bin(s);
        if (!suggested.empty() && suggested != l.location.code) {
          o.feedback = Feedback::warning;
          o.message += " (suggested " + suggested + ")";
          o.exception = exception(s, "not_suggested_bin", suggested, text, std::move(ev), time_ms);
        }
        o.movement = std::move(*m);
        if (move) s.ctx_.source = s.from_;  // the next item comes from the same bin
        next_step(s);
        return o;
      }
      default:
        return unexpected(s, l);
    }
  }

  // The receive task the open receipt is against: matched by its id or its
  // reference (PO:/ASN:). Null for a blind receipt.
  static const Task* receive_task(const Session& s) {
    if (!s.master_ || s.ctx_.reference.empty()) return nullptr;
    for (const Task& t : s.master_->tasks)
      if (t.type == "receive" && (t.id == s.ctx_.reference || t.reference == s.ctx_.reference)) return &t;
    return nullptr;
  }

  static std::string line_key(const TaskLine& l) { return l.gtin.empty() ? l.sku : l.gtin; }

  // After a receipt line is committed against a task: tally it and flag an
  // unexpected item or an over-receipt (warning + exception).
  static void check_receipt(Session& s, Outcome& o, const Movement& m, std::int64_t time_ms) {
    const Task* task = receive_task(s);
    if (!task) return;
    const std::int64_t total = (s.ctx_.received[m.item.id()] += m.qty);
    std::int64_t expected = 0;
    for (const TaskLine& raw : task->lines) {
      const TaskLine l = resolved(raw, s.master_.get());
      if (line_item_matches(l, m.item)) expected += l.qty;
    }
    if (expected > 0 && total <= expected) return;
    const bool unexpected_item = expected == 0;
    o.feedback = Feedback::warning;
    o.message += unexpected_item ? "; " + m.item.id() + " is not on " + task->id
                                 : "; over-receipt: " + std::to_string(total) + " of " + std::to_string(expected);
    o.exception = exception(s, unexpected_item ? "unexpected_item" : "over_receipt",
                            std::to_string(expected) + " x " + m.item.id(), std::to_string(total) + " x " + m.item.id(),
                            m.evidence, time_ms);
    o.exception->task = task->id;
  }

  // When a receipt against a task ends: lines received short (warning +
  // exception, unless the outcome already carries one).
  static void check_under_receipt(const Session& s, Outcome& o, const std::string& text, std::int64_t time_ms) {
    const Task* task = receive_task(s);
    if (!task) return;
    std::string expected, got;
    for (const TaskLine& raw : task->lines) {
      const TaskLine l = resolved(raw, s.master_.get());
      const auto it = s.ctx_.received.find(line_key(l));
      const std::int64_t n = it == s.ctx_.received.end() ? 0 : it->second;
      if (n >= l.qty) continue;
      expected += (expected.empty() ? "" : ", ") + std::to_string(l.qty) + " x " + line_item_id(l);
      got += (got.empty() ? "" : ", ") + std::to_string(n) + " x " + line_item_id(l);
    }
    if (expected.empty()) return;
    o.feedback = Feedback::warning;
    o.message += "; under-receipt: expected " + expected + ", received " + got;
    if (o.exception) return;
    o.exception = exception(s, "under_receipt", expected, got, {text}, time_ms);
    o.exception->task = task->id;
  }

  // Blind receipt, or against a receive task (PO/ASN/TASK matched in the
  // master data). A different item while a line is open commits the open
  // line (that outcome carries its movement) and starts a new line of 1.
  static Outcome step_receive(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    switch (l.kind) {
      case LabelKind::document: {
        const bool task_doc = l.document == DocumentKind::task;
        if (l.document != DocumentKind::purchase_order && l.document != DocumentKind::asn && !task_doc)
          return fail("unexpected_label", "Scan a PO, ASN or receive TASK for a receipt");
        if (s.item_) return fail("step_open", "Confirm or cancel the open line first");
        if (s.ctx_.reference != l.value) s.ctx_.received.clear();
        s.ctx_.reference = l.value;
        const Task* task = receive_task(s);
        // Replayed (restore, undo) the scan was accepted once: the master data may not be there yet.
        const bool replaying = s.replay_pack_.has_value();
        if (task_doc && !task && !replaying)
          return fail("unknown_task", "No receive task " + l.value + " on this device");
        s.evidence_.push_back(text);
        if (!task) return good("reference_set", "Receiving " + l.value);
        return good("reference_set", "Receiving " + l.value + " against " + task->id + ": " +
                                         std::to_string(task->lines.size()) + " line(s) expected");
      }
      case LabelKind::location:
        if (s.item_) return fail("step_open", "Confirm or cancel the open line first");
        s.ctx_.dock = l.location;
        s.evidence_.push_back(text);
        return good("dock_set", "Receiving into " + l.location.code);
      case LabelKind::item: {
        if (!s.item_ || *s.item_ == l.item) return count_item(s, l, text, time_ms);
        auto m = receipt(s, nullptr, time_ms);
        if (!m) return fail(m.error());
        Outcome o =
            good("movement_recorded", "Received " + qty_text(s.qty_, *s.item_) + "; now counting " + l.item.id());
        check_receipt(s, o, *m, time_ms);
        o.movement = std::move(*m);
        next_step(s);
        Outcome counted = count_item(s, l, text, time_ms);
        if (counted.exception && !o.exception) {  // the new line's item is not in the catalog
          o.feedback = Feedback::warning;
          o.exception = std::move(counted.exception);
        }
        return o;
      }
      case LabelKind::container:
        return receive_pallet(s, l, text, time_ms);
      case LabelKind::quantity:
        return set_qty(s, l, text);
      case LabelKind::reason:
        return set_reason(s, l, text);
      default:
        return unexpected(s, l);
    }
  }

  // A pallet SSCC in receive mode: every line of the receive task that
  // arrives on it (TaskLine::sscc) is received at once, one receipt each,
  // with the SSCC scan as evidence. Without such lines, a pallet label that
  // names its contents (GS1 (00) with (02) and a count (37)) is received as
  // that; anything else is refused (receive the cases one by one).
  static Outcome receive_pallet(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    if (s.item_) return fail("step_open", "Confirm or cancel the open line first");
    const bool sscc = l.value.size() == 18 && text::all_digits(l.value);  // not a TOTE:
    if (!sscc) return fail("unexpected_label", "Scan an item, a pallet SSCC, CONFIRM or DONE");
    std::vector<std::pair<Item, std::int64_t>> contents;
    const Task* task = receive_task(s);
    if (task) {
      for (const TaskLine& raw : task->lines) {
        if (raw.sscc != l.value) continue;
        const TaskLine line = resolved(raw, s.master_.get());
        contents.emplace_back(Item{line.gtin, line.gtin.empty() ? line.sku : "", line.lot, "", ""}, line.qty);
      }
    }
    if (contents.empty() && !l.item.id().empty() && l.number > 0) contents.emplace_back(l.item, l.number);
    if (contents.empty()) {
      return fail("unknown_pallet", "Pallet " + l.value + " is not on " +
                                        (task ? task->id : std::string("a receive task of this device")) +
                                        ": receive its cases one by one");
    }
    // All receipts or none: a refused scan's session is discarded (handle()).
    Outcome o = good("movement_recorded", "Received pallet " + l.value + ": " + std::to_string(contents.size()) +
                                              " line(s)");
    for (auto& [item, qty] : contents) {
      s.item_ = item;
      s.qty_ = qty;
      auto m = receipt(s, &text, time_ms);  // evidence: e.g. the ASN scan, then the SSCC
      if (!m) return fail(m.error());
      // Each line is checked; the outcome carries one exception, so the
      // lines' findings are joined into it rather than the last one winning.
      Outcome line = good("", "");
      check_receipt(s, line, *m, time_ms);
      if (line.exception) {
        o.feedback = Feedback::warning;
        o.message += line.message;
        if (!o.exception) {
          o.exception = std::move(line.exception);
        } else {
          o.exception->expected += "; " + line.exception->expected;
          o.exception->scanned += "; " + line.exception->scanned;
        }
      }
      (o.movement ? o.more_movements.emplace_back(std::move(*m)) : o.movement.emplace(std::move(*m)));
    }
    next_step(s);
    return o;
  }

  // CMD:STATE:<state>: the state the goods handled are in (move: kept on
  // both sides; damage/hold/release: the state they leave). Any time in the
  // step; it stays for the next steps of the mode. Only a state the mode's
  // movement type can take from is accepted (the transition table).
  static Outcome set_state(Session& s, const Label& l, const std::string& text) {
    const auto state = parse_stock_state(l.value);
    if (!state) return unexpected(s, l);
    const MovementType type = s.mode_ == Mode::move     ? MovementType::move
                              : s.mode_ == Mode::damage ? MovementType::damage
                              : s.mode_ == Mode::hold   ? MovementType::hold
                                                        : MovementType::release;
    const auto target = s.mode_ == Mode::damage ? std::optional(StockState::damaged)
                        : s.mode_ == Mode::hold ? std::optional(StockState::quality_hold)
                        : s.mode_ == Mode::release ? std::optional(StockState::available)
                                                   : std::nullopt;  // move: the same state
    bool allowed = false;
    for (const Transition& t : transitions(type))
      if (t.from == state && (target ? t.to == target : t.to == state)) allowed = true;
    if (!allowed)
      return fail("invalid_state", "A " + std::string(to_string(type)) + " cannot take goods in state " + l.value);
    s.ctx_.state = state;
    s.evidence_.push_back(text);
    return good("state_set", "Goods " + l.value);
  }

  static Outcome step(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    if (l.kind == LabelKind::state && takes_state(s)) return set_state(s, l, text);  // else as any other label
    if (transfer(s)) return step_transfer(s, l, text, time_ms);
    switch (s.mode_) {
      case Mode::receive:
        return step_receive(s, l, text, time_ms);
      case Mode::pick:
        return step_pick(s, l, text, time_ms);
      case Mode::damage:
      case Mode::hold:
      case Mode::release:
        return step_in_place(s, l, text, time_ms);
      case Mode::return_:
        return step_return(s, l, text, time_ms);
      case Mode::count:
        return step_count(s, l, text, time_ms);
      default:
        return fail("no_mode", "Choose a task first");
    }
  }

  // ------------------------------------------------------------- pick

  // Starts `task` at its first line (a context change of its own: the TASK
  // scan is not part of any movement's evidence).
  static Outcome start_task(Session& s, const Task& task) {
    if (task.lines.empty()) return fail("empty_task", task.id + " has no lines");
    s.ctx_ = Context{};
    s.ctx_.task = task.id;
    s.ctx_.reference = task.reference;
    s.ctx_.line_index = 0;
    s.ctx_.line = resolved(task.lines.front(), s.master_.get());
    next_step(s);
    return good("task_started", task.id + ": " + std::to_string(task.lines.size()) + " line(s)");
  }

  static const Task* next_open_pick_task(const Session& s) {
    if (!s.master_) return nullptr;
    for (const Task& t : s.master_->tasks)
      if (t.type == "pick" && !t.lines.empty() &&
          std::find(s.done_tasks_.begin(), s.done_tasks_.end(), t.id) == s.done_tasks_.end())
        return &t;
    return nullptr;
  }

  // After a task line is done: the next line, or the task is complete.
  // Returns what to tell the operator.
  static std::string advance_line(Session& s) {
    const Task* task = s.master_ ? s.master_->find_task(s.ctx_.task) : nullptr;
    const auto next = static_cast<std::size_t>(s.ctx_.line_index) + 1;
    if (task && next < task->lines.size()) {
      s.ctx_.line_index = static_cast<int>(next);
      s.ctx_.line = resolved(task->lines[next], s.master_.get());
      next_step(s);
      return "";
    }
    const std::string id = s.ctx_.task;
    constexpr std::size_t kMaxDoneTasks = 256;  // bounds the snapshot over a long shift
    if (s.done_tasks_.size() >= kMaxDoneTasks) s.done_tasks_.erase(s.done_tasks_.begin());
    s.done_tasks_.push_back(id);
    clear_all(s);
    return "; task " + id + " complete";
  }

  // Only the line itself decides (see resolved()): replays need no master data.
  static bool line_item_matches(const TaskLine& line, const Item& item) {
    if (!line.gtin.empty() && item.gtin == line.gtin) return true;
    return !line.sku.empty() && item.sku == line.sku;
  }

  static Outcome step_pick(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    const std::optional<TaskLine>& line = s.ctx_.line;
    switch (l.kind) {
      case LabelKind::document: {
        if (!s.evidence_.empty()) return fail("step_open", "Finish or cancel the open pick first");
        if (l.document == DocumentKind::task) {
          const Task* task = s.master_ ? s.master_->find_task(l.value) : nullptr;
          if (!task || task->type != "pick") return fail("unknown_task", "No pick task " + l.value + " on this device");
          return start_task(s, *task);
        }
        if (l.document != DocumentKind::order || line)
          return fail("unexpected_label", "Scan a TASK, or an order for a pick without a task");
        s.ctx_.reference = l.value;
        s.evidence_.push_back(text);
        return good("reference_set", "Picking for " + l.value);
      }
      case LabelKind::location: {
        if (s.from_) return fail("step_open", "Bin " + s.from_->code + " is set: pick the item or CANCEL");
        if (line && l.location.code != location_code(line->bin))
          return refuse(s, "wrong_bin", "Wrong bin " + l.location.code + ": go to " + location_code(line->bin),
                        location_code(line->bin), text, time_ms);
        s.from_ = l.location;
        s.evidence_.push_back(text);
        return good("source_set", "Bin " + l.location.code);
      }
      case LabelKind::item: {
        if (!s.from_) return fail("no_bin", "Scan the bin first");
        if (s.item_ && *s.item_ != l.item)
          return fail("different_item", "One item per pick: finish or cancel " + s.item_->id() + " first");
        if (line) {
          if (!line_item_matches(*line, l.item))
            return refuse(s, "wrong_item", "Wrong item " + l.item.id() + ": pick " + line_item_id(*line),
                          line_item_id(*line), text, time_ms);
          if (auto problem = lot_problem(*line, l.item, time_ms)) {
            const bool expired = *problem == "expired_lot";
            return refuse(s, *problem,
                          expired ? "Lot " + l.item.lot + " expired on " + l.item.expiry + ": do not pick it"
                                  : "Wrong lot " + l.item.lot + ": pick lot " + line->lot,
                          expired ? "expiry on or after " + iso_date(time_ms) : line->lot, text, time_ms);
          }
          if (s.qty_ + units_of(s, l).n > line->qty)
            return fail("over_pick", "The line asks for " + std::to_string(line->qty) + " only");
        } else if (!l.item.expiry.empty() && l.item.expiry < iso_date(time_ms)) {
          // Without a task line there is no lot rule, but an expired lot is still refused.
          return refuse(s, "expired_lot", "Lot " + l.item.lot + " expired on " + l.item.expiry + ": do not pick it",
                        "expiry on or after " + iso_date(time_ms), text, time_ms);
        }
        return count_item(s, l, text, time_ms);
      }
      case LabelKind::quantity:
        if (line && s.item_ && l.number > line->qty)
          return fail("over_pick", "The line asks for " + std::to_string(line->qty) + " only");
        return set_qty(s, l, text);
      case LabelKind::reason:
        return set_reason(s, l, text);
      case LabelKind::container: {
        if (!s.item_) return fail("no_item", "Pick the item before scanning the tote");
        if (line && s.qty_ < line->qty && !s.short_)
          return fail("short_pick", "Picked " + std::to_string(s.qty_) + " of " + std::to_string(line->qty) +
                                        ": pick more, or scan a REASON and CONFIRM a short pick");
        std::vector<std::string> ev = s.evidence_;
        ev.push_back(text);
        const Location tote{"TOTE:" + l.value};
        auto m = make_movement(s, MovementType::pick, {*s.from_, StockState::available}, {tote, StockState::picked},
                               ev, time_ms);
        if (!m) return fail(m.error());
        if (line) m->reference = task_ref(s);
        Outcome o = good("movement_recorded", "Picked " + qty_text(s.qty_, *s.item_) + " from " + s.from_->code +
                                                  " into " + tote.code);
        if (line && s.short_) {
          o.feedback = Feedback::warning;
          o.exception = exception(s, "short_pick", qty_text(line->qty, *s.item_), qty_text(s.qty_, *s.item_),
                                  std::move(ev), time_ms);
        }
        o.movement = std::move(*m);
        if (line)
          o.message += advance_line(s);
        else
          next_step(s);
        return o;
      }
      default:
        return unexpected(s, l);
    }
  }

  // CONFIRM in pick: a short pick (reason required). With nothing picked
  // the line closes at once without a movement.
  static Outcome confirm_pick(Session& s, const std::string& text, std::int64_t time_ms) {
    const std::optional<TaskLine>& line = s.ctx_.line;
    if (!line) {
      if (s.evidence_.empty()) return fail("nothing_to_confirm", "Nothing to confirm");
      return fail("incomplete_step", "Scan the tote to finish");
    }
    if (s.short_ || s.qty_ >= line->qty) return fail("incomplete_step", "Scan the tote to finish");
    if (s.reason_.empty()) return fail("reason_required", "Scan a REASON for the short pick, then CONFIRM");
    if (s.qty_ == 0) {
      std::vector<std::string> ev = s.evidence_;
      ev.push_back(text);
      Outcome o = good("line_short", "Nothing picked on line " + std::to_string(line->line) + " (" + s.reason_ + ")");
      o.feedback = Feedback::warning;
      o.exception = exception(s, "short_pick", std::to_string(line->qty) + " x " + line_item_id(*line),
                              "0 x " + line_item_id(*line), std::move(ev), time_ms);
      o.message += advance_line(s);
      return o;
    }
    s.short_ = true;
    s.evidence_.push_back(text);
    Outcome o = good("short_confirmed", "Short pick " + std::to_string(s.qty_) + " of " + std::to_string(line->qty) +
                                            " (" + s.reason_ + "): scan the tote");
    o.feedback = Feedback::warning;
    return o;
  }

  // ------------------------------------------------- damage / hold / release

  static Outcome step_in_place(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    switch (l.kind) {
      case LabelKind::location:
        if (s.from_) return fail("step_open", "Bin " + s.from_->code + " is set: scan the item or CANCEL");
        s.from_ = l.location;
        s.evidence_.push_back(text);
        return good("source_set", "Bin " + l.location.code);
      case LabelKind::item:
        if (!s.from_) return fail("no_bin", "Scan the bin first");
        if (s.item_ && *s.item_ != l.item)
          return fail("different_item", "One item per movement: finish or cancel " + s.item_->id() + " first");
        return count_item(s, l, text, time_ms);
      case LabelKind::quantity:
        return set_qty(s, l, text);
      case LabelKind::reason:
        return set_reason(s, l, text);
      default:
        return unexpected(s, l);
    }
  }

  static Outcome confirm_in_place(Session& s, const std::string& text, std::int64_t time_ms) {
    if (!s.item_) return fail(s.evidence_.empty() ? "nothing_to_confirm" : "no_item", "Scan the bin and the item");
    if (reason_required(s) && s.reason_.empty()) return fail("reason_required", "Scan a REASON first");
    const StockState from = goods_state(s);
    StockState to = StockState::damaged;
    const char* verb = "Damaged ";
    if (s.mode_ == Mode::hold) {
      to = StockState::quality_hold;
      verb = "On hold: ";
    } else if (s.mode_ == Mode::release) {
      to = StockState::available;
      verb = "Released ";
    }
    const MovementType type = s.mode_ == Mode::damage ? MovementType::damage
                              : s.mode_ == Mode::hold ? MovementType::hold
                                                      : MovementType::release;
    std::vector<std::string> ev = s.evidence_;
    ev.push_back(text);
    auto m = make_movement(s, type, {*s.from_, from}, {*s.from_, to}, std::move(ev), time_ms);
    if (!m) return fail(m.error());
    Outcome o = good("movement_recorded", verb + qty_text(s.qty_, *s.item_) + " in " + s.from_->code);
    o.movement = std::move(*m);
    next_step(s);
    return o;
  }

  // ------------------------------------------------------------- return

  static Outcome step_return(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    switch (l.kind) {
      case LabelKind::document:
        if (l.document != DocumentKind::order) return fail("unexpected_label", "Scan the order (ORD:) returned");
        if (s.item_) return fail("step_open", "Scan the order before the items");
        s.ctx_.reference = l.value;
        s.evidence_.push_back(text);
        return good("reference_set", "Return of " + l.value);
      case LabelKind::item:
        if (s.item_ && *s.item_ != l.item)
          return fail("different_item", "One item per return line: finish or cancel " + s.item_->id() + " first");
        return count_item(s, l, text, time_ms);
      case LabelKind::quantity:
        return set_qty(s, l, text);
      case LabelKind::reason:
        return set_reason(s, l, text);
      case LabelKind::location: {
        if (!s.item_) return fail("no_item", "Scan the returned item first");
        if (s.reason_.empty()) return fail("reason_required", "Scan a REASON for the return first");
        std::vector<std::string> ev = s.evidence_;
        ev.push_back(text);
        auto m = make_movement(s, MovementType::return_, {kCustomer, std::nullopt}, {l.location, StockState::returned},
                               std::move(ev), time_ms);
        if (!m) return fail(m.error());
        Outcome o = good("movement_recorded", "Returned " + qty_text(s.qty_, *s.item_) + " to " + l.location.code);
        o.movement = std::move(*m);
        clear_all(s);
        return o;
      }
      default:
        return unexpected(s, l);
    }
  }

  // -------------------------------------------------------------- count

  static Outcome step_count(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    switch (l.kind) {
      case LabelKind::location:
        if (s.item_) return fail("step_open", "CONFIRM or CANCEL the count of " + s.item_->id() + " first");
        s.ctx_.bin = l.location;
        s.evidence_.push_back(text);
        return good("bin_set", "Counting " + l.location.code);
      case LabelKind::item:
        if (!s.ctx_.bin) return fail("no_bin", "Scan the bin first");
        if (s.item_ && *s.item_ != l.item)
          return fail("different_item", "CONFIRM the count of " + s.item_->id() + " first");
        return count_item(s, l, text, time_ms);
      case LabelKind::quantity:
        return set_qty(s, l, text);
      case LabelKind::reason:
        return set_reason(s, l, text);
      default:
        return unexpected(s, l);
    }
  }

  // CONFIRM in count: the open item's count, or an empty bin when the bin
  // was scanned in this step and no item since.
  static Outcome confirm_count(Session& s, const std::string& text, std::int64_t time_ms) {
    if (!s.ctx_.bin) return fail("nothing_to_confirm", "Scan the bin to count");
    const bool empty = !s.item_;
    if (empty && s.base_.bin == s.ctx_.bin)
      return fail("nothing_to_confirm", "Scan the next item, or DONE to finish " + s.ctx_.bin->code);
    Session t = s;
    if (empty) t.item_ = Item{"", kEmptySku, "", "", ""};
    std::vector<std::string> ev = s.evidence_;
    ev.push_back(text);
    const Endpoint at{*s.ctx_.bin, StockState::available};
    auto m = make_movement(t, MovementType::count, at, at, std::move(ev), time_ms);
    if (!m) return fail(m.error());
    Outcome o = good("movement_recorded", empty ? "Counted " + s.ctx_.bin->code + " empty"
                                                : "Counted " + qty_text(s.qty_, *s.item_) + " in " + s.ctx_.bin->code);
    o.movement = std::move(*m);
    next_step(s);
    return o;
  }

  static Outcome sign_in(Session& s, const std::string& id) {
    if (s.operator_ == id) {
      s.pin_pending_.clear();  // already signed in (with a PIN when required)
      return good("signed_in", "Signed in as " + id);
    }
    if (!s.operator_.empty() && step_open(s))
      return fail("step_open", "Finish or cancel the open step before switching operator");
    if (s.options_.require_pin) {
      if (s.options_.pins.find(id) == s.options_.pins.end())
        return fail("no_pin", "No PIN is set up for " + id + ": ask a supervisor");
      // The current operator (if any) stays until the PIN is right; nothing
      // but the PIN, a badge or CANCEL is taken meanwhile.
      s.pin_pending_ = id;
      return good("pin_required", "Badge " + id + ": scan your PIN");
    }
    s.operator_ = id;
    s.last_.reset();
    return good("signed_in", "Signed in as " + id);
  }

  // PIN:<digits> after a badge. Never echoes the digits.
  static Outcome check_pin(Session& s, const Label& l) {
    if (s.pin_pending_.empty()) return fail("unexpected_label", "No PIN is expected now. " + prompt(s));
    const auto it = s.options_.pins.find(s.pin_pending_);
    if (it == s.options_.pins.end() || it->second != l.value)
      return fail("wrong_pin", "Wrong PIN for " + s.pin_pending_ + ": scan it again or another badge");
    const std::string id = std::exchange(s.pin_pending_, std::string());
    if (s.operator_ != id) s.last_.reset();
    s.operator_ = id;
    return good("signed_in", "Signed in as " + id);
  }

  static Outcome command(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    const std::string& verb = l.value;
    if (verb == "LOGOUT") {
      if (step_open(s)) return fail("step_open", "Finish or cancel the open step before signing out");
      const std::string who = s.operator_;
      s.operator_.clear();
      s.mode_ = Mode::idle;
      s.last_.reset();
      clear_all(s);
      return good("signed_out", "Signed out " + who);
    }
    if (auto mode = mode_of_verb(verb)) {
      if (step_open(s)) return fail("step_open", "Finish or cancel the open step first");
      s.mode_ = *mode;
      clear_all(s);
      Outcome o = good("mode_changed", "Mode " + std::string(mode_name(*mode)));
      if (*mode == Mode::pick) {
        if (const Task* task = next_open_pick_task(s)) o.message += "; " + start_task(s, *task).message;
      }
      return o;
    }
    if (verb == "UNDO") {
      if (s.evidence_.empty()) return fail("nothing_to_undo", "Nothing to take back");
      const std::string last = s.evidence_.back();
      s.evidence_.pop_back();
      s.pack_units_.erase(s.evidence_.size());
      s.catalog_skus_.erase(s.evidence_.size());
      if (!replay(s)) return fail("undo_failed", "Cannot take back " + text::quote(last));
      return good("undone", "Took back " + text::quote(last));
    }
    if (verb == "CANCEL") {
      if (!s.evidence_.empty()) {
        reset_to_base(s);
        return good("step_cancelled", "Step cancelled");
      }
      if (s.ctx_ != Context{}) {
        Outcome o = good("step_cancelled", s.mode_ == Mode::receive ? "Receipt closed" : "Closed");
        // A receipt closed by CANCEL has ended as much as by DONE: lines short are flagged.
        if (s.mode_ == Mode::receive) check_under_receipt(s, o, text, time_ms);
        clear_all(s);
        return o;
      }
      return fail("nothing_to_cancel", "Nothing to cancel");
    }
    if (verb == "CORRECT") return correct(s, text, time_ms);
    if (verb == "CONFIRM") {
      if (s.mode_ == Mode::receive && s.item_) return commit_line(s, text, time_ms, false);
      if (s.mode_ == Mode::pick) return confirm_pick(s, text, time_ms);
      if (in_place(s)) return confirm_in_place(s, text, time_ms);
      if (s.mode_ == Mode::count) return confirm_count(s, text, time_ms);
      if (s.mode_ == Mode::return_ && !s.evidence_.empty())
        return fail("incomplete_step", "Scan the returns location to finish");
      if (transfer(s) && !s.evidence_.empty()) return fail("incomplete_step", "Scan the destination bin to finish");
      return fail("nothing_to_confirm", "Nothing to confirm");
    }
    if (verb == "DONE") {
      if (s.mode_ == Mode::receive) {
        if (s.item_) return commit_line(s, text, time_ms, true);
        if (step_open(s)) {
          Outcome o = good("receipt_done", "Receipt finished");
          check_under_receipt(s, o, text, time_ms);
          clear_all(s);
          return o;
        }
      }
      if ((s.mode_ == Mode::pick || s.mode_ == Mode::count) && s.evidence_.empty() && s.ctx_ != Context{}) {
        const std::string what = s.mode_ == Mode::count ? "Bin counted"
                                 : s.ctx_.task.empty() ? "Order closed"
                                                       : "Task " + s.ctx_.task + " left open";
        clear_all(s);
        return good(s.mode_ == Mode::pick ? "task_closed" : "bin_done", what);
      }
      if (s.mode_ == Mode::idle) return fail("nothing_to_finish", "Nothing to finish");
      if (step_open(s)) return fail("incomplete_step", "Finish or cancel the open step first");
      s.mode_ = Mode::idle;
      clear_all(s);
      return good("mode_ended", "Task finished");
    }
    return fail("mode_not_supported", verb + " is not supported yet");
  }

  // CMD:CORRECT: a compensating movement for the last movement recorded
  // since sign-in (last_): the same type, item, quantity and reference, from
  // and to swapped, reason CORRECTION (validate() accepts a row backwards
  // with that reason). The session journals no other movements, so the
  // original is always the device's movement just before (seq - 1). A
  // second CORRECT reverses the correction. A count is an observation:
  // count again instead.
  static Outcome correct(Session& s, const std::string& text, std::int64_t time_ms) {
    if (!s.evidence_.empty()) return fail("step_open", "Finish or cancel the open step before a correction");
    if (!s.last_) return fail("nothing_to_correct", "No movement of yours to correct since you signed in");
    if (s.last_->type == MovementType::count)
      return fail("not_correctable", "A count is not reversed: count the bin again");
    // A task pick advanced its task line; reversing only the stock would leave
    // the task saying it was picked.
    if (s.last_->type == MovementType::pick && s.last_->reference.rfind("TASK:", 0) == 0)
      return fail("not_correctable", "A task pick is not reversed here: move the goods back to the bin (MOVE)");
    Movement m = *s.last_;
    m.seq = 0;
    m.hlc = 0;
    m.operator_id = s.operator_;
    std::swap(m.from, m.to);
    m.reason = std::string(kCorrectionReason);
    m.evidence = {text};
    m.wall_time_ms = time_ms;
    if (auto ok = validate(m); !ok) return fail(ok.error());
    // A receipt line of the open receipt against a task is taken off (or back onto) its tally.
    if (s.mode_ == Mode::receive && m.type == MovementType::receipt && m.reference == s.ctx_.reference &&
        receive_task(s)) {
      const std::int64_t n = (s.ctx_.received[m.item.id()] += m.from.location == kSupplier ? m.qty : -m.qty);
      if (n <= 0) s.ctx_.received.erase(m.item.id());
      next_step(s);
    }
    Outcome o = good("correction_recorded", "Corrected: " + std::string(to_string(m.type)) + " " +
                                                qty_text(m.qty, m.item) + " back from " + m.from.location.code +
                                                " to " + m.to.location.code);
    o.movement = std::move(m);
    return o;
  }

  // CONFIRM / DONE on an open receive line. DONE also ends the receipt.
  static Outcome commit_line(Session& s, const std::string& text, std::int64_t time_ms, bool end_receipt) {
    auto m = receipt(s, &text, time_ms);
    if (!m) return fail(m.error());
    Outcome o =
        good("movement_recorded", "Received " + qty_text(s.qty_, *s.item_) + (end_receipt ? "; receipt finished" : ""));
    check_receipt(s, o, *m, time_ms);
    if (end_receipt) check_under_receipt(s, o, text, time_ms);
    o.movement = std::move(*m);
    if (end_receipt)
      clear_all(s);
    else
      next_step(s);
    return o;
  }

  static Outcome handle(Session& s, const Scan& scan) {
    const std::int64_t timeout = s.options_.idle_timeout_ms;
    if (timeout <= 0 || s.operator_.empty() || s.last_scan_ms_ == 0 || scan.time_ms - s.last_scan_ms_ <= timeout)
      return handle_signed(s, scan);
    // Idle too long: sign out first (the open step is dropped), then handle
    // the scan as a signed-out session would. Refused, this changes nothing,
    // so the next scan is past the timeout as well and says the same.
    const std::string note = "Signed out " + s.operator_ + " after " + std::to_string(timeout / 1000) + " s idle";
    s.operator_.clear();
    s.pin_pending_.clear();
    s.mode_ = Mode::idle;
    s.last_.reset();
    clear_all(s);  // done_tasks_ stays: a finished task is a device fact, not part of a sign-in
    auto label = label_of(s, scan.text);
    if (!label || label->kind != LabelKind::operator_badge) return fail("idle_timeout", note + ": scan your badge");
    Outcome o = handle_signed(s, scan);
    o.message = note + "; " + o.message;
    return o;
  }

  static Outcome handle_signed(Session& s, const Scan& scan) {
    std::optional<std::string> catalog_gtin;
    auto label = label_of(s, scan.text, &catalog_gtin);
    if (label && label->kind == LabelKind::operator_badge) return sign_in(s, label->value);
    if (label && label->kind == LabelKind::pin) return check_pin(s, *label);
    if (!s.pin_pending_.empty()) {
      if (!label) return fail(label.error());  // a bad PIN label's error never quotes it
      if (label->kind == LabelKind::command && (label->value == "CANCEL" || label->value == "LOGOUT")) {
        const std::string who = std::exchange(s.pin_pending_, std::string());
        if (label->value == "LOGOUT" && !s.operator_.empty()) return command(s, *label, scan.text, scan.time_ms);
        return good("pin_cancelled", "Sign-in of " + who + " cancelled");
      }
      return fail("pin_required", "Scan the PIN of " + s.pin_pending_ + " first");
    }
    if (s.operator_.empty()) return fail("no_operator", "Sign in first");
    if (!label) return fail(label.error());
    if (label->kind == LabelKind::command) return command(s, *label, scan.text, scan.time_ms);
    Outcome o = step(s, *label, scan.text, scan.time_ms);
    if (o.accepted()) note_catalog_sku(s, scan.text, catalog_gtin);
    return o;
  }

  // reference and dock always; the newer fields only when set, so a
  // snapshot written before they existed restores unchanged.
  static nlohmann::json context_json(const Context& c) {
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

  static Context parse_context(const nlohmann::json& j) {
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

  // Which context fields a mode may carry between steps.
  static bool context_fits(Mode m, Context c) {
    if (c.source && m != Mode::move) return false;
    if (c.state && m != Mode::move && m != Mode::damage && m != Mode::hold && m != Mode::release) return false;
    c.source.reset();
    c.state.reset();
    if (c == Context{}) return true;
    switch (m) {
      case Mode::receive:
        return !c.bin && c.task.empty() && c.line_index == 0 && !c.line;
      case Mode::pick:
        return !c.dock && !c.bin && (c.task.empty() == !c.line) && (c.line || c.line_index == 0) && c.received.empty();
      case Mode::count:
        return c.reference.empty() && !c.dock && c.bin && c.task.empty() && c.line_index == 0 && !c.line &&
               c.received.empty();
      default:
        return false;
    }
  }

  // A code a bin or LOC: scan produces.
  static bool scannable_place(const Location& at) {
    auto l = Location::parse("LOC:" + at.code);
    if (l && *l == at) return true;
    auto b = Location::parse(at.code);
    return b && *b == at && !at.external();
  }

  static bool context_ok(const Session& s, const Context& c) {
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
};

std::string_view to_string(Feedback f) {
  switch (f) {
    case Feedback::good:
      return "good";
    case Feedback::warning:
      return "warning";
    case Feedback::error:
      return "error";
  }
  return "error";
}

Session::Session(SessionOptions options) : options_(std::move(options)) {}

Outcome Session::handle(const Scan& scan) {
  Session next = *this;
  Outcome o = Impl::handle(next, scan);
  if (o.accepted()) {
    if (options_.idle_timeout_ms > 0) next.last_scan_ms_ = scan.time_ms;
    // What CMD:CORRECT reverses. A pallet (several movements of one scan) is
    // not reversed by one CORRECT: that would take back one line of it.
    if (o.movement) next.last_ = o.more_movements.empty() ? o.movement : std::nullopt;
    *this = std::move(next);
  }
  // Refused for idle timeout: the session is unchanged (still signed in on
  // paper), but what the operator must do next is sign in.
  o.prompt = o.code == "idle_timeout" ? "Scan your badge" : prompt();
  return o;
}

const std::string& Session::operator_id() const { return operator_; }

std::string Session::mode() const { return std::string(Impl::mode_name(mode_)); }

std::string Session::prompt() const { return Impl::prompt(*this); }

void Session::set_master_data(std::shared_ptr<const MasterData> data) { master_ = std::move(data); }

nlohmann::json Session::snapshot() const {
  nlohmann::json state = Impl::context_json(ctx_);
  state["from"] = opt_location_json(from_);
  state["item"] = item_ ? item_json(*item_) : nlohmann::json(nullptr);
  state["qty"] = qty_;
  state["reason"] = reason_;
  if (short_) state["short"] = true;
  nlohmann::json j = {{"v", 1},
                      {"operator", operator_},
                      {"mode", std::string(Impl::mode_name(mode_))},
                      {"base", Impl::context_json(base_)},
                      {"evidence", evidence_},
                      {"state", std::move(state)}};
  if (!done_tasks_.empty()) j["done_tasks"] = done_tasks_;
  if (last_scan_ms_ != 0) j["last_scan_ms"] = last_scan_ms_;
  if (!pin_pending_.empty()) j["pin_pending"] = pin_pending_;
  if (!pack_units_.empty()) j["pack_units"] = pack_units_;  // [[evidence index, units], …]
  if (!catalog_skus_.empty()) j["catalog_skus"] = catalog_skus_;  // [[evidence index, catalog gtin or ""], …]
  if (last_) j["last"] = last_json(*last_);
  return j;
}

Result<Session> Session::restore(SessionOptions options, const nlohmann::json& snapshot) {
  auto bad = [](const std::string& why) { return make_error("bad_snapshot", why); };
  try {
    if (!snapshot.is_object()) return bad("snapshot is not a JSON object");
    const auto& v = snapshot.at("v");
    if (!v.is_number_integer() || v.get<std::int64_t>() != 1) return bad("unsupported snapshot version");
    Session s(std::move(options));
    s.operator_ = snapshot.at("operator").get<std::string>();
    if (!s.operator_.empty() && !text::is_code(s.operator_)) return bad("bad operator id");
    auto mode = Impl::parse_mode(snapshot.at("mode").get<std::string>());
    if (!mode) return bad("unknown mode");
    s.mode_ = *mode;
    s.base_ = Impl::parse_context(snapshot.at("base"));
    s.evidence_ = snapshot.at("evidence").get<std::vector<std::string>>();
    if (s.operator_.empty() && s.mode_ != Mode::idle) return bad("a mode without an operator");
    if (snapshot.contains("done_tasks")) s.done_tasks_ = snapshot.at("done_tasks").get<std::vector<std::string>>();
    if (snapshot.contains("last_scan_ms")) s.last_scan_ms_ = snapshot.at("last_scan_ms").get<std::int64_t>();
    if (snapshot.contains("pin_pending")) {
      s.pin_pending_ = snapshot.at("pin_pending").get<std::string>();
      if (!text::is_code(s.pin_pending_)) return bad("bad pending operator id");
    }
    if (snapshot.contains("pack_units")) {
      s.pack_units_ = snapshot.at("pack_units").get<std::map<std::size_t, std::int64_t>>();
      for (const auto& [index, units] : s.pack_units_)
        if (index >= s.evidence_.size() || units < 2 || units > kMaxQty) return bad("bad pack_units");
    }
    if (snapshot.contains("catalog_skus")) {
      s.catalog_skus_ = snapshot.at("catalog_skus").get<std::map<std::size_t, std::string>>();
      for (const auto& [index, gtin] : s.catalog_skus_)
        if (index >= s.evidence_.size() || !(gtin.empty() || (gtin.size() == 14 && text::all_digits(gtin))))
          return bad("bad catalog_skus");
    }
    if (snapshot.contains("last")) {
      if (s.operator_.empty()) return bad("a last movement without an operator");
      s.last_ = parse_last(snapshot.at("last"), s.options_, s.operator_);
      if (auto ok = validate(*s.last_); !ok || s.last_->evidence.empty()) return bad("bad last movement");
    }
    if (!Impl::context_fits(s.mode_, s.base_)) return bad("context does not fit the mode");
    if (!Impl::context_ok(s, s.base_)) return bad("bad context");
    if (!Impl::replay(s)) return bad("the evidence does not replay");
    if (s.snapshot() != snapshot) return bad("the state does not match the evidence");
    return s;
  } catch (const std::exception& e) {
    return bad(std::string("malformed snapshot: ") + text::quote(e.what()));
  }
}

}  // namespace tally::scanner
