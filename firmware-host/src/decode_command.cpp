// `tally decode`; see decode_command.hpp.
#include "tally/device/decode_command.hpp"

#include <nlohmann/json.hpp>
#include <ostream>

#include "tally/device/decode_worker.hpp"
#include "tally/device/image_file.hpp"
#include "tally/scanner/gs1.hpp"

namespace tally::device {

namespace {

// The symbol's GS1 data when it parses (read as a handheld would send it:
// scanner::scan_data), else an error.
Result<scanner::Gs1Data> gs1_of(const scanner::Symbol& s) {
  const scanner::ScanData sd = scanner::scan_data(s);
  const std::string prefixed = sd.aim_id + sd.data;
  const scanner::SymbologyId sid = scanner::split_symbology(prefixed);
  if (!sd.aim_id.empty() && (sid.gs1 || sid.gtin)) return scanner::parse_gs1(prefixed);
  if (scanner::looks_like_digital_link(sd.data)) return scanner::parse_digital_link(sd.data);
  return make_error("none", "no GS1 data");
}

// {"01":"…","10":"…"} when the symbol carries GS1 data that parses, else null.
nlohmann::ordered_json gs1_json(const Result<scanner::Gs1Data>& data) {
  if (!data) return nullptr;
  nlohmann::ordered_json obj = nlohmann::ordered_json::object();
  for (const auto& e : data->elements) {
    if (!obj.contains(e.ai)) obj[e.ai] = e.raw;
  }
  return obj;
}

std::string dump(const nlohmann::ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace); }

std::string printable(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\x1d') {
      out += "<GS>";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

int run_decode_command(const DecodeCommandOptions& options, std::ostream& out, std::ostream& err) {
  DecodeWorker worker;
  int rc = 0;
  for (const std::string& file : options.files) {
    auto bytes = read_file_bytes(file);
    Result<std::vector<scanner::Symbol>> symbols =
        bytes ? worker.decode_image(*bytes, options.decode) : Result<std::vector<scanner::Symbol>>(bytes.error());
    if (!symbols) {
      std::string msg = symbols.error().message;
      if (msg.rfind(file + ": ", 0) == 0) msg.erase(0, file.size() + 2);
      err << "tally decode: " << file << ": " << msg << " [" << symbols.error().code << "]\n";
      rc = 1;
      continue;
    }
    if (symbols->empty()) {
      if (options.json) {
        out << dump({{"file", file}, {"format", nullptr}, {"text", nullptr}, {"aim_id", nullptr}, {"gs1", nullptr},
                     {"position", nullptr}, {"pass", nullptr}})
            << '\n';
      } else {
        out << file << ": (none)\n";
      }
      continue;
    }
    for (const auto& s : *symbols) {
      if (options.json) {
        nlohmann::ordered_json j;
        j["file"] = file;
        j["format"] = s.format;
        j["text"] = s.text;
        j["aim_id"] = s.aim_id;
        const auto gs1 = gs1_of(s);
        j["gs1"] = gs1_json(gs1);
        if (gs1 && !gs1->addon.empty()) j["addon"] = gs1->addon;
        nlohmann::ordered_json corners = nlohmann::ordered_json::array();
        for (const auto& p : s.position) corners.push_back({p.x, p.y});
        j["position"] = std::move(corners);
        j["pass"] = scanner::pass_name(s.pass);
        out << dump(j) << '\n';
      } else {
        out << file << ": " << s.format << ' ' << printable(s.text) << '\n';
      }
    }
  }
  out.flush();
  return rc;
}

}  // namespace tally::device
