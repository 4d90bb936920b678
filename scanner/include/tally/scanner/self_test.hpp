// The scanner self-test label: one Code 128 symbol with a known payload that
// a badly set-up scanner visibly damages. diagnose_self_test() compares what
// arrived with what is printed and says, in operator words, what the scanner
// setup gets wrong and what to change:
//   - the GS (0x1D) separator dropped, or replaced by a stand-in ("^]", "|", …)
//   - keyboard layout remapping (scanner types US, host is German QWERTZ or
//     French AZERTY, or the other way round; Caps Lock on)
//   - the AIM symbology identifier (]C0) missing, or another prefix/suffix
//   - the terminator (Enter = CR or LF, TAB) missing, different or doubled.
// Pure; no I/O; never throws.
//
// Payload (what the label encodes, 26 characters):
//   SELFTEST yzYZ aqwAQW @#[] <GS> END   (without the spaces)
// chosen so that every layout confusion changes some character but none
// changes the length: the marker letters S E L F T N D are the same on US,
// German and French keyboards, so a damaged scan is still recognised.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tally::scanner {

// The encoded payload (contains one GS, 0x1D).
std::string self_test_payload();
// What a correctly set-up scanner sends before the payload (Code 128 AIM id).
inline constexpr std::string_view kSelfTestAimId = "]C0";
// The caption printed under the self-test symbol.
inline constexpr std::string_view kSelfTestCaption = "SCANNER SELF-TEST: scan into tally, it reports what to fix";

struct SelfTestOptions {
  // Check the terminator: only where the raw input with its line end is
  // visible (a keyboard-wedge/serial reader); tallyd's line reader strips it.
  bool check_terminator = false;
  // The terminator the input expects (default Enter as LF).
  std::string expected_terminator = "\n";
  // The GS stand-ins Tally accepts (Gs1Options::gs_substitutes): a GS
  // arriving as one of them is reported as info, not as an error.
  std::vector<std::string> accepted_gs_substitutes{"<GS>", "{GS}", "^]", "|"};
};

struct SelfTestIssue {
  // "gs_dropped", "gs_replaced", "gs_substituted" (replaced by an accepted
  // stand-in), "keyboard_layout", "caps_lock", "characters_changed",
  // "aim_missing", "aim_unexpected", "prefix_added", "suffix_added",
  // "terminator_missing", "terminator_wrong", "terminator_extra".
  std::string code;
  std::string severity;  // "error" (misreads GS1/labels), "warning", "info"
  std::string problem;   // what arrived, in words
  std::string fix;       // what to change on the scanner (or in Tally)
};

struct SelfTestReport {
  bool recognised = false;  // the input is (a possibly damaged) self-test scan
  bool ok = false;          // recognised and no error or warning
  std::vector<SelfTestIssue> issues;
  std::string summary;  // one line for the operator
};

// True when `text` looks like a self-test scan (the SELFTEST and END markers,
// case-insensitive, in the right places), however damaged.
bool is_self_test(std::string_view text);

// Diagnoses one received self-test scan (the bytes as the scanner sent them,
// AIM id and terminator included when present).
SelfTestReport diagnose_self_test(std::string_view received, const SelfTestOptions& options = {});

}  // namespace tally::scanner
