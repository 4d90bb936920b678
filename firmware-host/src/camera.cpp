#include "tally/device/camera.hpp"

#include <fcntl.h>
#include <linux/input.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>

namespace tally::device {

namespace asio = boost::asio;

namespace {

class SystemV4l2 final : public V4l2Io {
 public:
  int open(const std::string& path) override { return ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC); }
  int close(int fd) override { return ::close(fd); }
  int ioctl(int fd, unsigned long request, void* arg) override {
    int r = 0;
    do {
      r = ::ioctl(fd, request, arg);
    } while (r < 0 && errno == EINTR);
    return r;
  }
  void* mmap(int fd, std::size_t length, off_t offset) override {
    return ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
  }
  int munmap(void* addr, std::size_t length) override { return ::munmap(addr, length); }
};

std::string errno_text(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

std::string fourcc_text(std::uint32_t f) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += static_cast<char>((f >> (8 * i)) & 0xff);
  return s;
}

}  // namespace

V4l2Io& system_v4l2() {
  static SystemV4l2 io;
  return io;
}

std::uint32_t camera_fourcc(const std::string& format) {
  if (format == "grey") return V4L2_PIX_FMT_GREY;
  if (format == "yuyv") return V4L2_PIX_FMT_YUYV;
  if (format == "mjpeg") return V4L2_PIX_FMT_MJPEG;
  return 0;
}

Result<std::vector<std::uint8_t>> camera_luma(const std::uint8_t* data, std::size_t bytes_used,
                                              scanner::PixelFormat fmt, int width, int height, int stride) {
  const int bpp = scanner::bytes_per_pixel(fmt);
  if (data == nullptr || width <= 0 || height <= 0 || width > scanner::kMaxFrameSide ||
      height > scanner::kMaxFrameSide) {
    return make_error("bad_frame", "frame size " + std::to_string(width) + "x" + std::to_string(height));
  }
  if (fmt == scanner::PixelFormat::yuyv && width % 2 != 0) {
    return make_error("bad_frame", "YUYV frame of odd width " + std::to_string(width));
  }
  const std::size_t row = static_cast<std::size_t>(width) * static_cast<std::size_t>(bpp);
  if (stride < 0 || static_cast<std::size_t>(stride) < row) {
    return make_error("bad_frame", "stride " + std::to_string(stride) + " is shorter than a row of " +
                                       std::to_string(row) + " bytes");
  }
  const std::size_t need = static_cast<std::size_t>(stride) * static_cast<std::size_t>(height - 1) + row;
  if (bytes_used < need) {
    return make_error("bad_frame", "frame holds " + std::to_string(bytes_used) + " bytes, " +
                                       std::to_string(width) + "x" + std::to_string(height) + " needs " +
                                       std::to_string(need));
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(width) * static_cast<std::size_t>(height));
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* src = data + static_cast<std::size_t>(y) * static_cast<std::size_t>(stride);
    std::uint8_t* dst = out.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(width);
    if (bpp == 1) {
      std::memcpy(dst, src, static_cast<std::size_t>(width));
    } else {
      for (int x = 0; x < width; ++x) dst[x] = src[2 * x];  // Y0 U Y1 V: the Y bytes
    }
  }
  return out;
}

// An open device that streams: the fd and its mapped buffers. Destroying it
// stops streaming, unmaps and closes (on the setup thread, except at stop).
struct CameraScanner::Stream {
  V4l2Io& v4l2;
  int fd = -1;
  std::uint32_t width = 0, height = 0, stride = 0, pixelformat = 0;
  struct Buffer {
    void* data = nullptr;
    std::size_t length = 0;
  };
  std::vector<Buffer> buffers;
  bool streaming = false;

  explicit Stream(V4l2Io& io) : v4l2(io) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() {
    if (streaming) {
      int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      v4l2.ioctl(fd, VIDIOC_STREAMOFF, &type);  // fails with ENODEV once unplugged: nothing to do
    }
    for (const Buffer& b : buffers) {
      if (b.data != nullptr && b.data != MAP_FAILED) v4l2.munmap(b.data, b.length);
    }
    if (fd >= 0) v4l2.close(fd);
  }
};

