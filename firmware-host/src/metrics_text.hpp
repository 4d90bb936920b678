// One Prometheus metric (HELP, TYPE, sample) appended to /metrics text: the
// one writer of tallyd's metrics (the engine's, and what sync, USB and
// cameras add). Private to tally_device.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

namespace tally::device {

inline void add_metric(std::string& m, const char* name, const char* type, const char* help, std::uint64_t value) {
  m += std::string("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n' + name + ' ' +
       std::to_string(value) + '\n';
}

// A sample that is not a whole number (seconds).
inline void add_metric(std::string& m, const char* name, const char* type, const char* help, double value) {
  std::ostringstream v;
  v << value;
  m += std::string("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n' + name + ' ' + v.str() +
       '\n';
}

}  // namespace tally::device
