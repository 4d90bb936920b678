// An emulated USB device for the real libusb, through umockdev.
//
// umockdev's preload library (the test binary runs with it, see
// usb_scanner_test.cpp main()) routes /sys, /dev, udev and the usbfs ioctls
// of the process into a UMockdevTestbed. The device's sysfs and udev side
// comes from a .umockdev description (umockdev_testbed_add_from_string, which
// also sends the "add" uevent libusb's hot-plug monitor sees). Its usbdevfs
// side is this class: a UMockdevIoctlBase "handle-ioctl" handler that
// behaves like the kernel's usbfs for one interrupt-IN endpoint and control
// OUT transfers, completing IN URBs with the IN URBs of a umockdev .ioctl
// recording, in order.
//
// Why not umockdev_testbed_load_ioctl (umockdev's own replay of the same
// file): it backs /dev/bus/usb/… with a regular file, which epoll refuses
// (EPERM; Asio reports operation_not_supported) and poll() reports as
// always ready, so no event loop can wait on it the way libusb expects; and
// it completes every URB at once, with a single URB in flight per process.
// Here the device node is a FIFO whose writability mirrors the kernel's
// usbfs poll(): POLLOUT exactly while a completed URB waits to be reaped.
// The test side fills the FIFO's pipe buffer (not writable) and frees one
// page (writable) when a URB completes.
#pragma once

#include <fcntl.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <umockdev.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tally::test {

// One IN URB completion from a recording: status 0 with data, or a negative
// errno (-108 ESHUTDOWN: unplugged; -71 EPROTO: a low-level error).
struct UrbCompletion {
  int status = 0;
  std::vector<std::uint8_t> data;
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The IN completions of a umockdev .ioctl file (USBDEVFS_REAPURB lines with
// endpoint bit 0x80), in file order.
inline std::vector<UrbCompletion> load_recording(const std::string& path) {
  std::istringstream in(read_text(path));
  std::vector<UrbCompletion> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string name, hex;
    unsigned type = 0, endpoint = 0, flags = 0;
    int status = 0, length = 0, actual = 0, errors = 0;
    if (!(f >> name) || (name != "USBDEVFS_REAPURB" && name != "USBDEVFS_REAPURBNDELAY")) continue;
    if (!(f >> type >> endpoint >> status >> flags >> length >> actual >> errors)) {
      throw std::runtime_error("bad REAPURB line in " + path + ": " + line);
    }
    f >> hex;
    if ((endpoint & 0x80) == 0) continue;
    UrbCompletion c{status, {}};
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
      c.data.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    if (static_cast<int>(c.data.size()) != (status == 0 ? actual : 0)) {
      throw std::runtime_error("REAPURB data length differs from actual_length in " + path + ": " + line);
    }
    out.push_back(std::move(c));
  }
  return out;
}

// A .umockdev description moved to another device address (a replug gets a
// new one): bus/usb/001/002 → 001/NNN, devnum.
inline std::string at_address(std::string text, int address) {
  char node[8], num[8];
  std::snprintf(node, sizeof node, "%03d", address);
  std::snprintf(num, sizeof num, "%d", address);
  const auto replace_all = [&text](const std::string& from, const std::string& to) {
    for (std::size_t p = text.find(from); p != std::string::npos; p = text.find(from, p + to.size())) {
      text.replace(p, from.size(), to);
    }
  };
  replace_all("usb/001/002", std::string("usb/001/") + node);
  replace_all("DEVNUM=002", std::string("DEVNUM=") + node);
  replace_all("devnum=2\\n", std::string("devnum=") + num + "\\n");
  return text;
}

class EmulatedUsbDevice {
 public:
  // `description`: .umockdev text; its first P: line is the USB device.
  EmulatedUsbDevice(UMockdevTestbed* testbed, std::string description) : testbed_(testbed) {
    description_ = std::move(description);
    const auto p = description_.find("P: ");
    const auto n = description_.find("N: ");
    syspath_ = "/sys" + description_.substr(p + 3, description_.find('\n', p) - p - 3);
    devnode_ = "/dev/" + description_.substr(n + 3, description_.find('\n', n) - n - 3);
  }