std::unique_ptr<CameraScanner::Stream> CameraScanner::open_stream(V4l2Io& v4l2, const ScannerConfig& config,
                                                                  std::string& why) {
  const CameraConfig& c = config.camera;
  auto s = std::make_unique<Stream>(v4l2);
  const auto fail = [&](const std::string& what) {
    why = "cannot open " + c.device + ": " + what;
    return nullptr;
  };
  s->fd = v4l2.open(c.device);
  if (s->fd < 0) return fail(std::strerror(errno));
  v4l2_capability cap{};
  if (v4l2.ioctl(s->fd, VIDIOC_QUERYCAP, &cap) < 0) return fail(errno_text("VIDIOC_QUERYCAP (not a V4L2 device?)", errno));
  const std::uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities;
  if ((caps & V4L2_CAP_VIDEO_CAPTURE) == 0) return fail("not a video capture device");
  if ((caps & V4L2_CAP_STREAMING) == 0) return fail("no streaming I/O (mmap buffers)");

  v4l2_format fmt{};
  fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  fmt.fmt.pix.width = c.width;
  fmt.fmt.pix.height = c.height;
  fmt.fmt.pix.pixelformat = camera_fourcc(c.format);
  fmt.fmt.pix.field = V4L2_FIELD_NONE;
  if (v4l2.ioctl(s->fd, VIDIOC_S_FMT, &fmt) < 0) return fail(errno_text("VIDIOC_S_FMT", errno));
  if (fmt.fmt.pix.pixelformat != camera_fourcc(c.format)) {  // the driver picked another one
    return fail("does not offer format " + c.format + " (it offers " + fourcc_text(fmt.fmt.pix.pixelformat) + ")");
  }
  s->width = fmt.fmt.pix.width;
  s->height = fmt.fmt.pix.height;
  s->pixelformat = fmt.fmt.pix.pixelformat;
  s->stride = fmt.fmt.pix.bytesperline;
  if (s->stride == 0 && c.format != "mjpeg") s->stride = s->width * (c.format == "yuyv" ? 2 : 1);

  v4l2_requestbuffers req{};
  req.count = c.buffers;
  req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  req.memory = V4L2_MEMORY_MMAP;
  if (v4l2.ioctl(s->fd, VIDIOC_REQBUFS, &req) < 0) return fail(errno_text("VIDIOC_REQBUFS", errno));
  if (req.count < 1) return fail("the driver gave no buffers");
  s->buffers.resize(req.count);
  for (std::uint32_t i = 0; i < req.count; ++i) {
    v4l2_buffer b{};
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = i;
    if (v4l2.ioctl(s->fd, VIDIOC_QUERYBUF, &b) < 0) return fail(errno_text("VIDIOC_QUERYBUF", errno));
    void* p = v4l2.mmap(s->fd, b.length, static_cast<off_t>(b.m.offset));
    if (p == MAP_FAILED) return fail(errno_text("mmap", errno));
    s->buffers[i] = {p, b.length};
    if (v4l2.ioctl(s->fd, VIDIOC_QBUF, &b) < 0) return fail(errno_text("VIDIOC_QBUF", errno));
  }
  int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  if (v4l2.ioctl(s->fd, VIDIOC_STREAMON, &type) < 0) return fail(errno_text("VIDIOC_STREAMON", errno));
  s->streaming = true;
  return s;
}

CameraScanner::CameraScanner(asio::io_context& io, ScannerConfig config, V4l2Io& v4l2, Decode decode, Events events)
    : io_(io),
      config_(std::move(config)),
      v4l2_(v4l2),
      decode_(std::move(decode)),
      events_(std::move(events)),
      fd_(io),
      reopen_(io.get_executor(), std::chrono::milliseconds(config_.reopen_min_ms),
              std::chrono::milliseconds(config_.reopen_max_ms)),
      trigger_timer_(io),
      trigger_in_(io),
      trigger_reopen_(io.get_executor(), std::chrono::milliseconds(config_.reopen_min_ms),
                      std::chrono::milliseconds(config_.reopen_max_ms)),
      trigger_buffer_(sizeof(input_event) * 16) {}

