// The log both daemons write: spdlog to stderr (journald keeps it under
// systemd), named after the program, at --log-level.
#pragma once

#include <string>

namespace tally::service {

// `level`: trace, debug, info, warn, error, critical or off (the config
// loaders check it).
void configure_logging(const std::string& program, const std::string& level);

}  // namespace tally::service