  ~EmulatedUsbDevice() {
    if (plugged_) unplug_now();
    if (handler_ != nullptr) g_object_unref(handler_);
    if (fifo_ >= 0) ::close(fifo_);
    std::lock_guard lock(mutex_);
    clear_urbs();
  }

  const std::string& devnode() const { return devnode_; }

  // Attaches the usbfs handler, adds the device (sysfs, udev db, /dev node,
  // "add" uevent) and turns the node into the readiness FIFO.
  void plug() {
    handler_ = umockdev_ioctl_base_new();
    g_signal_connect(handler_, "handle-ioctl", reinterpret_cast<GCallback>(&EmulatedUsbDevice::on_ioctl), this);
    GError* error = nullptr;
    if (!umockdev_testbed_attach_ioctl(testbed_, devnode_.c_str(), handler_, &error)) fail("attach_ioctl", error);
    if (!umockdev_testbed_add_from_string(testbed_, description_.c_str(), &error)) fail("add_from_string", error);
    gchar* root = umockdev_testbed_get_root_dir(testbed_);
    const std::string node = std::string(root) + devnode_;
    g_free(root);
    ::unlink(node.c_str());
    if (::mkfifo(node.c_str(), 0666) != 0) throw std::runtime_error("mkfifo " + node + ": " + std::strerror(errno));
    fifo_ = ::open(node.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fifo_ < 0) throw std::runtime_error("open " + node + ": " + std::strerror(errno));
    std::lock_guard lock(mutex_);
    set_ready(false);
    plugged_ = true;
  }

  // The recording's IN completions, delivered one per IN URB libusb submits.
  void play(const std::vector<UrbCompletion>& completions) {
    std::lock_guard lock(mutex_);
    for (const auto& c : completions) queued_.push_back(c);
    match();
  }

  // Unplug, kernel style: pending IN URBs complete with -ESHUTDOWN, every
  // later ioctl fails with ENODEV; the "remove" uevent follows. Call
  // forget() once tallyd has seen it (then sysfs and the node go away).
  void unplug() {
    {
      std::lock_guard lock(mutex_);
      gone_ = true;
      while (!in_urbs_.empty()) complete_in(UrbCompletion{-ESHUTDOWN, {}});
    }
    umockdev_testbed_uevent(testbed_, syspath_.c_str(), "remove");
  }
  void forget() {
    if (!plugged_) return;
    plugged_ = false;
    umockdev_testbed_remove_device(testbed_, syspath_.c_str());
    // umockdev 0.17 leaves the /sys/bus/*/devices/ links of a removed device
    // behind, and adding it again (a replug) then fails on them.
    gchar* root = umockdev_testbed_get_root_dir(testbed_);
    std::error_code ec;
    for (const auto& bus : std::filesystem::directory_iterator(std::string(root) + "/sys/bus", ec)) {
      for (const auto& link : std::filesystem::directory_iterator(bus.path() / "devices", ec)) {
        if (link.is_symlink(ec) && !std::filesystem::exists(link.path(), ec)) std::filesystem::remove(link.path(), ec);
      }
    }
    g_free(root);
    GError* error = nullptr;
    umockdev_testbed_detach_ioctl(testbed_, devnode_.c_str(), &error);
    if (error != nullptr) g_error_free(error);
  }

  // Control OUT transfers seen so far: setup packet (8 bytes) + data.
  std::vector<std::vector<std::uint8_t>> control_requests() const {
    std::lock_guard lock(mutex_);
    return controls_;
  }
  std::size_t completions_left() const {
    std::lock_guard lock(mutex_);
    return queued_.size();
  }
  int discards() const {
    std::lock_guard lock(mutex_);
    return discards_;
  }

