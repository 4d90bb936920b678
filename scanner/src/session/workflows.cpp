// The workflow table, and the idle row (no mode chosen).
#include <array>

#include "session/steps.hpp"
#include "session/workflow.hpp"
#include "text.hpp"

namespace tally::scanner::workflow {

namespace {

// Idle first; the others in the order the idle prompt offers them.
constexpr std::array<const Workflow*, 10> kWorkflows = {&kIdle,    &kMove, &kReceive, &kPutaway, &kPick,
                                                        &kDamage, &kHold, &kRelease, &kReturn,  &kCount};

std::string idle_prompt(const State&) {
  std::string out = "Scan a mode to start: ";
  for (std::size_t i = 1; i < kWorkflows.size(); ++i) {
    if (i > 1) out += i + 1 == kWorkflows.size() ? " or " : ", ";
    out += text::upper(kWorkflows[i]->name);
  }
  return out;
}

Outcome idle_step(State&, const Label&, const std::string&, std::int64_t) {
  return fail("no_mode", "Choose a task first");
}

Outcome idle_confirm(State&, const std::string&, std::int64_t) {
  return fail("nothing_to_confirm", "Nothing to confirm");
}

std::optional<Outcome> idle_done(State&, const std::string&, std::int64_t) {
  return fail("nothing_to_finish", "Nothing to finish");
}

}  // namespace

constinit const Workflow kIdle{
    .mode = Mode::idle,
    .name = "idle",
    .step = idle_step,
    .confirm = idle_confirm,
    .prompt = idle_prompt,
    .done = idle_done,
};

std::span<const Workflow* const> workflows() { return kWorkflows; }

const Workflow& workflow_of(Mode m) {
  for (const Workflow* w : kWorkflows)
    if (w->mode == m) return *w;
  return kIdle;
}

std::optional<Mode> parse_mode(std::string_view name) {
  for (const Workflow* w : kWorkflows)
    if (w->name == name) return w->mode;
  return std::nullopt;
}

std::optional<Mode> mode_of_verb(std::string_view verb) {
  for (const Workflow* w : kWorkflows)
    if (w->mode != Mode::idle && text::equals_ci(w->name, verb)) return w->mode;
  return std::nullopt;
}

}  // namespace tally::scanner::workflow
