// Fuzz target: raw bytes as one HTTP connection to tallyd's HTTP server
// (ui::HttpServer: Beast's parser, the limits, the routes, the JSON bodies),
// through one end of a socketpair handed to HttpServer::serve() — no network.
// The device behind it is a stub DeviceApi that answers at once (the seam
// the HTTP layer is written against; the fuzz target is about the HTTP side).
// Invariants: no crash/UB/leak; the server answers or closes, and every
// answer is a well-formed HTTP/1.x response that is never a 500 (a 500
// means an exception escaped a handler).
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "tally/ui/http_server.hpp"

namespace {

class StubDevice final : public tally::ui::DeviceApi {
 public:
  void submit_scan(tally::ui::ScanRequest request, ScanDone done) override {
    TALLY_FUZZ_CHECK(!request.text.empty());
    tally::ui::ScanReply r;  // the scan's text and symbology echoed through the reply's JSON
    r.kind = tally::ui::ScanReply::Kind::accepted;
    r.outcome.feedback = tally::scanner::Feedback::good;
    r.outcome.message = request.text;
    r.outcome.prompt = request.symbology;
    done(std::move(r));
  }
  void status(Reply reply) override { reply({200, {{"device", "hh-1"}}}); }
  void movements(std::uint64_t after, std::size_t limit, Reply reply) override {
    TALLY_FUZZ_CHECK(limit >= 1);
    reply({200, {{"movements", nlohmann::json::array()}, {"next_after", after}}});
  }
  void metrics(std::function<void(std::string)> reply) override { reply("tally_up 1\n"); }
};

struct World {
  boost::asio::io_context io;
  StubDevice device;
  tally::ui::HttpServer server{io, device, [] {
                                 tally::ui::HttpOptions o;
                                 o.body_bytes_max = 4096;
                                 o.frame_bytes_max = 16384;
                                 return o;
                               }()};
};

// Every response in `out` starts with a status line; none is a 500.
void check_responses(const std::string& out) {
  std::size_t at = 0;
  while (at < out.size()) {
    TALLY_FUZZ_CHECK(out.compare(at, 9, "HTTP/1.1 ") == 0 || out.compare(at, 9, "HTTP/1.0 ") == 0);
    TALLY_FUZZ_CHECK(out.compare(at + 9, 3, "500") != 0);
    const auto head_end = out.find("\r\n\r\n", at);
    TALLY_FUZZ_CHECK(head_end != std::string::npos);
    if (out[at + 9] == '1') {  // 100 Continue: no body
      at = head_end + 4;
      continue;
    }
    const auto cl = out.find("Content-Length: ", at);
    TALLY_FUZZ_CHECK(cl != std::string::npos && cl < head_end);
    const std::size_t length = std::stoul(out.substr(cl + 16, 12));
    at = head_end + 4 + length;
  }
  TALLY_FUZZ_CHECK(at == out.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = new World();  // lives for the process (libFuzzer never returns)
  int fds[2];
  TALLY_FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  const int big = 1 << 20;  // the whole input and every answer fit in the buffers
  ::setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  std::size_t sent = 0;
  while (sent < size) {
    const auto n = ::write(fds[1], data + sent, size - sent);
    TALLY_FUZZ_CHECK(n > 0);
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fds[1], SHUT_WR);  // the client is done: EOF after the input

  boost::asio::ip::tcp::socket socket(world->io);
  socket.assign(boost::asio::ip::tcp::v4(), fds[0]);
  world->server.serve(std::move(socket));
  world->io.restart();
  world->io.run();  // until the session has answered and closed

  std::string out;
  char buf[65536];
  for (;;) {
    const auto n = ::read(fds[1], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[1]);
  check_responses(out);
  return 0;
}