CameraScanner::~CameraScanner() {
  stopped_ = true;
  boost::system::error_code ignored;
  fd_.release();
  trigger_in_.close(ignored);
  stream_.reset();
  setup_.join();  // an open in progress finishes; its result is dropped (see on_opened)
}

void CameraScanner::start() {
  stopped_ = false;
  open();
  if (config_.camera.mode == "trigger" && !config_.camera.trigger.empty()) open_trigger();
}

void CameraScanner::stop() {
  stopped_ = true;
  reopen_.cancel();
  trigger_timer_.cancel();
  trigger_reopen_.cancel();
  boost::system::error_code ignored;
  trigger_in_.close(ignored);
  close_stream();
  stats_.triggered = false;
  publish();
}

void CameraScanner::open() {
  if (stopped_ || opening_ || stream_) return;
  opening_ = true;
  // The slow ioctls run on the setup thread; the result comes back on the
  // io_context (dropped there when the scanner is gone or stopped).
  asio::post(setup_, [&v4l2 = v4l2_, config = config_, ex = io_.get_executor(), weak = weak_from_this()] {
    std::string why;
    std::unique_ptr<Stream> stream = open_stream(v4l2, config, why);
    asio::post(ex, [weak, stream = std::move(stream), why = std::move(why)]() mutable {
      if (auto self = weak.lock()) {
        self->on_opened(std::move(stream), why);
        self->publish();
      }
    });
  });
}

CameraScanner::Stats CameraScanner::snapshot() const {
  std::lock_guard lock(published_mutex_);
  return published_;
}

void CameraScanner::publish() {
  std::lock_guard lock(published_mutex_);
  published_ = stats_;
}

void CameraScanner::on_opened(std::unique_ptr<Stream> stream, const std::string& why) {
  opening_ = false;
  if (stopped_) return;  // the stream closes here
  if (!stream) {
    schedule_reopen(why);
    return;
  }
  boost::system::error_code ec;
  fd_.assign(stream->fd, ec);  // epoll: the device fd wakes the loop when a buffer is done
  if (ec) {
    fd_.release();
    schedule_reopen("cannot watch " + config_.camera.device + ": " + ec.message());
    return;
  }
  stream_ = std::move(stream);
  ++generation_;
  ++stats_.opens;
  stats_.streaming = true;
  reopen_.opened();
  if (events_.status) {
    events_.status("open " + config_.camera.device + " " + std::to_string(stream_->width) + "x" +
                   std::to_string(stream_->height) + " " + config_.camera.format + ", " + config_.camera.mode);
  }
  on_readable();  // frames done before the fd was watched
}

void CameraScanner::schedule_reopen(const std::string& why) {
  if (stopped_) return;
  reopen_.schedule(why, events_.status, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->open();
  });
}

void CameraScanner::close_stream() {
  if (fd_.is_open()) fd_.release();  // cancels the wait; the Stream closes the fd
  stats_.streaming = false;
  if (!stream_) return;
  if (stopped_) {
    stream_.reset();
    return;
  }
  // STREAMOFF and close may talk to the device: on the setup thread.
  asio::post(setup_, [stream = std::shared_ptr<Stream>(std::move(stream_))]() mutable { stream.reset(); });
}

void CameraScanner::lose(const std::string& why) {
  ++stats_.losses;
  close_stream();
  schedule_reopen("lost " + config_.camera.device + ": " + why);
}

void CameraScanner::wait_readable() {
  fd_.async_wait(asio::posix::stream_descriptor::wait_read,
                 [weak = weak_from_this(), gen = generation_](const boost::system::error_code& ec) {
                   auto self = weak.lock();
                   if (!self || ec || self->stopped_ || gen != self->generation_ || !self->stream_) return;
                   self->on_readable();
                   self->publish();
                 });
}

