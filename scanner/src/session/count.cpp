// count: bin → item(s) / quantity → CONFIRM per item, or CONFIRM right after
// the bin for an empty bin; DONE finishes the bin. A count records what was
// found; the ledger turns the difference into an adjustment.
#include "session/steps.hpp"

namespace tally::scanner::workflow {

namespace {

Outcome count_step(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  switch (l.kind) {
    case LabelKind::location:
      if (s.item) return fail("step_open", "CONFIRM or CANCEL the count of " + s.item->id() + " first");
      s.ctx.bin = l.location;
      s.evidence.push_back(text);
      return good("bin_set", "Counting " + l.location.code);
    case LabelKind::item:
      if (!s.ctx.bin) return fail("no_bin", "Scan the bin first");
      if (s.item && *s.item != l.item) return fail("different_item", "CONFIRM the count of " + s.item->id() + " first");
      return count_item(s, l, text, time_ms);
    default:
      return shared_label(s, l, text);
  }
}

// CONFIRM in count: the open item's count, or an empty bin when the bin
// was scanned in this step and no item since.
Outcome count_confirm(State& s, const std::string& text, std::int64_t time_ms) {
  if (!s.ctx.bin) return fail("nothing_to_confirm", "Scan the bin to count");
  const bool empty = !s.item;
  if (empty && s.base.bin == s.ctx.bin)
    return fail("nothing_to_confirm", "Scan the next item, or DONE to finish " + s.ctx.bin->code);
  State t = s;
  if (empty) t.item = Item{"", std::string(kEmptyBinSku), "", "", ""};
  std::vector<std::string> ev = s.evidence;
  ev.push_back(text);
  const Endpoint at{*s.ctx.bin, StockState::available};
  auto m = make_movement(t, MovementType::count, at, at, std::move(ev), time_ms);
  if (!m) return fail(m.error());
  Outcome o = good("movement_recorded", empty ? "Counted " + s.ctx.bin->code + " empty"
                                              : "Counted " + qty_text(s.qty, *s.item) + " in " + s.ctx.bin->code);
  o.movement = std::move(*m);
  next_step(s);
  return o;
}

std::optional<Outcome> count_done(State& s, const std::string&, std::int64_t) {
  if (!s.evidence.empty() || s.ctx == Context{}) return std::nullopt;
  clear_all(s);
  return good("bin_done", "Bin counted");
}

bool count_context_fits(const Context& c) {
  return c.reference.empty() && !c.dock && c.bin && c.task.empty() && c.line_index == 0 && !c.line &&
         c.received.empty();
}

std::string count_prompt(const State& s) {
  if (!s.ctx.bin) return "Scan bin to count";
  if (s.item) return "Scan item, quantity or CONFIRM";
  if (s.base.bin != s.ctx.bin) return "Scan item, or CONFIRM for an empty bin";
  return "Scan next item in " + s.ctx.bin->code + ", or DONE";
}

}  // namespace

constinit const Workflow kCount{
    .mode = Mode::count,
    .name = "count",
    .step = count_step,
    .confirm = count_confirm,
    .prompt = count_prompt,
    .done = count_done,
    .context_fits = count_context_fits,
};

}  // namespace tally::scanner::workflow
