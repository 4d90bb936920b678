#include "usb_config.hpp"

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

Result<UsbScannerSpec> read_usb_selection(const toml::table& e, const std::string& where, UsbScannerKind kind) {
  UsbScannerSpec s;
  s.kind = kind;
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
  return s;
}

}  // namespace tally::device
