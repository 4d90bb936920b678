// `tally decode [--json] [--formats LIST] [--no-fallback] IMAGE…`: decodes
// PNG/JPEG files and prints what was found.
//
// Each file is decoded in a DecodeWorker child process, so a file that
// crashes the decoder yields an error line and the run goes on.
//
// Output (stdout), one line per symbol, in file order:
//   --json: {"file":F,"format":"EAN-13","text":T,"aim_id":"]E0","gs1":{"01":"…"}|null}
//           a file where nothing was found: {"file":F,"format":null,"text":null,"aim_id":null,"gs1":null}
//   text:   F: FORMAT TEXT   (GS 0x1D shown as <GS>; "F: (none)" when nothing was found)
// "text" is the decoder's text unchanged (GS1 separators are the byte 0x1D,
// escaped \u001d in JSON). "gs1" maps each AI to its raw data when the
// symbol carries GS1 data (a GS1 symbology identifier such as ]C1/]d2/]Q3,
// an EAN/UPC/ITF GTIN, or a GS1 Digital Link URI) that parses, read as a
// handheld would send it (scanner::scan_data: a UPC-E's GTIN is its UPC-A's,
// a DataBar's 14 digits are AI 01); else null. "addon": the EAN/UPC add-on's
// 2 or 5 digits, only when the symbol has one.
// A file that cannot be read or decoded gets one line on stderr:
//   tally decode: F: <message> [<code>]
// and the run continues.
//
// Exit code: 0 every file was read (whether or not symbols were found);
// 1 at least one file could not be read/decoded (missing, not an image,
// decoder crash or timeout); 2 usage error (from the CLI parser).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "tally/scanner/decode.hpp"

namespace tally::device {

struct DecodeCommandOptions {
  std::vector<std::string> files;
  bool json = false;
  scanner::DecodeOptions decode;
};

int run_decode_command(const DecodeCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace tally::device
