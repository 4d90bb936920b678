// Camera scanners (type = "camera" in [[scanner]]; docs/HARDWARE.md
// "Camera scanners"): a V4L2 capture device streaming grey, YUYV or MJPEG
// frames through mmap buffers, read on the caller's io_context.
//
// Threads: the slow part of opening (open, S_FMT, REQBUFS, mmap, STREAMON;
// a UVC camera talks USB there) and closing run on one setup thread of the
// scanner's own; everything else on the io_context's thread, woken only by
// the device fd becoming readable (a buffer done, or an error). There the
// only ioctls are the non-blocking DQBUF and QBUF (O_NONBLOCK fd). A frame
// is copied out of its buffer (to tight grey: camera_luma) and the buffer
// queued again at once; the copy goes to `decode` (Engine::decode_frame:
// the DecodeWorker child, on the engine's frame thread), one frame at a
// time — frames done meanwhile are queued back undecoded, so a slow decode
// never builds a backlog and the next decode gets a fresh frame.
//
// Modes: "continuous" decodes frames all the time; "trigger" only from
// trigger() (or a key press on the `trigger` evdev node) until a frame
// yields a code or trigger_timeout_ms pass. In both, a code seen again
// within repeat_ms of the last frame it was seen in is not a new scan (an
// item left under the camera scans once).
//
// The device going away (DQBUF fails: ENODEV when unplugged) closes it and
// opens it again from a timer with doubling backoff (reopen_min_ms ..
// reopen_max_ms), like SerialScanner.
//
// The kernel interface is reached only through V4l2Io (the few syscalls
// used), so tests can drive the real code with a driver that behaves like
// the kernel's buffer queue: umockdev cannot emulate V4L2 streaming (its
// preload library does not intercept mmap), and the test machine has no
// camera and no v4l2loopback.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "tally/device/config.hpp"
#include "tally/device/reopen_backoff.hpp"
#include "tally/device/decode_worker.hpp"
#include "tally/device/hid_decoders.hpp"
#include "tally/scanner/result.hpp"

namespace tally::device {

// SEAM: the syscalls CameraScanner makes on a V4L2 device, each returning
// what the syscall returns (-1 / MAP_FAILED with errno set). system_v4l2()
// is the real one; tests put a kernel-like buffer queue behind it
// (tests/unit/firmware-host/v4l2_test_device.hpp). Called from the setup
// thread and the io_context's thread: implementations must be thread-safe.
class V4l2Io {
 public:
  virtual ~V4l2Io() = default;
  virtual int open(const std::string& path) = 0;  // O_RDWR | O_NONBLOCK | O_CLOEXEC
  virtual int close(int fd) = 0;
  virtual int ioctl(int fd, unsigned long request, void* arg) = 0;
  virtual void* mmap(int fd, std::size_t length, off_t offset) = 0;  // PROT_READ|PROT_WRITE, MAP_SHARED
  virtual int munmap(void* addr, std::size_t length) = 0;
};
V4l2Io& system_v4l2();

// The V4L2 fourcc of a config format ("grey", "yuyv", "mjpeg"); 0 if unknown.
std::uint32_t camera_fourcc(const std::string& format);

// A captured buffer's luminance as tight 8-bit grey (width * height bytes):
// grey rows copied without their padding, YUYV reduced to its Y bytes.
// `stride` is the driver's bytesperline. Error "bad_frame" when the buffer
// holds fewer than stride * (height - 1) + row bytes (a short or truncated
// frame), the size is not positive, the stride is smaller than a row, or
// a YUYV width is odd.
Result<std::vector<std::uint8_t>> camera_luma(const std::uint8_t* data, std::size_t bytes_used,
                                              scanner::PixelFormat fmt, int width, int height, int stride);

class CameraScanner : public std::enable_shared_from_this<CameraScanner> {
 public:
  using DecodeDone = std::function<void(Result<std::vector<scanner::Symbol>>)>;
  // Queues a frame for decoding off the io_context thread; false (done not
  // called) when it cannot take one now. `done` may run on any thread.
  using Decode = std::function<bool(CapturedFrame, DecodeDone)>;

