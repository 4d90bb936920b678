// The session core: sign-in (badge, PIN, idle timeout), the commands every
// mode shares, and the copy-then-keep rule of handle(). Each mode's own
// rules are in its workflow file (workflow.hpp has the table); snapshot and
// restore in snapshot.cpp.
//
// Shape: handle() works on a copy of the state and only keeps the copy when
// the outcome is not an error, so a refused scan never changes anything. The
// open step is kept as its effective scans (`evidence`) on top of a base
// context (`base`); undo drops the last scan and replays the rest, and
// restore() replays a snapshot's evidence to rebuild (and check) the state.
#include "session/core.hpp"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "session/steps.hpp"
#include "text.hpp"

namespace tally::scanner::workflow {

namespace {

Outcome sign_in(State& s, const std::string& id) {
  if (s.operator_id == id) {
    s.pin_pending.clear();  // already signed in (with a PIN when required)
    return good("signed_in", "Signed in as " + id);
  }
  if (!s.operator_id.empty() && step_open(s))
    return fail("step_open", "Finish or cancel the open step before switching operator");
  if (s.options.require_pin) {
    if (s.options.pins.find(id) == s.options.pins.end())
      return fail("no_pin", "No PIN is set up for " + id + ": ask a supervisor");
    // The current operator (if any) stays until the PIN is right; nothing
    // but the PIN, a badge or CANCEL is taken meanwhile.
    s.pin_pending = id;
    return good("pin_required", "Badge " + id + ": scan your PIN");
  }
  s.operator_id = id;
  s.last.reset();
  return good("signed_in", "Signed in as " + id);
}

// PIN:<digits> after a badge. Never echoes the digits.
Outcome check_pin(State& s, const Label& l) {
  if (s.pin_pending.empty()) return fail("unexpected_label", "No PIN is expected now. " + prompt(s));
  const auto it = s.options.pins.find(s.pin_pending);
  if (it == s.options.pins.end() || it->second != l.value)
    return fail("wrong_pin", "Wrong PIN for " + s.pin_pending + ": scan it again or another badge");
  const std::string id = std::exchange(s.pin_pending, std::string());
  if (s.operator_id != id) s.last.reset();
  s.operator_id = id;
  return good("signed_in", "Signed in as " + id);
}

// CMD:CORRECT: a compensating movement for the last movement recorded
// since sign-in (last): the same type, item, quantity and reference, from
// and to swapped, reason CORRECTION (validate() accepts a row backwards
// with that reason). The session journals no other movements, so the
// original is always the device's movement just before (seq - 1). A
// second CORRECT reverses the correction. A count is an observation:
// count again instead.
Outcome correct(State& s, const std::string& text, std::int64_t time_ms) {
  if (!s.evidence.empty()) return fail("step_open", "Finish or cancel the open step before a correction");
  if (!s.last) return fail("nothing_to_correct", "No movement of yours to correct since you signed in");
  if (s.last->type == MovementType::count)
    return fail("not_correctable", "A count is not reversed: count the bin again");
  // A task pick advanced its task line; reversing only the stock would leave
  // the task saying it was picked.
  if (s.last->type == MovementType::pick && s.last->reference.rfind("TASK:", 0) == 0)
    return fail("not_correctable", "A task pick is not reversed here: move the goods back to the bin (MOVE)");
  Movement m = *s.last;
  m.seq = 0;
  m.hlc = 0;
  m.operator_id = s.operator_id;
  std::swap(m.from, m.to);
  m.reason = std::string(kCorrectionReason);
  m.evidence = {text};
  m.wall_time_ms = time_ms;
  if (auto ok = validate(m); !ok) return fail(ok.error());
  if (const auto corrected = workflow_of(s).corrected) corrected(s, m);
  Outcome o = good("correction_recorded", "Corrected: " + std::string(to_string(m.type)) + " " +
                                              qty_text(m.qty, m.item) + " back from " + m.from.location.code +
                                              " to " + m.to.location.code);
  o.movement = std::move(m);
  return o;
}

Outcome sign_out(State& s) {
  if (step_open(s)) return fail("step_open", "Finish or cancel the open step before signing out");
  const std::string who = s.operator_id;
  s.operator_id.clear();
  s.mode = Mode::idle;
  s.last.reset();
  clear_all(s);
  return good("signed_out", "Signed out " + who);
}

Outcome choose_mode(State& s, Mode mode) {
  if (step_open(s)) return fail("step_open", "Finish or cancel the open step first");
  s.mode = mode;
  clear_all(s);
  const Workflow& w = workflow_of(mode);
  Outcome o = good("mode_changed", "Mode " + std::string(w.name));
  if (w.entered) w.entered(s, o);
  return o;
}

Outcome undo(State& s) {
  if (s.evidence.empty()) return fail("nothing_to_undo", "Nothing to take back");
  const std::string last = s.evidence.back();
  s.evidence.pop_back();
  s.pack_units.erase(s.evidence.size());
  s.catalog_skus.erase(s.evidence.size());
  if (!replay(s)) return fail("undo_failed", "Cannot take back " + text::quote(last));
  return good("undone", "Took back " + text::quote(last));
}

Outcome cancel(State& s, const std::string& text, std::int64_t time_ms) {
  if (!s.evidence.empty()) {
    reset_to_base(s);
    return good("step_cancelled", "Step cancelled");
  }
  if (s.ctx == Context{}) return fail("nothing_to_cancel", "Nothing to cancel");
  Outcome o = good("step_cancelled", "Closed");
  if (const auto closed = workflow_of(s).closed) closed(s, o, text, time_ms);
  clear_all(s);
  return o;
}

Outcome done(State& s, const std::string& text, std::int64_t time_ms) {
  if (const auto own = workflow_of(s).done) {
    if (auto o = own(s, text, time_ms)) return std::move(*o);
  }
  if (step_open(s)) return fail("incomplete_step", "Finish or cancel the open step first");
  s.mode = Mode::idle;
  clear_all(s);
  return good("mode_ended", "Task finished");
}

Outcome command(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  const std::string& verb = l.value;
  if (verb == "LOGOUT") return sign_out(s);
  if (auto mode = mode_of_verb(verb)) return choose_mode(s, *mode);
  if (verb == "UNDO") return undo(s);
  if (verb == "CANCEL") return cancel(s, text, time_ms);
  if (verb == "CORRECT") return correct(s, text, time_ms);
  if (verb == "CONFIRM") return workflow_of(s).confirm(s, text, time_ms);
  if (verb == "DONE") return done(s, text, time_ms);
  return fail("mode_not_supported", verb + " is not supported yet");
}

// Any scan but a badge or PIN, signed in: CMD:STATE where the mode takes
// it, else the mode's step.
Outcome step(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  const Workflow& w = workflow_of(s);
  if (l.kind == LabelKind::state && w.state_movement) return set_state(s, l, text);  // else as any other label
  return w.step(s, l, text, time_ms);
}

Outcome handle_signed(State& s, const Scan& scan) {
  std::optional<std::string> catalog_gtin;
  auto label = label_of(s, scan.text, &catalog_gtin);
  if (label && label->kind == LabelKind::operator_badge) return sign_in(s, label->value);
  if (label && label->kind == LabelKind::pin) return check_pin(s, *label);
  if (!s.pin_pending.empty()) {
    if (!label) return fail(label.error());  // a bad PIN label's error never quotes it
    if (label->kind == LabelKind::command && (label->value == "CANCEL" || label->value == "LOGOUT")) {
      const std::string who = std::exchange(s.pin_pending, std::string());
      if (label->value == "LOGOUT" && !s.operator_id.empty()) return command(s, *label, scan.text, scan.time_ms);
      return good("pin_cancelled", "Sign-in of " + who + " cancelled");
    }
    return fail("pin_required", "Scan the PIN of " + s.pin_pending + " first");
  }
  if (s.operator_id.empty()) return fail("no_operator", "Sign in first");
  if (!label) return fail(label.error());
  if (label->kind == LabelKind::command) return command(s, *label, scan.text, scan.time_ms);
  Outcome o = step(s, *label, scan.text, scan.time_ms);
  if (o.accepted()) note_catalog_sku(s, scan.text, catalog_gtin);
  return o;
}

// What the reader sent: a scanner or camera that split its AIM identifier
// off into `symbology` (USB, serial, camera with aim_prefix) gets it back in
// front of the text, as classify() needs it: "]E0" + "01234565" is a UPC-E
// (GTIN 00012345000065), "01234565" alone a GTIN-8. Text that carries its
// own identifier, and format names, are left as they are.
Scan as_sent(const Scan& scan) {
  const SymbologyId id = split_symbology(scan.symbology);
  if (id.id.empty() || !id.rest.empty() || scan.text.starts_with(']')) return scan;
  Scan full = scan;
  full.text = scan.symbology + scan.text;
  return full;
}

}  // namespace

Outcome handle(State& s, const Scan& scan_in) {
  const Scan scan = as_sent(scan_in);
  const std::int64_t timeout = s.options.idle_timeout_ms;
  if (timeout <= 0 || s.operator_id.empty() || s.last_scan_ms == 0 || scan.time_ms - s.last_scan_ms <= timeout)
    return handle_signed(s, scan);
  // Idle too long: sign out first (the open step is dropped), then handle
  // the scan as a signed-out session would. Refused, this changes nothing,
  // so the next scan is past the timeout as well and says the same.
  const std::string note = "Signed out " + s.operator_id + " after " + std::to_string(timeout / 1000) + " s idle";
  s.operator_id.clear();
  s.pin_pending.clear();
  s.mode = Mode::idle;
  s.last.reset();
  clear_all(s);  // done_tasks stays: a finished task is a device fact, not part of a sign-in
  auto label = label_of(s, scan.text);
  if (!label || label->kind != LabelKind::operator_badge) return fail("idle_timeout", note + ": scan your badge");
  Outcome o = handle_signed(s, scan);
  o.message = note + "; " + o.message;
  return o;
}

bool replay(State& s) {
  std::vector<std::string> scans = std::move(s.evidence);
  const std::map<std::size_t, std::int64_t> packs = std::move(s.pack_units);
  const std::map<std::size_t, std::string> skus = std::move(s.catalog_skus);
  reset_to_base(s);
  if (s.mode == Mode::idle || s.operator_id.empty()) return scans.empty() && packs.empty() && skus.empty();
  bool ok = true;
  for (std::size_t i = 0; ok && i < scans.size(); ++i) {
    const std::string& t = scans[i];
    const auto sku = skus.find(i);
    s.replay_sku.emplace(sku == skus.end() ? std::nullopt : std::optional<std::string>(sku->second));
    std::optional<std::string> catalog_gtin;
    auto label = label_of(s, t, &catalog_gtin);
    if (!label || label->kind == LabelKind::operator_badge || label->kind == LabelKind::pin) {
      ok = false;
      break;
    }
    // Only a CONFIRM the mode keeps inside an open step (a short pick) replays.
    const bool confirm =
        label->kind == LabelKind::command && label->value == "CONFIRM" && workflow_of(s).confirm_in_step;
    if (label->kind == LabelKind::command && !confirm) {
      ok = false;
      break;
    }
    const auto pack = packs.find(i);
    s.replay_pack = pack == packs.end() ? 1 : pack->second;
    Outcome o = confirm ? workflow_of(s).confirm(s, t, 0) : step(s, *label, t, 0);
    ok = o.accepted() && !o.movement;
    note_catalog_sku(s, t, catalog_gtin);
  }
  s.replay_pack.reset();
  s.replay_sku.reset();
  // Every recorded pack size and catalog SKU must have been used by the scan it names.
  return ok && s.pack_units == packs && s.catalog_skus == skus;
}

}  // namespace tally::scanner::workflow

