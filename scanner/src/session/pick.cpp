// pick: by task (TASK:, lines in order, each checked for bin, item, lot and
// expiry; a wrong one is refused and recorded) or without one (an order or
// nothing as reference). bin → item(s) → tote; a short pick needs a reason
// and CONFIRM. Choosing the mode starts the next open pick task.
#include <algorithm>

#include "session/steps.hpp"

namespace tally::scanner::workflow {

namespace {

// Starts `task` at its first line (a context change of its own: the TASK
// scan is not part of any movement's evidence).
Outcome start_task(State& s, const Task& task) {
  if (task.lines.empty()) return fail("empty_task", task.id + " has no lines");
  s.ctx = Context{};
  s.ctx.task = task.id;
  s.ctx.reference = task.reference;
  s.ctx.line_index = 0;
  s.ctx.line = resolved(task.lines.front(), s.master.get());
  next_step(s);
  return good("task_started", task.id + ": " + std::to_string(task.lines.size()) + " line(s)");
}

const Task* next_open_pick_task(const State& s) {
  if (!s.master) return nullptr;
  for (const Task& t : s.master->tasks)
    if (t.type == "pick" && !t.lines.empty() &&
        std::find(s.done_tasks.begin(), s.done_tasks.end(), t.id) == s.done_tasks.end())
      return &t;
  return nullptr;
}

// After a task line is done: the next line, or the task is complete.
// Returns what to tell the operator.
std::string advance_line(State& s) {
  const Task* task = s.master ? s.master->find_task(s.ctx.task) : nullptr;
  const auto next = static_cast<std::size_t>(s.ctx.line_index) + 1;
  if (task && next < task->lines.size()) {
    s.ctx.line_index = static_cast<int>(next);
    s.ctx.line = resolved(task->lines[next], s.master.get());
    next_step(s);
    return "";
  }
  const std::string id = s.ctx.task;
  constexpr std::size_t kMaxDoneTasks = 256;  // bounds the snapshot over a long shift
  if (s.done_tasks.size() >= kMaxDoneTasks) s.done_tasks.erase(s.done_tasks.begin());
  s.done_tasks.push_back(id);
  clear_all(s);
  return "; task " + id + " complete";
}

Outcome set_document(State& s, const Label& l, const std::string& text) {
  if (!s.evidence.empty()) return fail("step_open", "Finish or cancel the open pick first");
  if (l.document == DocumentKind::task) {
    const Task* task = s.master ? s.master->find_task(l.value) : nullptr;
    if (!task || task->type != "pick") return fail("unknown_task", "No pick task " + l.value + " on this device");
    return start_task(s, *task);
  }
  if (l.document != DocumentKind::order || s.ctx.line)
    return fail("unexpected_label", "Scan a TASK, or an order for a pick without a task");
  s.ctx.reference = l.value;
  s.evidence.push_back(text);
  return good("reference_set", "Picking for " + l.value);
}

Outcome set_bin(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  const std::optional<TaskLine>& line = s.ctx.line;
  if (s.from) return fail("step_open", "Bin " + s.from->code + " is set: pick the item or CANCEL");
  if (line && l.location.code != location_code(line->bin))
    return refuse(s, "wrong_bin", "Wrong bin " + l.location.code + ": go to " + location_code(line->bin),
                  location_code(line->bin), text, time_ms);
  s.from = l.location;
  s.evidence.push_back(text);
  return good("source_set", "Bin " + l.location.code);
}

Outcome pick_item(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  const std::optional<TaskLine>& line = s.ctx.line;
  if (!s.from) return fail("no_bin", "Scan the bin first");
  if (s.item && *s.item != l.item) return same_item(s, l, text, time_ms, "pick");  // refused
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
    if (s.qty + units_of(s, l).n > line->qty)
      return fail("over_pick", "The line asks for " + std::to_string(line->qty) + " only");
  } else if (!l.item.expiry.empty() && l.item.expiry < iso_date(time_ms)) {
    // Without a task line there is no lot rule, but an expired lot is still refused.
    return refuse(s, "expired_lot", "Lot " + l.item.lot + " expired on " + l.item.expiry + ": do not pick it",
                  "expiry on or after " + iso_date(time_ms), text, time_ms);
  }
  return count_item(s, l, text, time_ms);
}

// The tote completes the pick.
Outcome into_tote(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  const std::optional<TaskLine>& line = s.ctx.line;
  if (!s.item) return fail("no_item", "Pick the item before scanning the tote");
  if (line && s.qty < line->qty && !s.short_pick)
    return fail("short_pick", "Picked " + std::to_string(s.qty) + " of " + std::to_string(line->qty) +
                                  ": pick more, or scan a REASON and CONFIRM a short pick");
  std::vector<std::string> ev = s.evidence;
  ev.push_back(text);
  const Location tote{"TOTE:" + l.value};
  auto m =
      make_movement(s, MovementType::pick, {*s.from, StockState::available}, {tote, StockState::picked}, ev, time_ms);
  if (!m) return fail(m.error());
  if (line) m->reference = task_ref(s);
  Outcome o = good("movement_recorded",
                   "Picked " + qty_text(s.qty, *s.item) + " from " + s.from->code + " into " + tote.code);
  if (line && s.short_pick) {
    o.feedback = Feedback::warning;
    o.exception =
        exception(s, "short_pick", qty_text(line->qty, *s.item), qty_text(s.qty, *s.item), std::move(ev), time_ms);
  }
  o.movement = std::move(*m);
  if (line)
    o.message += advance_line(s);
  else
    next_step(s);
  return o;
}

Outcome pick_step(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  const std::optional<TaskLine>& line = s.ctx.line;
  switch (l.kind) {
    case LabelKind::document:
      return set_document(s, l, text);
    case LabelKind::location:
      return set_bin(s, l, text, time_ms);
    case LabelKind::item:
      return pick_item(s, l, text, time_ms);
    case LabelKind::quantity:
      if (line && s.item && l.number > line->qty)
        return fail("over_pick", "The line asks for " + std::to_string(line->qty) + " only");
      return set_qty(s, l, text);
    case LabelKind::container:
      return into_tote(s, l, text, time_ms);
    default:
      return shared_label(s, l, text);
  }
}

// CONFIRM in pick: a short pick (reason required). With nothing picked
// the line closes at once without a movement.
Outcome pick_confirm(State& s, const std::string& text, std::int64_t time_ms) {
  const std::optional<TaskLine>& line = s.ctx.line;
  if (!line) {
    if (s.evidence.empty()) return fail("nothing_to_confirm", "Nothing to confirm");
    return fail("incomplete_step", "Scan the tote to finish");
  }
  if (s.short_pick || s.qty >= line->qty) return fail("incomplete_step", "Scan the tote to finish");
  if (s.reason.empty()) return fail("reason_required", "Scan a REASON for the short pick, then CONFIRM");
  if (s.qty == 0) {
    std::vector<std::string> ev = s.evidence;
    ev.push_back(text);
    Outcome o = good("line_short", "Nothing picked on line " + std::to_string(line->line) + " (" + s.reason + ")");
    o.feedback = Feedback::warning;
    o.exception = exception(s, "short_pick", std::to_string(line->qty) + " x " + line_item_id(*line),
                            "0 x " + line_item_id(*line), std::move(ev), time_ms);
    o.message += advance_line(s);
    return o;
  }
  s.short_pick = true;
  s.evidence.push_back(text);
  Outcome o = good("short_confirmed", "Short pick " + std::to_string(s.qty) + " of " + std::to_string(line->qty) +
                                          " (" + s.reason + "): scan the tote");
  o.feedback = Feedback::warning;
  return o;
}

std::optional<Outcome> pick_done(State& s, const std::string&, std::int64_t) {
  if (!s.evidence.empty() || s.ctx == Context{}) return std::nullopt;
  const std::string what = s.ctx.task.empty() ? "Order closed" : "Task " + s.ctx.task + " left open";
  clear_all(s);
  return good("task_closed", what);
}

void pick_entered(State& s, Outcome& o) {
  if (const Task* task = next_open_pick_task(s)) o.message += "; " + start_task(s, *task).message;
}

bool pick_context_fits(const Context& c) {
  return !c.dock && !c.bin && (c.task.empty() == !c.line) && (c.line || c.line_index == 0) && c.received.empty();
}

std::string pick_prompt(const State& s) {
  if (!s.ctx.line) {
    if (!s.from) return "Scan TASK or bin to pick";
    if (s.qty == 0) return "Scan item";
    return "Scan item, quantity or tote";
  }
  const TaskLine& l = *s.ctx.line;
  const std::string what = std::to_string(l.qty) + " x " + line_item_id(l);
  if (!s.from) return "Go to " + location_code(l.bin) + ", pick " + what;
  if (s.qty >= l.qty || s.short_pick) return "Scan the tote";
  if (s.qty == 0) return "Pick " + what;
  return "Picked " + std::to_string(s.qty) + " of " + what + ": scan item, or REASON + CONFIRM if short";
}

}  // namespace

constinit const Workflow kPick{
    .mode = Mode::pick,
    .name = "pick",
    .step = pick_step,
    .confirm = pick_confirm,
    .prompt = pick_prompt,
    .done = pick_done,
    .entered = pick_entered,
    .context_fits = pick_context_fits,
    .reason_checked = true,
    .confirm_in_step = true,
};

}  // namespace tally::scanner::workflow