  struct Events {
    std::function<void(DecodedScan)> scan;      // a new code (not a repeat)
    std::function<void(std::string)> status;    // "open …", "lost …; retrying", "no code …"
    std::function<void(std::string)> refused;   // a frame that could not be decoded
  };

  struct Stats {
    std::uint64_t frames = 0;      // buffers dequeued
    std::uint64_t skipped = 0;     // queued back undecoded (not wanted, or a decode in flight)
    std::uint64_t decoded = 0;     // decodes answered (with or without codes)
    std::uint64_t empty = 0;       // of those, frames with no code
    std::uint64_t scans = 0;       // codes passed on as scans
    std::uint64_t repeats = 0;     // codes suppressed as repeats
    std::uint64_t errors = 0;      // bad frames, decode errors, frames the decoder could not take
    std::uint64_t opens = 0;       // successful opens
    std::uint64_t losses = 0;      // streams lost (unplug, I/O error)
    std::uint64_t triggers = 0;
    std::uint64_t trigger_timeouts = 0;
    bool streaming = false;
    bool triggered = false;        // a trigger window is open
  };

  // REQUIRES: config.type == "camera" (load_config validated it). `io`
  // must outlive the scanner's use (stop() before the loop ends).
  CameraScanner(boost::asio::io_context& io, ScannerConfig config, V4l2Io& v4l2, Decode decode, Events events);
  ~CameraScanner();  // joins the setup thread (closes the device)
  CameraScanner(const CameraScanner&) = delete;
  CameraScanner& operator=(const CameraScanner&) = delete;

  void start();  // opens (on the setup thread) or schedules the reopen timer
  void stop();   // closes the device and the trigger input; no more events
  // Trigger mode: decode frames until one yields a code or
  // trigger_timeout_ms pass (a trigger while open restarts the timeout).
  // Ignored in continuous mode.
  void trigger();

  const ScannerConfig& config() const { return config_; }
  const Stats& stats() const { return stats_; }  // on the io_context's thread
  // A copy of the stats as of the last event, from any thread (status, metrics).
  Stats snapshot() const;

 private:
  struct Stream;  // an open, streaming device: fd, mapped buffers (camera.cpp)
  static std::unique_ptr<Stream> open_stream(V4l2Io& v4l2, const ScannerConfig& config, std::string& why);

  void open();
  void on_opened(std::unique_ptr<Stream> stream, const std::string& why);
  void schedule_reopen(const std::string& why);
  void lose(const std::string& why);
  void close_stream();
  void wait_readable();
  void on_readable();
  bool requeue(std::uint32_t index);
  void take(std::uint32_t index, std::uint32_t bytes_used);
  void on_decoded(Result<std::vector<scanner::Symbol>> result);
  void end_trigger();
  void open_trigger();
  void read_trigger();
  void publish();  // stats_ → published_

  boost::asio::io_context& io_;
  ScannerConfig config_;
  V4l2Io& v4l2_;
  Decode decode_;
  Events events_;
  boost::asio::thread_pool setup_{1};
  boost::asio::posix::stream_descriptor fd_;  // the stream's fd, watched (not owned: released before close)
  ReopenBackoff reopen_;
  boost::asio::steady_timer trigger_timer_;
  std::unique_ptr<Stream> stream_;
  std::uint64_t generation_ = 0;  // bumped per stream, so late waits of a closed one are ignored
  bool opening_ = false;
  bool decoding_ = false;
  bool stopped_ = true;
  std::map<std::string, std::chrono::steady_clock::time_point> last_seen_;  // code → last frame it was in
  Stats stats_;
  mutable std::mutex published_mutex_;
  Stats published_;  // GUARDED_BY(published_mutex_)
  // The trigger input (an evdev node: a GPIO key, a foot switch, a keyboard).
  boost::asio::posix::stream_descriptor trigger_in_;
  ReopenBackoff trigger_reopen_;
  std::vector<std::uint8_t> trigger_buffer_;
};

}  // namespace tally::device