namespace tally::scanner {

Session::Session(SessionOptions options) : state_(std::make_unique<workflow::State>()) {
  state_->options = std::move(options);
}
Session::Session(std::unique_ptr<workflow::State> state) : state_(std::move(state)) {}
Session::Session(const Session& other) : state_(std::make_unique<workflow::State>(*other.state_)) {}
Session& Session::operator=(const Session& other) {
  if (this != &other) state_ = std::make_unique<workflow::State>(*other.state_);
  return *this;
}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Outcome Session::handle(const Scan& scan) {
  auto next = std::make_unique<workflow::State>(*state_);
  Outcome o = workflow::handle(*next, scan);
  if (o.accepted()) {
    if (next->options.idle_timeout_ms > 0) next->last_scan_ms = scan.time_ms;
    // What CMD:CORRECT reverses. A pallet (several movements of one scan) is
    // not reversed by one CORRECT: that would take back one line of it.
    if (o.movement) next->last = o.more_movements.empty() ? o.movement : std::nullopt;
    state_ = std::move(next);
  }
  // Refused for idle timeout: the session is unchanged (still signed in on
  // paper), but what the operator must do next is sign in.
  o.prompt = o.code == "idle_timeout" ? "Scan your badge" : prompt();
  return o;
}

const std::string& Session::operator_id() const { return state_->operator_id; }

std::string Session::mode() const { return std::string(workflow::workflow_of(*state_).name); }

std::string Session::prompt() const { return workflow::prompt(*state_); }

void Session::set_master_data(std::shared_ptr<const MasterData> data) { state_->master = std::move(data); }

std::vector<TaskProgress> Session::task_progress() const {
  const workflow::State& s = *state_;
  std::vector<TaskProgress> out;
  if (!s.master) return out;
  for (const Task& t : s.master->tasks) {
    TaskProgress p{t.id, t.type, t.reference, static_cast<int>(t.lines.size())};
    p.done = std::find(s.done_tasks.begin(), s.done_tasks.end(), t.id) != s.done_tasks.end();
    p.current = t.id == s.ctx.task;
    p.lines_done = p.done ? p.lines : p.current ? std::min(s.ctx.line_index, p.lines) : 0;
    out.push_back(std::move(p));
  }
  return out;
}

nlohmann::json Session::snapshot() const { return workflow::to_snapshot(*state_); }

Result<Session> Session::restore(SessionOptions options, const nlohmann::json& snapshot) {
  auto state = workflow::from_snapshot(std::move(options), snapshot);
  if (!state) return state.error();
  return Session(std::make_unique<workflow::State>(std::move(*state)));
}

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

}  // namespace tally::scanner
