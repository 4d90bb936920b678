// The start of both daemons' run(), after their loader (command_line.hpp):
//
//   const auto loaded = load_config(args);
//   if (auto code = service::start("tallyd", loaded)) return *code;
//
// Header-only; the includer links tally::scanner (Result) and tally::service.
#pragma once

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>

#include "tally/scanner/result.hpp"
#include "tally/service/logging.hpp"

namespace tally::service {

// What both daemons do first with their loaded configuration: a bad command
// line or file is said on stderr (exit 2), --help or --version printed
// (their exit code); else the log is set up (log_level) and the data folder
// created (exit 3 when it cannot be). nullopt: go on.
template <typename Load>
std::optional<int> start(const std::string& program, const Result<Load>& loaded) {
  if (!loaded) {
    std::cerr << program << ": " << loaded.error().message << '\n';
    return 2;
  }
  if (loaded->exit_now) {
    std::cout << loaded->output;
    return loaded->exit_code;
  }
  configure_logging(program, loaded->config.log_level);
  std::error_code ec;
  std::filesystem::create_directories(loaded->config.data_dir, ec);
  if (ec) {
    std::cerr << program << ": cannot create data dir " << loaded->config.data_dir.string() << ": " << ec.message()
              << '\n';
    return 3;
  }
  return std::nullopt;
}

}  // namespace tally::service
