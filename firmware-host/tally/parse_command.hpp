// `tally parse [options] TEXT…`: classifies and parses each scan text
// (labels, GS1 element strings / HRI / Digital Link) and prints it as JSON.
//
// Output: one JSON object per input on its own stdout line, in input order,
// for every input, malformed ones included ({"input","ok":false,"error":{…}},
// see tally/scanner/label_json.hpp). Each malformed input also gets one line
// on stderr:  tally parse: "<input>": <message> [<code>]
// Exit code: 0 all inputs parsed; 2 at least one was malformed (or a usage
// error from the CLI parser). Texts may use the C escapes \x1D (GS), \\ and
// \n with --escapes, since a shell argument cannot easily carry a GS byte.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "tally/scanner/label.hpp"

namespace tally::cli {

struct ParseCommandOptions {
  std::vector<std::string> texts;
  bool escapes = false;  // interpret \xHH and \\ in texts
  scanner::LabelOptions label;
  // --document-prefix: when given, these are the only document prefixes
  // (kind "other"), replacing the per-kind defaults of label.documents.
  std::vector<std::string> document_prefixes;
};

int run_parse_command(const ParseCommandOptions& options, std::ostream& out, std::ostream& err);

// "\x1D" -> byte 0x1D, "\\" -> '\'; anything else is kept.
std::string unescape(const std::string& text);

}  // namespace tally::cli
