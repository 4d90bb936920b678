// move and putaway: source → item(s) / quantity → destination. A move keeps
// the goods' state (CMD:STATE, default available) and its source bin for the
// next item; a put-away takes inbound goods to available and flags a
// destination other than the catalog's suggested bin.
#include "session/steps.hpp"

namespace tally::scanner::workflow {

namespace {

// The catalog's suggested bin for the open item, as a location code; empty
// when there is none.
std::string suggested_bin(const State& s) {
  if (!s.master || !s.item) return {};
  const CatalogItem* c = s.master->find_item(s.item->id());
  if (!c || c->suggested_bin.empty()) return {};
  return location_code(c->suggested_bin);
}

Outcome to_destination(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  // The source kept from the previous move is replaced by another bin scanned before an item.
  if (!s.item && s.base.source && s.from == s.base.source) {
    s.from = l.location;
    s.evidence.push_back(text);
    return good("source_set", "From " + l.location.code);
  }
  if (!s.item) return fail("no_item", "Scan an item before the destination bin");
  if (l.location == *s.from) return fail("same_location", "Destination is the source bin " + l.location.code);
  const bool move = s.mode == Mode::move;
  std::vector<std::string> ev = s.evidence;
  ev.push_back(text);
  const StockState from_state = move ? goods_state(s) : StockState::inbound;
  auto m = make_movement(s, move ? MovementType::move : MovementType::putaway, {*s.from, from_state},
                         {l.location, move ? from_state : StockState::available}, ev, time_ms);
  if (!m) return fail(m.error());
  Outcome o = good("movement_recorded", std::string(move ? "Moved " : "Put away ") + qty_text(s.qty, *s.item) +
                                            " from " + s.from->code + " to " + l.location.code);
  // Put-away into another bin than the catalog suggests: allowed, flagged.
  const std::string suggested = move ? std::string() : suggested_bin(s);
  if (!suggested.empty() && suggested != l.location.code) {
    o.feedback = Feedback::warning;
    o.message += " (suggested " + suggested + ")";
    o.exception = exception(s, "not_suggested_bin", suggested, text, std::move(ev), time_ms);
  }
  o.movement = std::move(*m);
  if (move) s.ctx.source = s.from;  // the next item comes from the same bin
  next_step(s);
  return o;
}

Outcome transfer_step(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  if (!s.from) {
    if (l.kind != LabelKind::location) return unexpected(s, l);
    s.from = l.location;
    s.evidence.push_back(text);
    return good("source_set", "From " + l.location.code);
  }
  switch (l.kind) {
    case LabelKind::item:
      return same_item(s, l, text, time_ms, "movement");
    case LabelKind::location:
      return to_destination(s, l, text, time_ms);
    default:
      return shared_label(s, l, text);
  }
}

Outcome transfer_confirm(State& s, const std::string&, std::int64_t) {
  if (!s.evidence.empty()) return fail("incomplete_step", "Scan the destination bin to finish");
  return fail("nothing_to_confirm", "Nothing to confirm");
}

std::string transfer_prompt(const State& s) {
  const bool move = s.mode == Mode::move;
  if (!s.from) return move ? "Scan source bin" + state_note(s) : "Scan source location";
  if (s.qty == 0 && s.base.source && s.from == s.base.source)
    return "Scan item from " + s.from->code + state_note(s) + ", or another source bin";
  if (s.qty == 0) return "Scan item" + state_note(s);
  if (!move && !suggested_bin(s).empty())
    return "Scan item, quantity or destination bin (suggested " + suggested_bin(s) + ")";
  return "Scan item, quantity or destination bin";
}

}  // namespace

constinit const Workflow kMove{
    .mode = Mode::move,
    .name = "move",
    .step = transfer_step,
    .confirm = transfer_confirm,
    .prompt = transfer_prompt,
    .keeps_source = true,
    .state_movement = MovementType::move,
};

constinit const Workflow kPutaway{
    .mode = Mode::putaway,
    .name = "putaway",
    .step = transfer_step,
    .confirm = transfer_confirm,
    .prompt = transfer_prompt,
};

}  // namespace tally::scanner::workflow