 private:
  struct Urb {
    UMockdevIoctlData* urb = nullptr;     // struct usbdevfs_urb, local copy
    UMockdevIoctlData* buffer = nullptr;  // its buffer, local copy
  };

  [[noreturn]] static void fail(const char* what, GError* error) {
    std::string message = std::string(what) + ": " + (error != nullptr ? error->message : "failed");
    if (error != nullptr) g_error_free(error);
    throw std::runtime_error(message);
  }

  void unplug_now() {
    {
      std::lock_guard lock(mutex_);
      gone_ = true;
    }
    forget();
  }

  void clear_urbs() {
    for (auto* list : {&in_urbs_, &done_urbs_}) {
      for (auto& u : *list) {
        g_object_unref(u.urb);
        if (u.buffer != nullptr) g_object_unref(u.buffer);
      }
      list->clear();
    }
  }

  // FIFO full: not writable (nothing to reap). One page free: writable.
  void set_ready(bool ready) {
    char page[4096] = {};
    if (ready) {
      [[maybe_unused]] const auto n = ::read(fifo_, page, sizeof page);
    } else {
      while (::write(fifo_, page, sizeof page) > 0) {
      }
    }
  }

  static usbdevfs_urb* urb_of(const Urb& u) { return reinterpret_cast<usbdevfs_urb*>(u.urb->data); }

  void complete_in(const UrbCompletion& c) {  // REQUIRES: mutex_ held, !in_urbs_.empty()
    Urb u = in_urbs_.front();
    in_urbs_.pop_front();
    usbdevfs_urb* urb = urb_of(u);
    const auto n = std::min<std::size_t>(c.data.size(), static_cast<std::size_t>(urb->buffer_length));
    if (n > 0 && u.buffer != nullptr) std::memcpy(u.buffer->data, c.data.data(), n);
    urb->actual_length = static_cast<int>(n);
    urb->status = c.status;
    if (c.status == -ESHUTDOWN) gone_ = true;
    push_done(u);
  }

  void push_done(const Urb& u) {
    if (done_urbs_.empty()) set_ready(true);
    done_urbs_.push_back(u);
  }

  void match() {  // REQUIRES: mutex_ held
    while (!queued_.empty() && !in_urbs_.empty() && !gone_) {
      complete_in(queued_.front());
      queued_.pop_front();
    }
  }

  static gboolean on_ioctl(UMockdevIoctlBase*, UMockdevIoctlClient* client, gpointer self) {
    return static_cast<EmulatedUsbDevice*>(self)->handle(client) ? TRUE : FALSE;
  }

