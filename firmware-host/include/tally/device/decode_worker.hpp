// DecodeWorker: runs scanner::decode() (and PNG/JPEG decoding) in a child
// process so that a frame that crashes the decoder cannot take the caller
// down. Debian's ZXing-cpp 1.4.0 is built with assertions on and abort()s on
// some frames (upstream zxing-cpp issue 740); scanner::decode() avoids the
// combinations known to do that, and this class contains whatever remains.
//
// Process model: the constructor fork()s a child (no exec) connected by a
// socketpair; create the worker early, before the process starts threads
// (the child only uses malloc, ZXing and stb, which are fork-safe with
// glibc, but a fork from a threaded parent is best kept rare). The child
// serves one request at a time and dies with the parent (PR_SET_PDEATHSIG).
//
// Protocol (both ends are the same binary, host byte order): each message is
// a u32 body length then the body. Request body: a fixed header (kind,
// pixel format, width, height, stride, decode options) then the payload
// (frame bytes, or encoded PNG/JPEG bytes). Response body: u8 status, then
// the symbols (u32 count; per symbol three u32-length-prefixed strings and
// 8 i32 corner coordinates) or an error (two strings: code, message).
// Requests over max_request_bytes are refused before anything is sent.
//
// Failure handling: if the child dies while working on a request, the
// request is answered with error "decoder_crashed" ("decoder crashed on this
// frame (signal 6)") and a fresh child is started at once; if it does not
// answer within `timeout`, it is killed, restarted, and the request answered
// with "decode_timeout". The next request is served by the new child.
//
// Thread-safety: requests are serialised by an internal mutex.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "tally/scanner/decode.hpp"
#include "tally/scanner/result.hpp"

namespace tally::device {

struct DecodeWorkerOptions {
  // Longest a request may take (transfer + decode). Default 5 s: the slow
  // pass on a 1280x720 frame takes well under 1 s on a 2-core handheld.
  std::chrono::milliseconds timeout{5000};
  // Largest request payload in bytes (frame or encoded image). Default
  // 32 MiB (a 4096x4096 YUYV frame).
  std::size_t max_request_bytes = 32u * 1024 * 1024;
  // TEST SEAM: when true, the child honours the test-only requests of
  // test_crash() and test_hang(). Off in production; nothing but tests
  // (tests/unit/firmware-host/decode_worker_test.cpp) sets it.
  bool test_hooks = false;
};

// A frame captured from a camera, owned: tight 8-bit grey pixels
// (width * height bytes), or the JPEG bytes of an MJPEG frame.
struct CapturedFrame {
  bool jpeg = false;
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> bytes;
};

class DecodeWorker {
 public:
  explicit DecodeWorker(DecodeWorkerOptions options = {});
  ~DecodeWorker();
  DecodeWorker(const DecodeWorker&) = delete;
  DecodeWorker& operator=(const DecodeWorker&) = delete;

  // scanner::decode() in the child. Error codes: those of scanner::decode(),
  // "frame_too_large", "decoder_crashed", "decode_timeout", "worker_error"
  // (the child could not be started or spoke garbage).
  Result<std::vector<scanner::Symbol>> decode(const scanner::Frame& frame, const scanner::DecodeOptions& options = {});

  // PNG/JPEG bytes decoded to grey and scanner::decode()d, both in the
  // child. Extra error codes: those of device::decode_image().
  Result<std::vector<scanner::Symbol>> decode_image(std::span<const std::uint8_t> encoded,
                                                    const scanner::DecodeOptions& options = {});

  // TEST SEAM (needs options.test_hooks): the child calls abort() /
  // sleeps forever on this request, as a crashing / hanging frame would.
  Result<std::vector<scanner::Symbol>> test_crash();
  Result<std::vector<scanner::Symbol>> test_hang();

  pid_t pid() const;       // the current child's pid (-1 if none)
  int restarts() const;    // children started after the first one

 private:
  Result<std::vector<scanner::Symbol>> request(std::uint8_t kind, const scanner::Frame* frame,
                                               std::span<const std::uint8_t> payload,
                                               const scanner::DecodeOptions& options);
  bool start();
  void stop();
  // Reaps the child after a failure and starts a new one; returns how it ended.
  std::string reap_and_restart(bool kill_first);

  DecodeWorkerOptions options_;
  mutable std::mutex mutex_;
  pid_t pid_ = -1;
  int fd_ = -1;
  int restarts_ = 0;
  bool started_once_ = false;
};

}  // namespace tally::device