void CameraScanner::on_readable() {
  // Drain the done queue (the fd is edge-triggered in Asio's epoll): keep
  // the newest frame, queue the older ones straight back.
  std::optional<v4l2_buffer> newest;
  for (;;) {
    v4l2_buffer b{};
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    if (v4l2_.ioctl(stream_->fd, VIDIOC_DQBUF, &b) < 0) {
      const int err = errno;
      if (err == EAGAIN) break;
      lose(errno_text("VIDIOC_DQBUF", err));  // ENODEV: unplugged; EIO: the camera failed
      return;
    }
    ++stats_.frames;
    if (b.index >= stream_->buffers.size()) {
      lose("the driver returned buffer " + std::to_string(b.index));
      return;
    }
    if (newest) {
      ++stats_.skipped;
      if (!requeue(newest->index)) return;
    }
    newest = b;
  }
  if (newest) {
    if ((newest->flags & V4L2_BUF_FLAG_ERROR) != 0) {  // a corrupted frame: the driver says so
      ++stats_.skipped;
      if (!requeue(newest->index)) return;
    } else {
      take(newest->index, newest->bytesused);
      if (!stream_) return;
    }
  }
  wait_readable();
}

bool CameraScanner::requeue(std::uint32_t index) {
  v4l2_buffer b{};
  b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  b.memory = V4L2_MEMORY_MMAP;
  b.index = index;
  if (v4l2_.ioctl(stream_->fd, VIDIOC_QBUF, &b) < 0) {
    lose(errno_text("VIDIOC_QBUF", errno));
    return false;
  }
  return true;
}

void CameraScanner::take(std::uint32_t index, std::uint32_t bytes_used) {
  const bool wanted = config_.camera.mode == "continuous" || stats_.triggered;
  if (!wanted || decoding_) {
    ++stats_.skipped;
    requeue(index);
    return;
  }
  const Stream::Buffer& buf = stream_->buffers[index];
  const auto* data = static_cast<const std::uint8_t*>(buf.data);
  const std::size_t used = std::min<std::size_t>(bytes_used, buf.length);
  CapturedFrame frame;
  frame.width = static_cast<int>(stream_->width);
  frame.height = static_cast<int>(stream_->height);
  std::string bad_frame;
  if (stream_->pixelformat == V4L2_PIX_FMT_MJPEG) {
    frame.jpeg = true;
    frame.bytes.assign(data, data + used);
  } else {
    const auto fmt = stream_->pixelformat == V4L2_PIX_FMT_YUYV ? scanner::PixelFormat::yuyv : scanner::PixelFormat::grey;
    auto luma = camera_luma(data, used, fmt, frame.width, frame.height, static_cast<int>(stream_->stride));
    if (luma) {
      frame.bytes = std::move(*luma);
    } else {
      bad_frame = luma.error().message;
    }
  }
  if (!requeue(index)) return;  // the copy is ours; the buffer goes back to the driver now
  if (!bad_frame.empty()) {
    ++stats_.errors;
    if (events_.refused) events_.refused("bad frame: " + bad_frame);
    return;
  }
  auto done = [weak = weak_from_this(), ex = io_.get_executor()](Result<std::vector<scanner::Symbol>> r) {
    asio::post(ex, [weak, r = std::move(r)]() mutable {
      if (auto self = weak.lock()) {
        self->on_decoded(std::move(r));
        self->publish();
      }
    });
  };
  decoding_ = decode_(std::move(frame), std::move(done));
  if (!decoding_) ++stats_.errors;  // the decoder's queue is full (POST /frames traffic): next frame
}

