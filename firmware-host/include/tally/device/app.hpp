// The tallyd process: builds the io_context and wires config, engine, HTTP
// server, stdin input and signals. main() only calls run().
#pragma once

#include <string>
#include <vector>

namespace tally::device {

// Exit codes: 0 clean stop, 2 bad config, 3 unusable journal, 4 cannot listen.
int run(const std::vector<std::string>& args);

}  // namespace tally::device