  // Runs on umockdev's worker thread.
  bool handle(UMockdevIoctlClient* client) {
    const gulong request = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData* arg = umockdev_ioctl_client_get_arg(client);
    std::lock_guard lock(mutex_);
    const auto done = [client](long result, int err) { umockdev_ioctl_client_complete(client, result, err); };
    if (gone_ && request != USBDEVFS_REAPURBNDELAY && request != USBDEVFS_REAPURB) {
      done(-1, ENODEV);
      return true;
    }
    switch (request) {
      case FIONBIO:  // the VFS answers these for usbfs too: run them on the real fd
      case FIOCLEX:
      case FIONCLEX: {
        int err = 0;
        const int r = umockdev_ioctl_client_execute(client, &err, nullptr);
        done(r, r < 0 ? err : 0);
        return true;
      }
      case USBDEVFS_GET_CAPABILITIES: {
        UMockdevIoctlData* caps = umockdev_ioctl_data_resolve(arg, 0, sizeof(std::uint32_t), nullptr);
        const std::uint32_t value = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
                                    USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
        std::memcpy(caps->data, &value, sizeof value);
        done(0, 0);
        return true;
      }
      case USBDEVFS_CLAIMINTERFACE:
      case USBDEVFS_RELEASEINTERFACE:
      case USBDEVFS_CLEAR_HALT:
      case USBDEVFS_RESETEP:
        done(0, 0);
        return true;
      case USBDEVFS_GETDRIVER:  // no kernel driver bound: what usbfs answers
      case USBDEVFS_IOCTL:      // USBDEVFS_DISCONNECT / _CONNECT of that driver
        done(-1, ENODATA);
        return true;
      case USBDEVFS_SUBMITURB: {
        Urb u;
        u.urb = umockdev_ioctl_data_resolve(arg, 0, sizeof(usbdevfs_urb), nullptr);
        auto* urb = reinterpret_cast<usbdevfs_urb*>(u.urb->data);
        if (urb->buffer_length > 0) {
          u.buffer = umockdev_ioctl_data_resolve(u.urb, offsetof(usbdevfs_urb, buffer),
                                                 static_cast<gsize>(urb->buffer_length), nullptr);
        }
        g_object_ref(u.urb);
        if (u.buffer != nullptr) g_object_ref(u.buffer);
        if (urb->type == USBDEVFS_URB_TYPE_CONTROL) {
          const auto* bytes = reinterpret_cast<const std::uint8_t*>(u.buffer != nullptr ? u.buffer->data : nullptr);
          controls_.emplace_back(bytes, bytes + urb->buffer_length);
          urb->actual_length = urb->buffer_length >= 8 ? urb->buffer_length - 8 : 0;
          urb->status = 0;
          push_done(u);
        } else if (urb->type == USBDEVFS_URB_TYPE_INTERRUPT && (urb->endpoint & 0x80) != 0) {
          in_urbs_.push_back(u);
          match();
        } else {
          g_object_unref(u.urb);
          if (u.buffer != nullptr) g_object_unref(u.buffer);
          done(-1, EINVAL);
          return true;
        }
        done(0, 0);
        return true;
      }
      case USBDEVFS_REAPURB:
      case USBDEVFS_REAPURBNDELAY: {
        if (done_urbs_.empty()) {
          done(-1, gone_ ? ENODEV : EAGAIN);
          return true;
        }
        Urb u = done_urbs_.front();
        done_urbs_.pop_front();
        if (done_urbs_.empty()) set_ready(false);
        UMockdevIoctlData* ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void*), nullptr);
        umockdev_ioctl_data_set_ptr(ptr, 0, u.urb);  // the client reads its own URB back
        g_object_unref(u.urb);
        if (u.buffer != nullptr) g_object_unref(u.buffer);
        done(0, 0);
        return true;
      }
      case USBDEVFS_DISCARDURB: {
        ++discards_;
        const auto addr = reinterpret_cast<gulong>(*reinterpret_cast<void**>(arg->data));
        for (auto it = in_urbs_.begin(); it != in_urbs_.end(); ++it) {
          if (it->urb->client_addr == addr) {
            Urb u = *it;
            in_urbs_.erase(it);
            urb_of(u)->status = -ENOENT;
            urb_of(u)->actual_length = 0;
            push_done(u);
            done(0, 0);
            return true;
          }
        }
        done(-1, EINVAL);
        return true;
      }
      default:  // DISCONNECT_CLAIM (libusb falls back to GETDRIVER + claim), …
        done(-1, ENOTTY);
        return true;
    }
  }

  UMockdevTestbed* testbed_;
  std::string description_;
  std::string syspath_;
  std::string devnode_;
  UMockdevIoctlBase* handler_ = nullptr;
  int fifo_ = -1;
  bool plugged_ = false;

  mutable std::mutex mutex_;
  bool gone_ = false;                 // GUARDED_BY(mutex_)
  std::deque<UrbCompletion> queued_;  // GUARDED_BY(mutex_)
  std::deque<Urb> in_urbs_;           // GUARDED_BY(mutex_) submitted, waiting for data
  std::deque<Urb> done_urbs_;         // GUARDED_BY(mutex_) completed, waiting to be reaped
  std::vector<std::vector<std::uint8_t>> controls_;  // GUARDED_BY(mutex_)
  int discards_ = 0;                  // GUARDED_BY(mutex_)
};

}  // namespace tally::test
