// One Prometheus metric (HELP, TYPE, sample) appended to /metrics text, for
// the parts tallyd adds to the engine's metrics (sync, USB, cameras).
// Private to tally_device.
#pragma once

#include <cstdint>
#include <string>

namespace tally::device {

inline void add_metric(std::string& m, const char* name, const char* type, const char* help, std::uint64_t value) {
  m += std::string("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n' + name + ' ' +
       std::to_string(value) + '\n';
}

}  // namespace tally::device
