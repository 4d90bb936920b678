// A V4L2 capture device behind CameraScanner's V4l2Io seam, behaving like
// the kernel's videobuf2 queue for what tallyd uses: QUERYCAP, S_FMT (the
// driver adjusts: even width, bytesperline padded past the row (rounded to
// 64 bytes, plus 64) as ISPs with line alignment do, its own format when the asked one is not offered), REQBUFS/QUERYBUF
// with mmap cookies, QBUF (EINVAL for a buffer already queued), non-blocking
// DQBUF (EAGAIN when nothing is done, EINVAL when not streaming),
// STREAMON/STREAMOFF, a full queue dropping frames, and unplug: every ioctl
// on the old fd then fails with ENODEV and the fd reports readable (the
// kernel raises EPOLLERR), open fails with ENOENT until replug().
//
// Why a fake: this machine has no camera and no v4l2loopback module, and
// umockdev cannot emulate V4L2 streaming (libumockdev-preload intercepts
// ioctl but not mmap). The fd handed out is an eventfd that is readable
// exactly while a buffer is done (or after an unplug), as the V4L2 fd's
// poll() is, so CameraScanner really waits on it in Asio's epoll.
// Frames are real images (tests' PNG/JPEG files) written into the buffers
// in the negotiated format and stride.
#pragma once

#include <linux/videodev2.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "tally/device/camera.hpp"
#include "tally/device/image_file.hpp"

namespace tally::test {

class V4l2TestDevice final : public device::V4l2Io {
 public:
  explicit V4l2TestDevice(std::string path, std::vector<std::uint32_t> formats = {V4L2_PIX_FMT_GREY, V4L2_PIX_FMT_YUYV,
                                                                                  V4L2_PIX_FMT_MJPEG})
      : path_(std::move(path)), formats_(std::move(formats)) {}
  ~V4l2TestDevice() override {
    for (int fd : fds_) ::close(fd);
  }

  int open(const std::string& path) override {
    std::lock_guard lock(mutex_);
    if (path != path_ || unplugged_) return fail(ENOENT);
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    fds_.push_back(fd);
    ++opens_;
    return fd;
  }

  int close(int fd) override {
    std::lock_guard lock(mutex_);
    const auto it = std::find(fds_.begin(), fds_.end(), fd);
    if (it == fds_.end()) return fail(EBADF);
    fds_.erase(it);
    dead_.erase(std::remove(dead_.begin(), dead_.end(), fd), dead_.end());  // the number may be reused
    if (fd == owner_) {  // the kernel frees the queue with its owner's fd
      owner_ = -1;
      streaming_ = false;
      buffers_.clear();
      queued_.clear();
      done_.clear();
    }
    return ::close(fd);
  }

