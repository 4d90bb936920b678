// Decode worker process; see decode_worker.hpp.
#include "tally/device/decode_worker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tally/device/image_file.hpp"

namespace tally::device {

namespace {

using Clock = std::chrono::steady_clock;

enum Kind : std::uint8_t {
  kFrame = 1,
  kImage = 2,
  kTestCrash = 0xE1,
  kTestHang = 0xE2,
};

// Fixed request header; the payload follows it. It carries every
// DecodeOptions field (put_options / options_of): a field left out would
// silently fall back to its default in the child.
struct RequestHeader {
  std::uint8_t kind = 0;
  std::uint8_t fmt = 0;
  std::uint8_t try_harder_fallback = 0;
  std::uint8_t exhaustive = 0;
  std::int32_t width = 0;
  std::int32_t height = 0;
  std::int32_t stride = 0;
  std::uint32_t formats = 0;
  std::int32_t max_symbols = 0;
  std::int32_t downscale_threshold = 0;
  std::int32_t upscale_fallback_max_pixels = 0;
  std::int32_t upscale_matrix_max_pixels = 0;
};

void put_options(RequestHeader& h, const scanner::DecodeOptions& o) {
  h.formats = o.formats;
  h.try_harder_fallback = o.try_harder_fallback ? 1 : 0;
  h.exhaustive = o.exhaustive ? 1 : 0;
  h.max_symbols = o.max_symbols;
  h.downscale_threshold = o.downscale_threshold;
  h.upscale_fallback_max_pixels = o.upscale_fallback_max_pixels;
  h.upscale_matrix_max_pixels = o.upscale_matrix_max_pixels;
}

scanner::DecodeOptions options_of(const RequestHeader& h) {
  scanner::DecodeOptions o;
  o.formats = h.formats;
  o.try_harder_fallback = h.try_harder_fallback != 0;
  o.exhaustive = h.exhaustive != 0;
  o.max_symbols = h.max_symbols;
  o.downscale_threshold = h.downscale_threshold;
  o.upscale_fallback_max_pixels = h.upscale_fallback_max_pixels;
  o.upscale_matrix_max_pixels = h.upscale_matrix_max_pixels;
  return o;
}

constexpr std::uint32_t kMaxResponseBytes = 16u * 1024 * 1024;

// ---- byte buffers -------------------------------------------------------

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}
void put_str(std::vector<std::uint8_t>& out, const std::string& s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

struct Reader {
  const std::uint8_t* p;
  std::size_t left;
  bool ok = true;
  std::uint32_t u32() {
    std::uint32_t v = 0;
    if (left < sizeof v) {
      ok = false;
      return 0;
    }
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    left -= sizeof v;
    return v;
  }
  std::string str() {
    const std::uint32_t n = u32();
    if (!ok || n > left) {
      ok = false;
      return {};
    }
    std::string s(reinterpret_cast<const char*>(p), n);
    p += n;
    left -= n;
    return s;
  }
};

// ---- fd I/O -------------------------------------------------------------

// Blocking full write/read (child side). False on EOF or error.
bool write_all(int fd, const std::uint8_t* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}
bool read_all(int fd, std::uint8_t* data, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, data, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    data += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

enum class IoResult { ok, closed, timeout };

// Parent side: like write_all/read_all but gives up at the deadline.
IoResult io_until(int fd, std::uint8_t* data, std::size_t n, bool writing, Clock::time_point deadline) {
  while (n > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return IoResult::timeout;
    pollfd p{fd, static_cast<short>(writing ? POLLOUT : POLLIN), 0};
    const int pr = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 60'000)));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) return IoResult::closed;
    if (pr == 0) continue;  // re-check the deadline
    const ssize_t r = writing ? ::send(fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT) : ::recv(fd, data, n, MSG_DONTWAIT);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) return IoResult::closed;
    data += r;
    n -= static_cast<std::size_t>(r);
  }
  return IoResult::ok;
}

// ---- the child ----------------------------------------------------------

std::vector<std::uint8_t> encode_result(const Result<std::vector<scanner::Symbol>>& r) {
  std::vector<std::uint8_t> body;
  body.push_back(r.ok() ? 0 : 1);
  if (r.ok()) {
    put_u32(body, static_cast<std::uint32_t>(r->size()));
    for (const auto& s : *r) {
      put_str(body, s.format);
      put_str(body, s.text);
      put_str(body, s.aim_id);
      for (const auto& pt : s.position) {
        put_u32(body, static_cast<std::uint32_t>(pt.x));
        put_u32(body, static_cast<std::uint32_t>(pt.y));
      }
      put_u32(body, static_cast<std::uint32_t>(s.pass));
    }
  } else {
    put_str(body, r.error().code);
    put_str(body, r.error().message);
  }
  return body;
}

Result<std::vector<scanner::Symbol>> serve_one(const RequestHeader& h, std::span<const std::uint8_t> payload,
                                               bool test_hooks) {
  const scanner::DecodeOptions opt = options_of(h);
  switch (h.kind) {
    case kFrame: {
      scanner::Frame f{payload.data(), h.width, h.height, h.stride, static_cast<scanner::PixelFormat>(h.fmt)};
      if (auto ok = scanner::validate_frame(f); !ok) return ok.error();
      if (scanner::frame_span(f) > payload.size()) return make_error("bad_frame", "frame data shorter than its size");
      return scanner::decode(f, opt);
    }
    case kImage: {
      auto img = device::decode_image(payload);
      if (!img) return img.error();
      return scanner::decode(img->frame(), opt);
    }
    case kTestCrash:
      if (test_hooks) std::abort();
      break;
    case kTestHang:
      if (test_hooks) {
        for (;;) ::pause();
      }
      break;
    default:
      break;
  }
  return make_error("worker_error", "unknown request kind");
}

[[noreturn]] void child_main(int fd, std::size_t max_request, bool test_hooks) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::signal(SIGINT, SIG_IGN);  // the parent decides when the worker ends
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGTERM, SIG_DFL);
  std::vector<std::uint8_t> buf;
  for (;;) {
    std::uint32_t len = 0;
    if (!read_all(fd, reinterpret_cast<std::uint8_t*>(&len), sizeof len)) ::_exit(0);
    if (len < sizeof(RequestHeader) || len > max_request + sizeof(RequestHeader)) ::_exit(3);
    buf.resize(len);
    if (!read_all(fd, buf.data(), len)) ::_exit(0);
    RequestHeader h;
    std::memcpy(&h, buf.data(), sizeof h);
    const auto result = serve_one(h, std::span(buf).subspan(sizeof h), test_hooks);
    std::vector<std::uint8_t> body = encode_result(result);
    std::uint32_t out_len = static_cast<std::uint32_t>(body.size());
    if (!write_all(fd, reinterpret_cast<const std::uint8_t*>(&out_len), sizeof out_len) ||
        !write_all(fd, body.data(), body.size())) {
      ::_exit(0);
    }
  }
}