void CameraScanner::on_decoded(Result<std::vector<scanner::Symbol>> result) {
  decoding_ = false;
  if (stopped_) return;
  ++stats_.decoded;
  if (!result) {
    ++stats_.errors;
    if (events_.refused) events_.refused("frame not decoded: " + result.error().message + " [" + result.error().code + "]");
    return;
  }
  if (result->empty()) {
    ++stats_.empty;
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const auto window = std::chrono::milliseconds(config_.camera.repeat_ms);
  std::erase_if(last_seen_, [&](const auto& e) { return now - e.second > window; });
  std::vector<DecodedScan> fresh;
  for (const scanner::Symbol& s : *result) {
    const std::string key = s.aim_id + s.text;
    const auto it = last_seen_.find(key);
    const bool repeat = it != last_seen_.end() && now - it->second <= window;
    if (window.count() > 0) last_seen_[key] = now;
    if (repeat) {
      ++stats_.repeats;
      continue;
    }
    scanner::ScanData data = scanner::scan_data(s);  // as a handheld sends it
    fresh.push_back(config_.aim_prefix ? DecodedScan{std::move(data.data), std::move(data.aim_id)}
                                       : DecodedScan{data.without_aim(), std::string()});
  }
  if (stats_.triggered) {
    end_trigger();
    if (fresh.empty() && events_.status) events_.status("code read again within repeat_ms: not a new scan");
  }
  for (DecodedScan& scan : fresh) {
    if (stopped_) return;
    ++stats_.scans;
    if (events_.scan) events_.scan(std::move(scan));
  }
}

void CameraScanner::trigger() {
  if (stopped_ || config_.camera.mode != "trigger") return;
  ++stats_.triggers;
  stats_.triggered = true;
  publish();
  trigger_timer_.expires_after(std::chrono::milliseconds(config_.camera.trigger_timeout_ms));
  trigger_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || !self->stats_.triggered) return;
    self->stats_.triggered = false;
    ++self->stats_.trigger_timeouts;
    self->publish();
    if (self->events_.status) {
      self->events_.status("no code within " + std::to_string(self->config_.camera.trigger_timeout_ms) + " ms");
    }
  });
}

void CameraScanner::end_trigger() {
  stats_.triggered = false;
  trigger_timer_.cancel();
}

void CameraScanner::open_trigger() {
  if (stopped_) return;
  const std::string& path = config_.camera.trigger;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // a device node: does not block
  boost::system::error_code ec;
  if (fd >= 0) {
    trigger_in_.assign(fd, ec);
    if (ec) ::close(fd);
  }
  if (fd < 0 || ec) {
    const std::string why = fd < 0 ? std::string(std::strerror(errno)) : ec.message();
    trigger_reopen_.schedule("cannot open trigger " + path + ": " + why, events_.status, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->open_trigger();
    });
    return;
  }
  trigger_reopen_.opened();
  trigger_buffer_.clear();
  read_trigger();
}

void CameraScanner::read_trigger() {
  const std::size_t have = trigger_buffer_.size();
  trigger_buffer_.resize(sizeof(input_event) * 16);
  trigger_in_.async_read_some(
      asio::buffer(trigger_buffer_.data() + have, trigger_buffer_.size() - have),
      [weak = weak_from_this(), have](const boost::system::error_code& ec, std::size_t n) {
        auto self = weak.lock();
        if (!self || self->stopped_) return;
        self->trigger_buffer_.resize(ec ? have : have + n);
        if (ec) {  // unplugged (ENODEV), or EOF: reopen from the timer
          boost::system::error_code ignored;
          self->trigger_in_.close(ignored);
          if (ec == asio::error::operation_aborted) return;
          self->trigger_reopen_.schedule("lost trigger " + self->config_.camera.trigger + ": " + ec.message(),
                                         self->events_.status, [weak] {
                                           if (auto s = weak.lock()) s->open_trigger();
                                         });
          return;
        }
        // Whole input_events only; a partial one waits for the rest.
        std::size_t off = 0;
        auto& buf = self->trigger_buffer_;
        for (; off + sizeof(input_event) <= buf.size(); off += sizeof(input_event)) {
          input_event e{};
          std::memcpy(&e, buf.data() + off, sizeof e);
          const unsigned key = self->config_.camera.trigger_key;
          if (e.type == EV_KEY && e.value == 1 && (key == 0 || e.code == key)) self->trigger();
        }
        buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(off));
        self->read_trigger();
      });
}

}  // namespace tally::device