  int ioctl(int fd, unsigned long request, void* arg) override {
    std::lock_guard lock(mutex_);
    if (std::find(fds_.begin(), fds_.end(), fd) == fds_.end()) return fail(EBADF);
    if (dead_fd(fd)) return fail(ENODEV);
    switch (request) {
      case VIDIOC_QUERYCAP: {
        auto* cap = static_cast<v4l2_capability*>(arg);
        *cap = {};
        std::strncpy(reinterpret_cast<char*>(cap->driver), "tally-test", sizeof cap->driver - 1);
        cap->device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
        cap->capabilities = cap->device_caps | V4L2_CAP_DEVICE_CAPS;
        return 0;
      }
      case VIDIOC_S_FMT: {
        auto* f = static_cast<v4l2_format*>(arg);
        if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        if (!buffers_.empty()) return fail(EBUSY);
        auto& p = f->fmt.pix;
        if (std::find(formats_.begin(), formats_.end(), p.pixelformat) == formats_.end()) p.pixelformat = formats_[0];
        p.width = std::clamp<std::uint32_t>(p.width & ~1u, 16, 1920);
        p.height = std::clamp<std::uint32_t>(p.height, 16, 1080);
        p.field = V4L2_FIELD_NONE;
        const std::uint32_t bpp = p.pixelformat == V4L2_PIX_FMT_YUYV ? 2 : 1;
        p.bytesperline = p.pixelformat == V4L2_PIX_FMT_MJPEG ? 0 : (p.width * bpp + 63) / 64 * 64 + 64;
        p.sizeimage = p.pixelformat == V4L2_PIX_FMT_MJPEG ? p.width * p.height : p.bytesperline * p.height;
        format_ = p;
        return 0;
      }
      case VIDIOC_REQBUFS: {
        auto* r = static_cast<v4l2_requestbuffers*>(arg);
        if (r->memory != V4L2_MEMORY_MMAP || r->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        if (streaming_) return fail(EBUSY);
        buffers_.clear();
        queued_.clear();
        done_.clear();
        r->count = std::clamp<std::uint32_t>(r->count, 2, 8);
        for (std::uint32_t i = 0; i < r->count; ++i) buffers_.emplace_back(format_.sizeimage);
        owner_ = fd;
        return 0;
      }
      case VIDIOC_QUERYBUF: {
        auto* b = static_cast<v4l2_buffer*>(arg);
        if (b->index >= buffers_.size()) return fail(EINVAL);
        b->length = static_cast<std::uint32_t>(buffers_[b->index].bytes.size());
        b->m.offset = b->index * kCookie;
        return 0;
      }
      case VIDIOC_QBUF: {
        auto* b = static_cast<v4l2_buffer*>(arg);
        if (fd != owner_ || b->index >= buffers_.size() || b->memory != V4L2_MEMORY_MMAP) return fail(EINVAL);
        if (buffers_[b->index].state != State::user) return fail(EINVAL);
        buffers_[b->index].state = State::queued;
        queued_.push_back(b->index);
        return 0;
      }
      case VIDIOC_DQBUF: {
        auto* b = static_cast<v4l2_buffer*>(arg);
        if (fd != owner_ || !streaming_) return fail(EINVAL);
        if (done_.empty()) return fail(EAGAIN);
        const std::uint32_t i = done_.front();
        done_.pop_front();
        Buffer& buf = buffers_[i];
        buf.state = State::user;
        b->index = i;
        b->bytesused = buf.used;
        b->flags = V4L2_BUF_FLAG_MAPPED | buf.flags;
        b->sequence = sequence_++;
        b->field = V4L2_FIELD_NONE;
        if (done_.empty()) {  // no longer readable
          std::uint64_t n = 0;
          [[maybe_unused]] auto r = ::read(fd, &n, sizeof n);
        }
        ++dequeued_;
        return 0;
      }
      case VIDIOC_STREAMON:
        if (fd != owner_ || buffers_.empty()) return fail(EINVAL);
        streaming_ = true;
        return 0;
      case VIDIOC_STREAMOFF:
        if (fd != owner_) return fail(EINVAL);
        streaming_ = false;
        queued_.clear();
        done_.clear();
        for (auto& b : buffers_) b.state = State::user;
        return 0;
      default:
        return fail(ENOTTY);
    }
  }

  void* mmap(int fd, std::size_t length, off_t offset) override {
    std::lock_guard lock(mutex_);
    const auto index = static_cast<std::size_t>(offset) / kCookie;
    if (fd != owner_ || index >= buffers_.size() || length != buffers_[index].bytes.size()) {
      errno = EINVAL;
      return MAP_FAILED;
    }
    ++mapped_;
    return buffers_[index].bytes.data();
  }

  int munmap(void* addr, std::size_t length) override {
    std::lock_guard lock(mutex_);
    (void)addr;
    (void)length;
    --mapped_;
    return 0;
  }

  // The camera captures `image` (pasted at the top left of a white frame of
  // the negotiated size, cropped if larger): the first queued buffer is
  // filled and done. false when no buffer is queued (the frame is dropped,
  // as the kernel does) or nothing streams.
  bool capture(const device::GreyImage& image) {
    std::lock_guard lock(mutex_);
    if (!streaming_ || queued_.empty() || unplugged_) return false;
    Buffer& b = buffers_[queued_.front()];
    const auto& f = format_;
    std::fill(b.bytes.begin(), b.bytes.end(), std::uint8_t{0x55});  // padding: garbage, as in real buffers
    for (std::uint32_t y = 0; y < f.height; ++y) {
      for (std::uint32_t x = 0; x < f.width; ++x) {
        const bool inside = static_cast<int>(x) < image.width && static_cast<int>(y) < image.height;
        const std::uint8_t luma = inside ? image.pixels[y * static_cast<std::size_t>(image.width) + x] : 0xff;
        if (f.pixelformat == V4L2_PIX_FMT_YUYV) {
          std::uint8_t* p = b.bytes.data() + y * f.bytesperline + 2 * x;
          p[0] = luma;
          p[1] = (x % 2 == 0) ? 0x00 : 0xff;  // U / V: far from grey, so using them would break the decode
        } else {
          b.bytes[y * f.bytesperline + x] = luma;
        }
      }
    }
    return finish(f.pixelformat == V4L2_PIX_FMT_YUYV || f.pixelformat == V4L2_PIX_FMT_GREY ? f.sizeimage : 0, 0);
  }

  // An MJPEG frame: the JPEG bytes as the camera sends them.
  bool capture_jpeg(const std::vector<std::uint8_t>& jpeg) {
    std::lock_guard lock(mutex_);
    if (!streaming_ || queued_.empty() || unplugged_) return false;
    Buffer& b = buffers_[queued_.front()];
    if (jpeg.size() > b.bytes.size()) return false;
    std::copy(jpeg.begin(), jpeg.end(), b.bytes.begin());
    return finish(static_cast<std::uint32_t>(jpeg.size()), 0);
  }

  // A truncated frame: bytesused covers only half the image.
  bool capture_short() {
    std::lock_guard lock(mutex_);
    if (!streaming_ || queued_.empty() || unplugged_) return false;
    return finish(format_.sizeimage / 2, 0);
  }

  void unplug() {
    std::lock_guard lock(mutex_);
    unplugged_ = true;
    dead_.insert(dead_.end(), fds_.begin(), fds_.end());
    for (int fd : fds_) signal(fd);
  }
  void replug() {
    std::lock_guard lock(mutex_);
    unplugged_ = false;
  }

  v4l2_pix_format format() const {
    std::lock_guard lock(mutex_);
    return format_;
  }
  int open_fds() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(fds_.size());
  }
  int opens() const {
    std::lock_guard lock(mutex_);
    return opens_;
  }
  int mapped() const {
    std::lock_guard lock(mutex_);
    return mapped_;
  }
  std::size_t queued() const {
    std::lock_guard lock(mutex_);
    return queued_.size();
  }
  std::size_t buffer_count() const {
    std::lock_guard lock(mutex_);
    return buffers_.size();
  }

