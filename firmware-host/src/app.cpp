#include "tally/device/app.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/streambuf.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#ifdef TALLY_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "tally/device/config.hpp"
#include "tally/device/engine.hpp"
#include "tally/ui/http_server.hpp"

namespace tally::device {
namespace {

namespace asio = boost::asio;

void notify_systemd([[maybe_unused]] const char* state) {
#ifdef TALLY_HAVE_SYSTEMD
  sd_notify(0, state);
#endif
}

// One line of terminal output for a scan reply, e.g.
//   [good] Moved 3 x 04006381333931 (seq 7) | next: Scan source bin
std::string describe(const ui::ApiReply& reply) {
  const auto& b = reply.body;
  const auto str = [&b](const char* key) {
    return b.contains(key) && b[key].is_string() ? b[key].get<std::string>() : std::string();
  };
  std::string feedback = str("feedback");
  std::string message = str("message");
  if (message.empty() && b.contains("error") && b["error"].is_object()) {
    message = b["error"].value("message", std::string());
  }
  if (feedback.empty()) feedback = "error";
  std::string line = "[" + feedback + "] " + message;
  if (b.contains("movement") && b["movement"].is_object()) {
    line += " (seq " + std::to_string(b["movement"].value("seq", std::uint64_t{0})) + ")";
  }
  if (const auto prompt = str("prompt"); !prompt.empty()) line += " | next: " + prompt;
  return line;
}

// Reads one scan per line from stdin (a keyboard-wedge scanner types into the
// terminal and ends with Enter). Lines over line_bytes_max are refused whole.
class StdinScans : public std::enable_shared_from_this<StdinScans> {
 public:
  static constexpr std::size_t kLineBytesMax = 4096;

  StdinScans(asio::io_context& io, Engine& engine)
      : io_(io), engine_(engine), in_(io), buffer_(kLineBytesMax + 1) {}

  // Fails for stdin that epoll cannot watch (a regular file).
  std::error_code start() {
    boost::system::error_code ec;
    in_.assign(::dup(STDIN_FILENO), ec);
    if (ec) return ec;
    read_next();
    return {};
  }

  void close() {
    boost::system::error_code ignored;
    in_.close(ignored);
  }

 private:
  void read_next() {
    asio::async_read_until(in_, buffer_, '\n',
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                             self->on_line(ec, n);
                           });
  }

  void on_line(const boost::system::error_code& ec, std::size_t n) {
    if (ec == asio::error::not_found) {  // a line longer than the limit
      std::cout << "[error] scan longer than " << kLineBytesMax << " bytes ignored" << std::endl;
      skipping_ = true;
      buffer_.consume(buffer_.size());
      read_next();
      return;
    }
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        std::cout << "stdin closed; still serving HTTP (Ctrl-C stops)" << std::endl;
      }
      return;
    }
    std::string line(asio::buffers_begin(buffer_.data()),
                     asio::buffers_begin(buffer_.data()) + static_cast<std::ptrdiff_t>(n));
    buffer_.consume(n);
    const bool was_skipping = skipping_;
    skipping_ = false;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty() && !was_skipping) submit(std::move(line));
    read_next();
  }

  void submit(std::string text) {
    ui::ScanRequest request{std::move(text), "", "stdin"};
    engine_.submit_scan(std::move(request), [self = shared_from_this()](ui::ApiReply reply) {
      asio::post(self->io_, [reply = std::move(reply)] { std::cout << describe(reply) << std::endl; });
    });
  }

  asio::io_context& io_;
  Engine& engine_;
  asio::posix::stream_descriptor in_;
  asio::streambuf buffer_;
  bool skipping_ = false;
};

void configure_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("tallyd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace

int run(const std::vector<std::string>& args) {
  auto loaded = load_config(args);
  if (!loaded) {
    std::cerr << "tallyd: " << loaded.error().message << '\n';
    return 2;
  }
  if (loaded->exit_now) {
    std::cout << loaded->output;
    return loaded->exit_code;
  }
  const Config& config = loaded->config;
  configure_logging(config.log_level);

  std::error_code fs_error;
  std::filesystem::create_directories(config.data_dir, fs_error);
  if (fs_error) {
    std::cerr << "tallyd: cannot create data dir " << config.data_dir.string() << ": " << fs_error.message() << '\n';
    return 3;
  }

  EngineOptions engine_options;
  engine_options.session = scanner::SessionOptions{config.device_id, config.site, config.receiving_location};
  engine_options.journal.path = config.journal_path();
  engine_options.journal.device = config.device_id;
  engine_options.journal.site = config.site;
  engine_options.queue_max = config.queue_max;
  engine_options.mqtt_uri = config.mqtt_uri;
  auto engine = Engine::open(engine_options);
  if (!engine) {
    std::cerr << "tallyd: cannot use journal " << config.journal_path().string() << ": "
              << engine.error().message << " [" << engine.error().code << "]\n";
    return 3;
  }

  asio::io_context io{1};
  ui::HttpOptions http_options;
  http_options.host = config.http_host;
  http_options.port = config.http_port;
  ui::HttpServer http(io, **engine, http_options);
  auto endpoint = http.start();
  if (!endpoint) {
    std::cerr << "tallyd: cannot listen on " << config.http_host << ':' << config.http_port << ": "
              << endpoint.error().message << '\n';
    return 4;
  }

  std::shared_ptr<StdinScans> stdin_scans;
  if (config.stdin_scans) {
    stdin_scans = std::make_shared<StdinScans>(io, **engine);
    if (auto ec = stdin_scans->start()) {
      std::cerr << "tallyd: --stdin needs a terminal or a pipe: " << ec.message() << '\n';
      return 2;
    }
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&http, &stdin_scans](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: finishing the in-flight append and stopping", signo);
    notify_systemd("STOPPING=1");
    http.stop();
    if (stdin_scans) stdin_scans->close();
  });

  const auto host = endpoint->address().is_v6() ? "[" + endpoint->address().to_string() + "]"
                                                : endpoint->address().to_string();
  std::cout << "tallyd " << TALLY_VERSION << ": device " << config.device_id << ", site " << config.site
            << ", journal " << config.journal_path().string() << '\n'
            << "listening on http://" << host << ':' << endpoint->port() << std::endl;
  notify_systemd("READY=1");

  io.run();
  (*engine)->stop();  // drains the queue: the in-flight append completes
  spdlog::info("stopped");
  return 0;
}

}  // namespace tally::device
