// The workflow table: one row per mode. The session core (session.cpp)
// handles sign-in, PIN and the commands every mode shares (UNDO, CANCEL,
// CONFIRM, DONE, CORRECT, LOGOUT, mode changes) and asks the current row for
// everything a mode decides itself. A new workflow is a new file that
// defines its row plus one entry in kWorkflows (workflows.cpp) and one Mode.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "session/state.hpp"
#include "tally/scanner/label.hpp"

namespace tally::scanner::workflow {

struct Workflow {
  Mode mode = Mode::idle;
  // The mode's name: CMD:<NAME> (any case) chooses it; snapshots and status say it.
  std::string_view name;

  // One scan that is not a badge, PIN or command. On error `s` is discarded.
  Outcome (*step)(State& s, const Label& l, const std::string& text, std::int64_t time_ms) = nullptr;
  // CMD:CONFIRM.
  Outcome (*confirm)(State& s, const std::string& text, std::int64_t time_ms) = nullptr;
  // What to scan next (signed in, no PIN pending).
  std::string (*prompt)(const State& s) = nullptr;

  // Optional hooks; null: the core's common rule alone.
  // CMD:DONE: this mode's own ending, if it has one now (else: an open step
  // is refused, otherwise the mode ends).
  std::optional<Outcome> (*done)(State& s, const std::string& text, std::int64_t time_ms) = nullptr;
  // CMD:CANCEL with no scans but an open context: the closing outcome, before
  // the context is cleared (default "Closed").
  void (*closed)(State& s, Outcome& o, const std::string& text, std::int64_t time_ms) = nullptr;
  // Just chosen with CMD:<name> (the session is clear).
  void (*entered)(State& s, Outcome& o) = nullptr;
  // A correction (CMD:CORRECT) of `m` was recorded in this mode.
  void (*corrected)(State& s, const Movement& m) = nullptr;
  // Which non-empty context (source and state aside) the mode may carry
  // between steps; null: none. Checked when a snapshot is restored.
  bool (*context_fits)(const Context& c) = nullptr;

  // Reason codes are checked against SessionOptions::reason_codes.
  bool reason_checked = false;
  // CONFIRM needs a reason first (in-place modes).
  bool reason_required = false;
  // CONFIRM can be a scan of the open step (pick: a short pick), so undo
  // and restore replay it.
  bool confirm_in_step = false;
  // The kept source bin of the previous step (Context::source).
  bool keeps_source = false;
  // CMD:STATE:<state>: the movement type whose transitions (domain.hpp)
  // decide which states the mode takes, and where they go (nullopt: the
  // goods keep their state). No state_movement: CMD:STATE is an ordinary
  // (unexpected) label in this mode.
  std::optional<MovementType> state_movement = std::nullopt;
  std::optional<StockState> state_to = std::nullopt;
  StockState goods_default = StockState::available;  // without CMD:STATE
};

// The rows, defined one per workflow file.
extern const Workflow kIdle;      // workflows.cpp
extern const Workflow kMove;      // transfer.cpp
extern const Workflow kPutaway;   // transfer.cpp
extern const Workflow kReceive;   // receive.cpp
extern const Workflow kPick;      // pick.cpp
extern const Workflow kDamage;    // in_place.cpp
extern const Workflow kHold;      // in_place.cpp
extern const Workflow kRelease;   // in_place.cpp
extern const Workflow kReturn;    // return.cpp
extern const Workflow kCount;     // count.cpp

// Every row, idle first, then in the order the idle prompt lists them.
std::span<const Workflow* const> workflows();
const Workflow& workflow_of(Mode m);
inline const Workflow& workflow_of(const State& s) { return workflow_of(s.mode); }
std::optional<Mode> parse_mode(std::string_view name);  // "move", "return", …
std::optional<Mode> mode_of_verb(std::string_view verb);  // CMD:<VERB>, any case; never idle

}  // namespace tally::scanner::workflow
