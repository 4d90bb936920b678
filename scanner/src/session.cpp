// The scan workflow state machine. See docs/DOMAIN.md for the workflows and
// their prompts.
//
// Shape: handle() works on a copy of the session and only keeps the copy when
// the outcome is not an error, so a refused scan never changes anything. The
// open step is kept as its effective scans (`evidence_`) on top of a base
// context (`base_`); undo drops the last scan and replays the rest, and
// restore() replays a snapshot's evidence to rebuild (and check) the state.
#include "tally/scanner/session.hpp"

#include <exception>
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

}  // namespace

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
    }
    return "idle";
  }

  static std::optional<Mode> parse_mode(std::string_view s) {
    for (Mode m : {Mode::idle, Mode::move, Mode::putaway, Mode::receive})
      if (mode_name(m) == s) return m;
    return std::nullopt;
  }

  static std::optional<Mode> mode_of_verb(std::string_view verb) {
    if (verb == "MOVE") return Mode::move;
    if (verb == "PUTAWAY") return Mode::putaway;
    if (verb == "RECEIVE") return Mode::receive;
    return std::nullopt;
  }

  static bool transfer(const Session& s) { return s.mode_ == Mode::move || s.mode_ == Mode::putaway; }

  // A step holds scans, or a receipt is open (document or dock scanned).
  static bool step_open(const Session& s) { return !s.evidence_.empty() || s.ctx_ != Context{}; }

  static std::string prompt(const Session& s) {
    if (s.operator_.empty()) return "Scan your badge";
    switch (s.mode_) {
      case Mode::idle:
        return "Scan MOVE, RECEIVE or PUTAWAY to start";
      case Mode::move:
      case Mode::putaway:
        if (!s.from_) return s.mode_ == Mode::move ? "Scan source bin" : "Scan source location";
        if (s.qty_ == 0) return "Scan item";
        return "Scan item, quantity or destination bin";
      case Mode::receive:
        if (s.item_) return "Scan item, quantity or CONFIRM";
        return "Scan item, document or dock";
    }
    return "Scan your badge";
  }

  // Clears the open step back to its base context.
  static void reset_to_base(Session& s) {
    s.evidence_.clear();
    s.ctx_ = s.base_;
    s.from_.reset();
    s.item_.reset();
    s.qty_ = 0;
    s.reason_.clear();
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

  // Rebuilds the derived state from base_ + evidence_. False if the
  // evidence does not replay cleanly (corrupt snapshot).
  static bool replay(Session& s) {
    std::vector<std::string> scans = std::move(s.evidence_);
    reset_to_base(s);
    if (s.mode_ == Mode::idle || s.operator_.empty()) return scans.empty();
    for (const std::string& t : scans) {
      auto label = classify(t);
      if (!label || label->kind == LabelKind::operator_badge || label->kind == LabelKind::command) return false;
      Outcome o = step(s, *label, t, 0);
      if (!o.accepted() || o.movement) return false;
    }
    return true;
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
  static Outcome count_item(Session& s, const Label& l, const std::string& text) {
    if (s.qty_ >= kMaxQty) return fail("invalid_qty", "Quantity cannot exceed 1000000");
    s.item_ = l.item;
    ++s.qty_;
    s.evidence_.push_back(text);
    return good("item_counted", qty_text(s.qty_, *s.item_));
  }

  static Outcome set_qty(Session& s, const Label& l, const std::string& text) {
    if (!s.item_) return fail("no_item", "Scan the item before the quantity");
    s.qty_ = l.number;
    s.evidence_.push_back(text);
    return good("qty_set", qty_text(s.qty_, *s.item_));
  }

  static Outcome set_reason(Session& s, const Label& l, const std::string& text) {
    s.reason_ = l.value;
    s.evidence_.push_back(text);
    return good("reason_set", "Reason " + l.value);
  }

  static Outcome unexpected(const Session& s, const Label& l) {
    return fail("unexpected_label", "A " + std::string(to_string(l.kind)) + " is not expected here. " + prompt(s));
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
        return count_item(s, l, text);
      case LabelKind::quantity:
        return set_qty(s, l, text);
      case LabelKind::reason:
        return set_reason(s, l, text);
      case LabelKind::location: {
        if (!s.item_) return fail("no_item", "Scan an item before the destination bin");
        if (l.location == *s.from_) return fail("same_location", "Destination is the source bin " + l.location.code);
        const bool move = s.mode_ == Mode::move;
        std::vector<std::string> ev = s.evidence_;
        ev.push_back(text);
        auto m = make_movement(s, move ? MovementType::move : MovementType::putaway,
                               {*s.from_, move ? StockState::available : StockState::inbound},
                               {l.location, StockState::available}, std::move(ev), time_ms);
        if (!m) return fail(m.error());
        Outcome o = good("movement_recorded", std::string(move ? "Moved " : "Put away ") + qty_text(s.qty_, *s.item_) +
                                                  " from " + s.from_->code + " to " + l.location.code);
        o.movement = std::move(*m);
        next_step(s);
        return o;
      }
      default:
        return unexpected(s, l);
    }
  }

  // Blind receipt. A different item while a line is open commits the open
  // line (that outcome carries its movement) and starts a new line of 1.
  static Outcome step_receive(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    switch (l.kind) {
      case LabelKind::document:
        if (!text::starts_with_ci(l.value, "PO:") && !text::starts_with_ci(l.value, "ASN:"))
          return fail("unexpected_label", "Scan a PO or ASN document for a receipt");
        if (s.item_) return fail("step_open", "Confirm or cancel the open line first");
        s.ctx_.reference = l.value;
        s.evidence_.push_back(text);
        return good("reference_set", "Receiving " + l.value);
      case LabelKind::location:
        if (s.item_) return fail("step_open", "Confirm or cancel the open line first");
        s.ctx_.dock = l.location;
        s.evidence_.push_back(text);
        return good("dock_set", "Receiving into " + l.location.code);
      case LabelKind::item: {
        if (!s.item_ || *s.item_ == l.item) return count_item(s, l, text);
        auto m = receipt(s, nullptr, time_ms);
        if (!m) return fail(m.error());
        Outcome o =
            good("movement_recorded", "Received " + qty_text(s.qty_, *s.item_) + "; now counting " + l.item.id());
        o.movement = std::move(*m);
        next_step(s);
        (void)count_item(s, l, text);
        return o;
      }
      case LabelKind::quantity:
        return set_qty(s, l, text);
      case LabelKind::reason:
        return set_reason(s, l, text);
      default:
        return unexpected(s, l);
    }
  }

  static Outcome step(Session& s, const Label& l, const std::string& text, std::int64_t time_ms) {
    if (transfer(s)) return step_transfer(s, l, text, time_ms);
    if (s.mode_ == Mode::receive) return step_receive(s, l, text, time_ms);
    return fail("no_mode", "Choose a task first");
  }

  static Outcome sign_in(Session& s, const std::string& id) {
    if (s.operator_ == id) return good("signed_in", "Signed in as " + id);
    if (!s.operator_.empty() && step_open(s))
      return fail("step_open", "Finish or cancel the open step before switching operator");
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
      clear_all(s);
      return good("signed_out", "Signed out " + who);
    }
    if (auto mode = mode_of_verb(verb)) {
      if (step_open(s)) return fail("step_open", "Finish or cancel the open step first");
      s.mode_ = *mode;
      clear_all(s);
      return good("mode_changed", "Mode " + std::string(mode_name(*mode)));
    }
    if (verb == "UNDO") {
      if (s.evidence_.empty()) return fail("nothing_to_undo", "Nothing to take back");
      const std::string last = s.evidence_.back();
      s.evidence_.pop_back();
      if (!replay(s)) return fail("undo_failed", "Cannot take back " + text::quote(last));
      return good("undone", "Took back " + text::quote(last));
    }
    if (verb == "CANCEL") {
      if (!s.evidence_.empty()) {
        reset_to_base(s);
        return good("step_cancelled", "Step cancelled");
      }
      if (s.ctx_ != Context{}) {
        clear_all(s);
        return good("step_cancelled", "Receipt closed");
      }
      return fail("nothing_to_cancel", "Nothing to cancel");
    }
    if (verb == "CONFIRM") {
      if (s.mode_ == Mode::receive && s.item_) return commit_line(s, text, time_ms, false);
      if (transfer(s) && !s.evidence_.empty()) return fail("incomplete_step", "Scan the destination bin to finish");
      return fail("nothing_to_confirm", "Nothing to confirm");
    }
    if (verb == "DONE") {
      if (s.mode_ == Mode::receive) {
        if (s.item_) return commit_line(s, text, time_ms, true);
        if (step_open(s)) {
          clear_all(s);
          return good("receipt_done", "Receipt finished");
        }
      }
      if (s.mode_ == Mode::idle) return fail("nothing_to_finish", "Nothing to finish");
      if (step_open(s)) return fail("incomplete_step", "Finish or cancel the open step first");
      s.mode_ = Mode::idle;
      clear_all(s);
      return good("mode_ended", "Task finished");
    }
    return fail("mode_not_supported", verb + " is not supported yet");
  }

  // CONFIRM / DONE on an open receive line. DONE also ends the receipt.
  static Outcome commit_line(Session& s, const std::string& text, std::int64_t time_ms, bool end_receipt) {
    auto m = receipt(s, &text, time_ms);
    if (!m) return fail(m.error());
    Outcome o =
        good("movement_recorded", "Received " + qty_text(s.qty_, *s.item_) + (end_receipt ? "; receipt finished" : ""));
    o.movement = std::move(*m);
    if (end_receipt)
      clear_all(s);
    else
      next_step(s);
    return o;
  }

  static Outcome handle(Session& s, const Scan& scan) {
    auto label = classify(scan.text);
    if (label && label->kind == LabelKind::operator_badge) return sign_in(s, label->value);
    if (s.operator_.empty()) return fail("no_operator", "Sign in first");
    if (!label) return fail(label.error());
    if (label->kind == LabelKind::command) return command(s, *label, scan.text, scan.time_ms);
    return step(s, *label, scan.text, scan.time_ms);
  }

  static nlohmann::json context_json(const Context& c) {
    return {{"reference", c.reference}, {"dock", opt_location_json(c.dock)}};
  }

  static Context parse_context(const nlohmann::json& j) {
    Context c;
    c.reference = j.at("reference").get<std::string>();
    const auto& dock = j.at("dock");
    if (!dock.is_null()) c.dock = Location{dock.get<std::string>()};
    return c;
  }

  static bool context_ok(const Context& c) {
    if (!c.reference.empty()) {
      auto l = classify(c.reference);
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
  if (o.accepted()) *this = std::move(next);
  o.prompt = prompt();
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
  return {{"v", 1},
          {"operator", operator_},
          {"mode", std::string(Impl::mode_name(mode_))},
          {"base", Impl::context_json(base_)},
          {"evidence", evidence_},
          {"state", std::move(state)}};
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
    if (s.mode_ != Mode::receive && s.base_ != Context{}) return bad("receipt context outside receive");
    if (!Impl::context_ok(s.base_)) return bad("bad receipt context");
    if (!Impl::replay(s)) return bad("the evidence does not replay");
    if (s.snapshot() != snapshot) return bad("the state does not match the evidence");
    return s;
  } catch (const std::exception& e) {
    return bad(std::string("malformed snapshot: ") + text::quote(e.what()));
  }
}

}  // namespace tally::scanner
