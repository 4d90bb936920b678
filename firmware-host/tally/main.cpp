// tally — the command-line tool: `tally parse TEXT…`, `tally decode IMAGE…`
// `tally labels …`
// (more subcommands register the same way). Thin: each subcommand's
// work lives in its own translation unit.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#include "parse_command.hpp"
#include "tally/device/decode_command.hpp"
#include "tally/device/labels.hpp"

namespace {

void add_parse(CLI::App& app, tally::cli::ParseCommandOptions& o, int& rc) {
  auto* cmd = app.add_subcommand("parse", "classify and parse scans (labels, GS1, Digital Link) and print JSON");
  cmd->add_option("text", o.texts, "scan texts")->required();
  cmd->add_flag("-e,--escapes", o.escapes, "interpret \\xHH (e.g. \\x1D for GS) and \\\\ in TEXT");
  cmd->add_option("--gs-substitute", o.label.gs1.gs_substitutes,
                  "typed stand-in for GS (repeatable; replaces the defaults <GS> {GS} ^] |)");
  cmd->add_option("--unknown-ai", o.label.gs1.unknown_ai, "unknown GS1 AIs: warn (default) or error")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, tally::scanner::UnknownAiPolicy>{{"warn", tally::scanner::UnknownAiPolicy::warn},
                                                                  {"error", tally::scanner::UnknownAiPolicy::error}}));
  cmd->add_option("--reference-year", o.label.gs1.reference_year,
                  "year for the GS1 two-digit-year window (default: this year)");
  cmd->add_option("--bin-regex", o.label.bin_regex, "site bin grammar (ECMAScript regex, full match)");
  cmd->add_option("--document-prefix", o.document_prefixes,
                  "document label prefix (repeatable; replaces PO: ASN: ORD: TASK:)");
  cmd->callback([&o, &rc] { rc = tally::cli::run_parse_command(o, std::cout, std::cerr); });
}

// `tally decode` (firmware-host/src/decode_command.cpp owns the behaviour).
void add_decode(CLI::App& app, tally::device::DecodeCommandOptions& o, int& rc) {
  auto* cmd = app.add_subcommand("decode", "decode barcodes in PNG/JPEG files as tallyd would");
  cmd->add_option("image", o.files, "image files")->required();
  cmd->add_flag("--json", o.json, "one JSON object per symbol per line");
  cmd->add_flag_callback(
      "--no-fallback", [&o] { o.decode.try_harder_fallback = false; }, "skip the slow (try-harder) pass");
  cmd->add_flag_callback(
      "--exhaustive", [&o] { o.decode.exhaustive = true; },
      "always run the slow pass too (finds linear codes away from the middle rows)");
  cmd->add_option_function<std::string>(
      "--formats",
      [&o](const std::string& v) {
        auto set = tally::scanner::parse_symbologies(v);
        if (!set) throw CLI::ValidationError("--formats", set.error().message);
        o.decode.formats = *set;
      },
      "symbologies to look for, e.g. EAN-13,Code128,QRCode (default: the warehouse set)");
  cmd->callback([&o, &rc] { rc = tally::device::run_decode_command(o, std::cout, std::cerr); });
}

// `tally labels` (firmware-host/src/labels.cpp owns the behaviour).
void add_labels(CLI::App& app, tally::device::LabelsCommandOptions& o, int& rc) {
  auto* cmd = app.add_subcommand("labels", "print bin labels, badges, a command sheet and the scanner self-test (PNG, SVG)");
  cmd->add_option("-o,--out", o.out_dir, "output directory (created if missing)")->required();
  cmd->add_option("--bin", o.bins, "bin/location code to print (repeatable)");
  cmd->add_option("--badge", o.badges, "operator id to print a badge OP:<id> for (repeatable)");
  cmd->add_flag("--commands", o.commands, "print the command sheet (every CMD: verb, quantities, reasons)");
  cmd->add_option("--qty", o.quantities, "quantities on the command sheet (default 1..10)")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--reason", o.reasons, "reason codes on the command sheet (default: common ones)")->delimiter(',');
  cmd->add_flag("--self-test", o.self_test, "print the scanner self-test label");
  cmd->add_flag_callback("--no-png", [&o] { o.png = false; }, "SVG only");
  cmd->add_flag_callback("--no-svg", [&o] { o.svg = false; }, "PNG only");
  cmd->add_option("--module-px", o.render.module_px, "pixels per module (default 3)")->check(CLI::Range(1, 20));
  cmd->callback([&o, &rc] { rc = tally::device::run_labels_command(o, std::cout, std::cerr); });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tally: Tally command-line tools"};
  app.require_subcommand(1);
  int rc = 0;
  tally::cli::ParseCommandOptions parse;
  add_parse(app, parse, rc);
  tally::device::DecodeCommandOptions decode;
  add_decode(app, decode, rc);
  tally::device::LabelsCommandOptions labels;
  add_labels(app, labels, rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return rc;
}