 private:
  static constexpr std::size_t kCookie = 0x100000;
  enum class State { user, queued, done };
  struct Buffer {
    explicit Buffer(std::size_t size) : bytes(size) {}
    std::vector<std::uint8_t> bytes;
    State state = State::user;
    std::uint32_t used = 0;
    std::uint32_t flags = 0;
  };

  static int fail(int err) {
    errno = err;
    return -1;
  }
  bool dead_fd(int fd) const { return std::find(dead_.begin(), dead_.end(), fd) != dead_.end(); }
  static void signal(int fd) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(fd, &one, sizeof one);
  }
  bool finish(std::uint32_t used, std::uint32_t flags) {
    const std::uint32_t i = queued_.front();
    queued_.pop_front();
    buffers_[i].state = State::done;
    buffers_[i].used = used;
    buffers_[i].flags = flags;
    done_.push_back(i);
    signal(owner_);
    return true;
  }

  mutable std::mutex mutex_;
  std::string path_;
  std::vector<std::uint32_t> formats_;
  std::vector<int> fds_;
  std::vector<int> dead_;  // fds opened before an unplug: ENODEV
  int owner_ = -1;
  v4l2_pix_format format_{};
  std::vector<Buffer> buffers_;
  std::deque<std::uint32_t> queued_;
  std::deque<std::uint32_t> done_;
  std::uint32_t sequence_ = 0;
  bool streaming_ = false;
  bool unplugged_ = false;
  int opens_ = 0;
  int mapped_ = 0;
  std::uint64_t dequeued_ = 0;
};

}  // namespace tally::test