std::string describe_status(int st) {
  if (WIFSIGNALED(st)) {
    const int sig = WTERMSIG(st);
    const char* name = sigabbrev_np(sig);
    return "signal " + std::to_string(sig) + (name ? std::string(" SIG") + name : std::string());
  }
  if (WIFEXITED(st)) return "exit code " + std::to_string(WEXITSTATUS(st));
  return "unknown status";
}

}  // namespace

DecodeWorker::DecodeWorker(DecodeWorkerOptions options) : options_(options) { start(); }

DecodeWorker::~DecodeWorker() {
  std::lock_guard lock(mutex_);
  stop();
}

bool DecodeWorker::start() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return false;
  }
  if (pid == 0) {
    ::close(sv[0]);
    child_main(sv[1], options_.max_request_bytes, options_.test_hooks);
  }
  ::close(sv[1]);
  if (started_once_) ++restarts_;
  started_once_ = true;
  pid_ = pid;
  fd_ = sv[0];
  return true;
}

void DecodeWorker::stop() {
  if (fd_ >= 0) ::close(fd_);  // the child sees EOF and exits
  fd_ = -1;
  if (pid_ > 0) {
    int st = 0;
    // Give it a moment to leave on its own, then make sure.
    for (int i = 0; i < 50 && ::waitpid(pid_, &st, WNOHANG) == 0; ++i) ::usleep(2000);
    if (::waitpid(pid_, &st, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
  }
  pid_ = -1;
}

std::string DecodeWorker::reap_and_restart(bool kill_first) {
  std::string how = "unknown status";
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (pid_ > 0) {
    if (kill_first) ::kill(pid_, SIGKILL);
    int st = 0;
    if (::waitpid(pid_, &st, 0) == pid_) how = describe_status(st);
  }
  pid_ = -1;
  start();
  return how;
}

pid_t DecodeWorker::pid() const {
  std::lock_guard lock(mutex_);
  return pid_;
}
int DecodeWorker::restarts() const {
  std::lock_guard lock(mutex_);
  return restarts_;
}

Result<std::vector<scanner::Symbol>> DecodeWorker::decode(const scanner::Frame& frame,
                                                          const scanner::DecodeOptions& options) {
  if (auto ok = scanner::validate_frame(frame); !ok) return ok.error();
  const std::size_t span = scanner::frame_span(frame);
  return request(kFrame, &frame, std::span(frame.data, span), options);
}

Result<std::vector<scanner::Symbol>> DecodeWorker::decode_image(std::span<const std::uint8_t> encoded,
                                                                const scanner::DecodeOptions& options) {
  return request(kImage, nullptr, encoded, options);
}

Result<std::vector<scanner::Symbol>> DecodeWorker::test_crash() { return request(kTestCrash, nullptr, {}, {}); }
Result<std::vector<scanner::Symbol>> DecodeWorker::test_hang() { return request(kTestHang, nullptr, {}, {}); }

Result<std::vector<scanner::Symbol>> DecodeWorker::request(std::uint8_t kind, const scanner::Frame* frame,
                                                           std::span<const std::uint8_t> payload,
                                                           const scanner::DecodeOptions& options) {
  if (payload.size() > options_.max_request_bytes) {
    return make_error("frame_too_large", "frame of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                                             std::to_string(options_.max_request_bytes));
  }
  std::lock_guard lock(mutex_);
  if (fd_ < 0 && !start()) return make_error("worker_error", "cannot start the decode worker process");

  RequestHeader h;
  h.kind = kind;
  if (frame != nullptr) {
    h.fmt = static_cast<std::uint8_t>(frame->fmt);
    h.width = frame->width;
    h.height = frame->height;
    h.stride = frame->stride;
  }
  put_options(h, options);
  std::uint8_t head[sizeof(std::uint32_t) + sizeof h];
  const auto len = static_cast<std::uint32_t>(sizeof h + payload.size());
  std::memcpy(head, &len, sizeof len);
  std::memcpy(head + sizeof len, &h, sizeof h);

  const auto deadline = Clock::now() + options_.timeout;
  auto fail = [&](IoResult r) -> Result<std::vector<scanner::Symbol>> {
    if (r == IoResult::timeout) {
      reap_and_restart(true);
      return make_error("decode_timeout", "decoder took longer than " + std::to_string(options_.timeout.count()) +
                                              " ms on this frame; worker restarted");
    }
    const std::string how = reap_and_restart(false);
    return make_error("decoder_crashed", "decoder crashed on this frame (" + how + "); worker restarted");
  };
  // The payload is sent in place (no copy); const_cast only because io_until
  // shares one signature for both directions and does not write to it.
  if (auto r = io_until(fd_, head, sizeof head, true, deadline); r != IoResult::ok) return fail(r);
  if (!payload.empty()) {
    if (auto r = io_until(fd_, const_cast<std::uint8_t*>(payload.data()), payload.size(), true, deadline);
        r != IoResult::ok) {
      return fail(r);
    }
  }
  std::uint32_t rlen = 0;
  if (auto r = io_until(fd_, reinterpret_cast<std::uint8_t*>(&rlen), sizeof rlen, false, deadline); r != IoResult::ok) {
    return fail(r);
  }
  if (rlen == 0 || rlen > kMaxResponseBytes) {
    reap_and_restart(true);
    return make_error("worker_error", "decode worker sent a malformed answer; worker restarted");
  }
  std::vector<std::uint8_t> body(rlen);
  if (auto r = io_until(fd_, body.data(), body.size(), false, deadline); r != IoResult::ok) return fail(r);

  Reader rd{body.data() + 1, body.size() - 1};
  if (body[0] != 0) {
    Error e;
    e.code = rd.str();
    e.message = rd.str();
    if (!rd.ok) return make_error("worker_error", "decode worker sent a malformed error");
    return e;
  }
  std::vector<scanner::Symbol> symbols;
  const std::uint32_t n = rd.u32();
  for (std::uint32_t i = 0; rd.ok && i < n; ++i) {
    scanner::Symbol s;
    s.format = rd.str();
    s.text = rd.str();
    s.aim_id = rd.str();
    for (auto& pt : s.position) {
      pt.x = static_cast<int>(rd.u32());
      pt.y = static_cast<int>(rd.u32());
    }
    const std::uint32_t pass = rd.u32();
    if (pass > static_cast<std::uint32_t>(scanner::DecodePass::upscale)) rd.ok = false;
    s.pass = static_cast<scanner::DecodePass>(pass);
    symbols.push_back(std::move(s));
  }
  if (!rd.ok) {
    reap_and_restart(true);
    return make_error("worker_error", "decode worker sent a malformed answer; worker restarted");
  }
  return symbols;
}

}  // namespace tally::device
