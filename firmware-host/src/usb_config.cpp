#include "usb_config.hpp"

#include <algorithm>
#include <string>

namespace tally::device {
namespace {

Error bad(std::string message) { return make_error("bad_config", std::move(message)); }

template <typename T>
Result<void> read_int(const toml::table& e, const std::string& where, const char* key, std::int64_t max,
                      std::optional<T>& out) {
  const auto node = e[key];
  if (!node) return {};
  const auto* i = node.as_integer();
  const std::optional<std::int64_t> v = i != nullptr ? std::optional<std::int64_t>(i->get()) : std::nullopt;
  if (!v || *v < 0 || *v > max) {
    return bad(where + "." + key + " must be an integer 0.." + std::to_string(max) + " (e.g. 0x0c2e)");
  }
  out = static_cast<T>(*v);
  return {};
}

}  // namespace

bool is_usb_scanner_type(std::string_view type) { return type == "hid-pos" || type == "keyboard"; }

Result<UsbScannerSpec> read_usb_scanner(const toml::table& e, const std::string& where) {
  static constexpr std::string_view kKeys[] = {"type",  "name",  "vid", "pid", "interface_class", "interface_subclass",
                                               "interface_protocol", "usage_page", "detach_kernel_driver", "layout"};
  for (const auto& [k, v] : e) {
    if (std::find(std::begin(kKeys), std::end(kKeys), k.str()) == std::end(kKeys)) {
      return bad("unknown config key " + where + "." + std::string(k.str()) +
                 " (USB scanners take name, vid, pid, interface_class, interface_subclass, interface_protocol, "
                 "usage_page, detach_kernel_driver, layout)");
    }
  }
  UsbScannerSpec s;
  const std::string type = e["type"].value_or(std::string());
  s.kind = type == "keyboard" ? UsbScannerKind::keyboard : UsbScannerKind::hid_pos;
  if (const auto node = e["name"]; node) {
    const auto v = node.value<std::string>();
    if (!v || v->empty() || v->size() > 64) return bad(where + ".name must be a string of 1-64 characters");
    s.name = *v;
  } else {
    s.name = type;
  }
  for (auto r : {read_int(e, where, "vid", 0xFFFF, s.vid), read_int(e, where, "pid", 0xFFFF, s.pid),
                 read_int(e, where, "interface_class", 0xFF, s.interface_class),
                 read_int(e, where, "interface_subclass", 0xFF, s.interface_subclass),
                 read_int(e, where, "interface_protocol", 0xFF, s.interface_protocol),
                 read_int(e, where, "usage_page", 0xFFFF, s.usage_page)}) {
    if (!r) return r.error();
  }
  if (s.pid && !s.vid) return bad(where + ".pid needs " + where + ".vid");
  if (const auto node = e["detach_kernel_driver"]; node) {
    const auto* v = node.as_boolean();  // value<bool>() would take 1 as true
    if (v == nullptr) return bad(where + ".detach_kernel_driver must be true or false");
    s.detach_kernel_driver = v->get();
  }
  if (const auto node = e["layout"]; node) {
    const auto v = node.value<std::string>();
    if (!v || v->empty()) return bad(where + ".layout must be a keyboard layout name such as \"us\" or \"de\"");
    if (s.kind != UsbScannerKind::keyboard) return bad(where + ".layout applies to type \"keyboard\" only");
    s.layout = *v;
  }
  return s;
}

Result<void> read_usb_scanners(const toml::table& root, std::vector<UsbScannerSpec>& out) {
  const auto node = root["scanner"];
  if (!node) return {};
  const auto* list = node.as_array();
  if (list == nullptr) return bad("config key scanner must be an array of tables: [[scanner]]");
  std::vector<UsbScannerSpec> specs;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string where = "scanner[" + std::to_string(i) + "]";
    const auto* entry = (*list)[i].as_table();
    if (entry == nullptr) return bad(where + " must be a table");
    const auto type = (*entry)["type"].value<std::string>();
    if (!type) return bad(where + ".type is required (\"hid-pos\", \"keyboard\" or \"serial\")");
    if (*type == "serial") continue;  // read by the serial scanner's own reader
    if (!is_usb_scanner_type(*type)) {
      return bad(where + ".type '" + *type + "' must be \"hid-pos\", \"keyboard\" or \"serial\"");
    }
    auto spec = read_usb_scanner(*entry, where);
    if (!spec) return spec.error();
    specs.push_back(std::move(*spec));
  }
  out = std::move(specs);
  return {};
}

}  // namespace tally::device
