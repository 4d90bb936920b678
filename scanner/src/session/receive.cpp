// receive: blind receipts into the dock (state inbound), or against a
// receive task matched by its PO/ASN/TASK, flagging unexpected items and
// over- and under-receipts. One open line at a time: a different item while
// a line is open commits the open line (that outcome carries its movement)
// and starts a new line. A pallet SSCC receives its lines at once.
#include "session/steps.hpp"
#include "text.hpp"

namespace tally::scanner::workflow {

namespace {

// The open receive line as a receipt into the dock. `completing` is the
// scan that commits it, if it belongs to the line (CONFIRM, DONE).
Result<Movement> receipt(const State& s, const std::string* completing, std::int64_t time_ms) {
  std::vector<std::string> ev = s.evidence;
  if (completing) ev.push_back(*completing);
  const Location dock = s.ctx.dock.value_or(Location{s.options.receiving_location});
  return make_movement(s, MovementType::receipt, {kSupplier, std::nullopt}, {dock, StockState::inbound},
                       std::move(ev), time_ms);
}

// The receive task the open receipt is against: matched by its id or its
// reference (PO:/ASN:). Null for a blind receipt.
const Task* receive_task(const State& s) {
  if (!s.master || s.ctx.reference.empty()) return nullptr;
  for (const Task& t : s.master->tasks)
    if (t.type == "receive" && (t.id == s.ctx.reference || t.reference == s.ctx.reference)) return &t;
  return nullptr;
}

std::string line_key(const TaskLine& l) { return l.gtin.empty() ? l.sku : l.gtin; }

// After a receipt line is committed against a task: tally it and flag an
// unexpected item or an over-receipt (warning + exception).
void check_receipt(State& s, Outcome& o, const Movement& m, std::int64_t time_ms) {
  const Task* task = receive_task(s);
  if (!task) return;
  const std::int64_t total = (s.ctx.received[m.item.id()] += m.qty);
  std::int64_t expected = 0;
  for (const TaskLine& raw : task->lines) {
    const TaskLine l = resolved(raw, s.master.get());
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
void check_under_receipt(const State& s, Outcome& o, const std::string& text, std::int64_t time_ms) {
  const Task* task = receive_task(s);
  if (!task) return;
  std::string expected, got;
  for (const TaskLine& raw : task->lines) {
    const TaskLine l = resolved(raw, s.master.get());
    const auto it = s.ctx.received.find(line_key(l));
    const std::int64_t n = it == s.ctx.received.end() ? 0 : it->second;
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

// CONFIRM / DONE on an open receive line. DONE also ends the receipt.
Outcome commit_line(State& s, const std::string& text, std::int64_t time_ms, bool end_receipt) {
  auto m = receipt(s, &text, time_ms);
  if (!m) return fail(m.error());
  Outcome o =
      good("movement_recorded", "Received " + qty_text(s.qty, *s.item) + (end_receipt ? "; receipt finished" : ""));
  check_receipt(s, o, *m, time_ms);
  if (end_receipt) check_under_receipt(s, o, text, time_ms);
  o.movement = std::move(*m);
  if (end_receipt)
    clear_all(s);
  else
    next_step(s);
  return o;
}

Outcome set_document(State& s, const Label& l, const std::string& text) {
  const bool task_doc = l.document == DocumentKind::task;
  if (l.document != DocumentKind::purchase_order && l.document != DocumentKind::asn && !task_doc)
    return fail("unexpected_label", "Scan a PO, ASN or receive TASK for a receipt");
  if (s.item) return fail("step_open", "Confirm or cancel the open line first");
  if (s.ctx.reference != l.value) s.ctx.received.clear();
  s.ctx.reference = l.value;
  const Task* task = receive_task(s);
  // Replayed (restore, undo) the scan was accepted once: the master data may not be there yet.
  if (task_doc && !task && !s.replaying()) return fail("unknown_task", "No receive task " + l.value + " on this device");
  s.evidence.push_back(text);
  if (!task) return good("reference_set", "Receiving " + l.value);
  return good("reference_set", "Receiving " + l.value + " against " + task->id + ": " +
                                   std::to_string(task->lines.size()) + " line(s) expected");
}

// A different item while a line is open: commit the open line, count the new one.
Outcome next_item(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  auto m = receipt(s, nullptr, time_ms);
  if (!m) return fail(m.error());
  Outcome o = good("movement_recorded", "Received " + qty_text(s.qty, *s.item) + "; now counting " + l.item.id());
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

// A pallet SSCC in receive mode: every line of the receive task that
// arrives on it (TaskLine::sscc) is received at once, one receipt each,
// with the SSCC scan as evidence. Without such lines, a pallet label that
// names its contents (GS1 (00) with (02) and a count (37)) is received as
// that; anything else is refused (receive the cases one by one).
Outcome receive_pallet(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  if (s.item) return fail("step_open", "Confirm or cancel the open line first");
  const bool sscc = l.value.size() == 18 && text::all_digits(l.value);  // not a TOTE:
  if (!sscc) return fail("unexpected_label", "Scan an item, a pallet SSCC, CONFIRM or DONE");
  std::vector<std::pair<Item, std::int64_t>> contents;
  const Task* task = receive_task(s);
  if (task) {
    for (const TaskLine& raw : task->lines) {
      if (raw.sscc != l.value) continue;
      const TaskLine line = resolved(raw, s.master.get());
      contents.emplace_back(Item{line.gtin, line.gtin.empty() ? line.sku : "", line.lot, "", ""}, line.qty);
    }
  }
  if (contents.empty() && !l.item.id().empty() && l.number > 0) contents.emplace_back(l.item, l.number);
  if (contents.empty()) {
    return fail("unknown_pallet", "Pallet " + l.value + " is not on " +
                                      (task ? task->id : std::string("a receive task of this device")) +
                                      ": receive its cases one by one");
  }
  // All receipts or none: a refused scan's session is discarded (Session::handle).
  Outcome o =
      good("movement_recorded", "Received pallet " + l.value + ": " + std::to_string(contents.size()) + " line(s)");
  for (auto& [item, qty] : contents) {
    s.item = item;
    s.qty = qty;
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

Outcome receive_step(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  switch (l.kind) {
    case LabelKind::document:
      return set_document(s, l, text);
    case LabelKind::location:
      if (s.item) return fail("step_open", "Confirm or cancel the open line first");
      s.ctx.dock = l.location;
      s.evidence.push_back(text);
      return good("dock_set", "Receiving into " + l.location.code);
    case LabelKind::item:
      if (!s.item || *s.item == l.item) return count_item(s, l, text, time_ms);
      return next_item(s, l, text, time_ms);
    case LabelKind::container:
      return receive_pallet(s, l, text, time_ms);
    default:
      return shared_label(s, l, text);
  }
}

Outcome receive_confirm(State& s, const std::string& text, std::int64_t time_ms) {
  if (s.item) return commit_line(s, text, time_ms, false);
  return fail("nothing_to_confirm", "Nothing to confirm");
}

std::optional<Outcome> receive_done(State& s, const std::string& text, std::int64_t time_ms) {
  if (s.item) return commit_line(s, text, time_ms, true);
  if (!step_open(s)) return std::nullopt;
  Outcome o = good("receipt_done", "Receipt finished");
  check_under_receipt(s, o, text, time_ms);
  clear_all(s);
  return o;
}

// A receipt closed by CANCEL has ended as much as by DONE: lines short are flagged.
void receive_closed(State& s, Outcome& o, const std::string& text, std::int64_t time_ms) {
  o.message = "Receipt closed";
  check_under_receipt(s, o, text, time_ms);
}

// A receipt line of the open receipt against a task is taken off (or back onto) its tally.
void receive_corrected(State& s, const Movement& m) {
  if (m.type != MovementType::receipt || m.reference != s.ctx.reference || !receive_task(s)) return;
  const std::int64_t n = (s.ctx.received[m.item.id()] += m.from.location == kSupplier ? m.qty : -m.qty);
  if (n <= 0) s.ctx.received.erase(m.item.id());
  next_step(s);
}

bool receive_context_fits(const Context& c) { return !c.bin && c.task.empty() && c.line_index == 0 && !c.line; }

std::string receive_prompt(const State& s) {
  if (s.item) return "Scan item, quantity or CONFIRM";
  return "Scan item, document or dock";
}

}  // namespace

constinit const Workflow kReceive{
    .mode = Mode::receive,
    .name = "receive",
    .step = receive_step,
    .confirm = receive_confirm,
    .prompt = receive_prompt,
    .done = receive_done,
    .closed = receive_closed,
    .corrected = receive_corrected,
    .context_fits = receive_context_fits,
};

}  // namespace tally::scanner::workflow
