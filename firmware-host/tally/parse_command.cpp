#include "parse_command.hpp"

#include <ostream>

#include <nlohmann/json.hpp>

#include "tally/scanner/label_json.hpp"

namespace tally::cli {

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 64)) out.push_back(c >= ' ' && c <= '~' ? c : '?');
  if (s.size() > 64) out += "...";
  return out;
}

}  // namespace

std::string unescape(const std::string& t) {
  std::string out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\\' && i + 1 < t.size() && t[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (t[i] == '\\' && i + 3 < t.size() && t[i + 1] == 'x' && hex(t[i + 2]) >= 0 && hex(t[i + 3]) >= 0) {
      out.push_back(static_cast<char>(hex(t[i + 2]) * 16 + hex(t[i + 3])));
      i += 3;
    } else {
      out.push_back(t[i]);
    }
  }
  return out;
}

int run_parse_command(const ParseCommandOptions& o, std::ostream& out, std::ostream& err) {
  int rc = 0;
  scanner::LabelOptions site = o.label;
  if (!o.document_prefixes.empty()) site.documents = {{}, {}, {}, {}, o.document_prefixes};
  for (const auto& given : o.texts) {
    const std::string text = o.escapes ? unescape(given) : given;
    const auto label = scanner::classify(text, site);
    out << scanner::to_json(text, label).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    if (!label.ok()) {
      err << "tally parse: \"" << printable(text) << "\": " << label.error().message << " [" << label.error().code
          << "]\n";
      rc = 2;
    }
  }
  out.flush();
  return rc;
}

}  // namespace tally::cli
