// tallyd's local inputs (local_inputs.hpp): how their replies are printed.
#include "local_inputs.hpp"

#include <boost/asio/post.hpp>

namespace tally::device {

std::string describe(const ui::ScanReply& reply) {
  std::string feedback(scanner::to_string(reply.outcome.feedback));
  std::string message = reply.outcome.message;
  if (reply.kind == ui::ScanReply::Kind::self_test) feedback = "self_test";
  if (reply.kind == ui::ScanReply::Kind::failed) {
    feedback = "error";
    message = reply.error ? reply.error->message : std::string();
  }
  std::string line = "[" + feedback + "] " + message;
  if (!reply.recorded.empty()) line += " (seq " + std::to_string(reply.recorded.front().seq) + ")";
  if (!reply.outcome.prompt.empty()) line += " | next: " + reply.outcome.prompt;
  return line;
}

void submit_and_print(asio::io_context& io, ui::DeviceApi& sink, ui::ScanRequest request, std::string prefix) {
  sink.submit_scan(std::move(request), [&io, prefix = std::move(prefix)](ui::ScanReply reply) {
    asio::post(io, [prefix, reply = std::move(reply)] { std::cout << prefix << describe(reply) << std::endl; });
  });
}

}  // namespace tally::device
