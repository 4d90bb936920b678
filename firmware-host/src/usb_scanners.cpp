// UsbScannerManager: find, open, claim and read USB scanners (see usb.hpp).
//
// Ownership: a Device owns its libusb handle, its interrupt-IN transfer and
// its output transfers. A transfer that is in flight is never freed: closing
// cancels it and the Device is destroyed only when every callback has come
// back (finish_close). libusb calls transfer and hot-plug callbacks from
// libusb_handle_events, i.e. on the Asio thread inside UsbContext.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <iterator>
#include <map>
#include <mutex>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <libusb.h>
#include <spdlog/spdlog.h>

#include "tally/device/usb.hpp"

namespace tally::device {

namespace asio = boost::asio;

std::string_view to_string(UsbScannerKind kind) { return kind == UsbScannerKind::keyboard ? "keyboard" : "hid-pos"; }

std::string UsbDeviceId::text() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04x:%04x bus %u addr %u if%u", vid, pid, bus, address, interface);
  return buf;
}

bool report_descriptor_uses_page(std::span<const std::uint8_t> d, std::uint16_t page) {
  std::size_t i = 0;
  while (i < d.size()) {
    const std::uint8_t prefix = d[i];
    if (prefix == 0xFE) {  // long item: FE size tag data…
      if (i + 2 >= d.size()) return false;
      i += 3 + d[i + 1];
      continue;
    }
    static constexpr std::size_t kSizes[] = {0, 1, 2, 4};
    const std::size_t size = kSizes[prefix & 0x03];
    if (i + 1 + size > d.size()) return false;
    if ((prefix & 0xFC) == 0x04 && size > 0) {  // global Usage Page
      std::uint32_t value = 0;
      for (std::size_t k = 0; k < size; ++k) value |= static_cast<std::uint32_t>(d[i + 1 + k]) << (8 * k);
      if (value == page) return true;
    }
    i += 1 + size;
  }
  return false;
}

namespace {

constexpr std::uint8_t kHidClass = 3;
constexpr std::uint8_t kBootSubclass = 1;
constexpr std::uint8_t kKeyboardProtocol = 1;
constexpr std::uint16_t kHidPosPage = 0x8C;
constexpr unsigned kControlTimeoutMs = 1000;

// The kernel publishes each HID interface's report descriptor in sysfs (while
// usbhid is bound): /sys/bus/usb/devices/1-4:1.0/0003:0C2E:0B61.0001/report_descriptor.
// A small in-memory read, like libusb's own sysfs reads on this thread.
std::vector<std::uint8_t> sysfs_report_descriptor(libusb_device* dev, std::uint8_t config, std::uint8_t iface) {
  std::uint8_t ports[8];
  const int n = libusb_get_port_numbers(dev, ports, sizeof ports);
  if (n <= 0) return {};
  std::string name = std::to_string(libusb_get_bus_number(dev)) + "-";
  for (int k = 0; k < n; ++k) name += (k ? "." : "") + std::to_string(ports[k]);
  name += ":" + std::to_string(config) + "." + std::to_string(iface);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/bus/usb/devices/" + name, ec)) {
    const std::string leaf = entry.path().filename().string();
    if (leaf.rfind("0003:", 0) != 0) continue;
    std::ifstream in(entry.path() / "report_descriptor", std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!bytes.empty()) return bytes;
  }
  return {};
}

// Frees a config descriptor on scope exit.
struct ConfigDescriptor {
  libusb_config_descriptor* p = nullptr;
  ~ConfigDescriptor() {
    if (p != nullptr) libusb_free_config_descriptor(p);
  }
};

}  // namespace

struct UsbScannerManager::Impl : std::enable_shared_from_this<UsbScannerManager::Impl> {
  struct Device;

  // One control transfer (SET_REPORT, SET_PROTOCOL, CLEAR_FEATURE); owns its
  // buffer; lives in Device::outputs until its callback.
  struct Control {
    Device* device = nullptr;
    libusb_transfer* transfer = nullptr;
    std::vector<std::uint8_t> buffer;
    OutputDone done;
    ~Control() {
      if (transfer != nullptr) libusb_free_transfer(transfer);
    }
  };

  struct Device {
    Impl* owner = nullptr;
    libusb_device* dev = nullptr;  // referenced
    libusb_device_handle* handle = nullptr;
    libusb_transfer* transfer = nullptr;
    std::vector<std::uint8_t> buffer;
    UsbDeviceId id;
    std::uint8_t endpoint = 0;
    bool claimed = false;
    bool in_flight = false;
    bool closing = false;
    bool reopen = false;  // after closing: open again (too many errors)
    int consecutive_errors = 0;
    std::chrono::milliseconds backoff{0};
    std::unique_ptr<asio::steady_timer> retry;
    std::vector<std::unique_ptr<Control>> outputs;
    std::uint64_t reports = 0;
    std::uint64_t errors = 0;
  };

  Impl(UsbContext& c, std::vector<UsbScannerSpec> s, ReportCallback r, UsbOptions o)
      : context(c), specs(std::move(s)), on_report(std::move(r)), options(o), rescan(c.executor()) {}

  UsbContext& context;
  std::vector<UsbScannerSpec> specs;
  ReportCallback on_report;
  ConnectionCallback on_connect;
  UsbOptions options;
  asio::steady_timer rescan;
  bool started = false;
  bool stopped = false;
  bool use_hotplug = false;
  libusb_hotplug_callback_handle hotplug_handle{};
  // Key: (device, interface). Devices stay here until finish_close.
  std::map<std::pair<libusb_device*, std::uint8_t>, std::unique_ptr<Device>> devices;
  std::vector<libusb_device*> pending;  // arrived, referenced, not yet looked at

  mutable std::mutex stats_mutex;
  UsbStats snapshot;  // GUARDED_BY(stats_mutex); refreshed on every change

  bool alive(const Device* d) const {
    return std::any_of(devices.begin(), devices.end(), [d](const auto& e) { return e.second.get() == d; });
  }

  void refresh_stats() {
    std::lock_guard lock(stats_mutex);
    snapshot.hotplug = use_hotplug;
    snapshot.connected.clear();
    for (const auto& [key, d] : devices) {
      if (d->closing) continue;
      snapshot.connected.push_back({d->id, specs[d->id.scanner].name, specs[d->id.scanner].kind, d->reports, d->errors});
    }
  }

  // --- discovery -------------------------------------------------------

  static int LIBUSB_CALL hotplug_cb(libusb_context*, libusb_device* dev, libusb_hotplug_event event, void* user) {
    auto* self = static_cast<Impl*>(user);
    if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
      self->pending.push_back(libusb_ref_device(dev));
      // Opening happens outside libusb's hot-plug callback, on the next turn.
      asio::post(self->context.executor(), [weak = self->weak_from_this()] {
        if (auto s = weak.lock()) s->drain_pending();
      });
    } else {
      self->left(dev);
    }
    return 0;
  }

  void drain_pending() {
    auto list = std::move(pending);
    pending.clear();
    for (libusb_device* dev : list) {
      if (!stopped) arrived(dev);
      libusb_unref_device(dev);
    }
  }

  void left(libusb_device* dev) {
    const auto it = std::find(pending.begin(), pending.end(), dev);
    if (it != pending.end()) {
      libusb_unref_device(*it);
      pending.erase(it);
    }
    std::vector<Device*> gone;
    for (auto& [key, d] : devices) {
      if (key.first == dev) gone.push_back(d.get());
    }
    for (Device* d : gone) {
      spdlog::info("usb: {} ({}) unplugged", specs[d->id.scanner].name, d->id.text());
      begin_close(d, false);
    }
  }

  void rescan_now() {
    libusb_device** list = nullptr;
    const ssize_t n = libusb_get_device_list(context.get(), &list);
    if (n < 0) {
      spdlog::warn("usb: listing devices: {}", libusb_error_name(static_cast<int>(n)));
      return;
    }
    for (ssize_t i = 0; i < n; ++i) arrived(list[i]);
    libusb_free_device_list(list, 1);
  }

  void schedule_rescan() {
    rescan.expires_after(options.rescan_interval);
    rescan.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto s = weak.lock();
      if (ec || !s || s->stopped) return;
      s->rescan_now();
      s->schedule_rescan();
    });
  }

  bool matches(const UsbScannerSpec& spec, const libusb_device_descriptor& dd,
               const libusb_interface_descriptor& alt, libusb_device* dev, std::uint8_t config) const {
    if (spec.vid && *spec.vid != dd.idVendor) return false;
    if (spec.pid && *spec.pid != dd.idProduct) return false;
    // Both kinds are HID; a bare kind selects the usual interface.
    const std::uint8_t cls = spec.interface_class.value_or(kHidClass);
    std::optional<std::uint8_t> sub = spec.interface_subclass, proto = spec.interface_protocol;
    std::optional<std::uint16_t> page = spec.usage_page;
    if (!spec.vid && !spec.interface_class) {
      if (spec.kind == UsbScannerKind::keyboard) {
        sub = kBootSubclass;
        proto = kKeyboardProtocol;
      } else if (!page) {
        page = kHidPosPage;
      }
    }
    if (cls != alt.bInterfaceClass) return false;
    if (sub && *sub != alt.bInterfaceSubClass) return false;
    if (proto && *proto != alt.bInterfaceProtocol) return false;
    if (page) {
      const auto rd = sysfs_report_descriptor(dev, config, alt.bInterfaceNumber);
      if (!report_descriptor_uses_page(rd, *page)) return false;
    }
    return true;
  }

  void arrived(libusb_device* dev) {
    libusb_device_descriptor dd{};
    if (libusb_get_device_descriptor(dev, &dd) != 0) return;
    ConfigDescriptor config;
    if (libusb_get_active_config_descriptor(dev, &config.p) != 0 &&
        libusb_get_config_descriptor(dev, 0, &config.p) != 0) {
      return;
    }
    for (int i = 0; i < config.p->bNumInterfaces; ++i) {
      const libusb_interface& itf = config.p->interface[i];
      if (itf.num_altsetting < 1) continue;
      const libusb_interface_descriptor& alt = itf.altsetting[0];
      if (devices.count({dev, alt.bInterfaceNumber}) != 0) continue;
      const libusb_endpoint_descriptor* in = nullptr;
      for (int e = 0; e < alt.bNumEndpoints; ++e) {
        const auto& ep = alt.endpoint[e];
        if ((ep.bEndpointAddress & LIBUSB_ENDPOINT_IN) != 0 &&
            (ep.bmAttributes & 0x03) == LIBUSB_TRANSFER_TYPE_INTERRUPT) {
          in = &ep;
          break;
        }
      }
      if (in == nullptr) continue;
      for (std::size_t s = 0; s < specs.size(); ++s) {
        if (!matches(specs[s], dd, alt, dev, config.p->bConfigurationValue)) continue;
        UsbDeviceId id{s, libusb_get_bus_number(dev), libusb_get_device_address(dev), dd.idVendor, dd.idProduct,
                       alt.bInterfaceNumber};
        open(dev, id, in->bEndpointAddress, in->wMaxPacketSize, alt.bInterfaceSubClass == kBootSubclass);
        break;
      }
    }
  }

  // --- one device ---------------------------------------------------------

  void open(libusb_device* dev, const UsbDeviceId& id, std::uint8_t endpoint, std::uint16_t packet, bool boot) {
    const UsbScannerSpec& spec = specs[id.scanner];
    libusb_device_handle* handle = nullptr;
    if (const int r = libusb_open(dev, &handle); r != 0) {
      spdlog::warn("usb: cannot open {} ({}): {}{}", spec.name, id.text(), libusb_error_name(r),
                   r == LIBUSB_ERROR_ACCESS ? " (see deploy/udev/70-tally-scanners.rules)" : "");
      return;
    }
    auto d = std::make_unique<Device>();
    d->owner = this;
    d->dev = libusb_ref_device(dev);
    d->handle = handle;
    d->id = id;
    d->endpoint = endpoint;
    d->buffer.assign(std::max<std::size_t>(packet, 8), 0);
    d->retry = std::make_unique<asio::steady_timer>(context.executor());
    Device* raw = d.get();
    devices.emplace(std::make_pair(dev, id.interface), std::move(d));
    if (spec.detach_kernel_driver) {
      if (const int r = libusb_set_auto_detach_kernel_driver(handle, 1); r != 0) {
        spdlog::warn("usb: {}: cannot detach kernel drivers here: {}", spec.name, libusb_error_name(r));
      }
    }
    if (const int r = libusb_claim_interface(handle, id.interface); r != 0) {
      spdlog::warn("usb: cannot claim {} ({}): {}{}", spec.name, id.text(), libusb_error_name(r),
                   r == LIBUSB_ERROR_BUSY ? " (a kernel driver holds it: set detach_kernel_driver = true)" : "");
      begin_close(raw, false);
      return;
    }
    raw->claimed = true;
    raw->transfer = libusb_alloc_transfer(0);
    if (raw->transfer == nullptr) {
      begin_close(raw, false);
      return;
    }
    if (spec.kind == UsbScannerKind::keyboard && boot) {
      // HID 1.11 §7.2.6: SET_PROTOCOL(0) selects the 8-byte boot report.
      control(raw, 0x21, 0x0B, 0, id.interface, {}, {});
    }
    spdlog::info("usb: {} ({}) connected", spec.name, id.text());
    {
      std::lock_guard lock(stats_mutex);
      ++snapshot.connects;
    }
    submit(raw);
    refresh_stats();
    if (on_connect) on_connect(raw->id, true);
  }

  void submit(Device* d) {
    libusb_fill_interrupt_transfer(d->transfer, d->handle, d->endpoint, d->buffer.data(),
                                   static_cast<int>(d->buffer.size()), &Impl::transfer_cb, d, 0);
    const int r = libusb_submit_transfer(d->transfer);
    if (r == 0) {
      d->in_flight = true;
      return;
    }
    if (r == LIBUSB_ERROR_NO_DEVICE) {
      spdlog::info("usb: {} ({}) gone", specs[d->id.scanner].name, d->id.text());
      begin_close(d, false);
      return;
    }
    transfer_failed(d, libusb_error_name(r));
  }

  static void LIBUSB_CALL transfer_cb(libusb_transfer* t) {
    auto* d = static_cast<Device*>(t->user_data);
    d->owner->completed(d, t);
  }

  void completed(Device* d, libusb_transfer* t) {
    d->in_flight = false;
    if (d->closing && t->status != LIBUSB_TRANSFER_COMPLETED) {
      finish_close_if_idle(d);
      return;
    }
    switch (t->status) {
      case LIBUSB_TRANSFER_COMPLETED: {  // delivered even when closing: it was read before the unplug
        d->consecutive_errors = 0;
        d->backoff = std::chrono::milliseconds(0);
        ++d->reports;
        {
          std::lock_guard lock(stats_mutex);
          ++snapshot.reports;
          for (auto& c : snapshot.connected) {
            if (c.id == d->id) c.reports = d->reports;
          }
        }
        if (on_report && t->actual_length > 0) {
          try {
            on_report(d->id, std::span<const std::uint8_t>(t->buffer, static_cast<std::size_t>(t->actual_length)));
          } catch (const std::exception& e) {  // never through libusb's C frames
            spdlog::error("usb: report handler failed: {}", e.what());
          }
          if (!alive(d)) return;  // the handler stopped us
        }
        if (d->closing) {
          finish_close_if_idle(d);
        } else {
          submit(d);
        }
        return;
      }
      case LIBUSB_TRANSFER_TIMED_OUT:
      case LIBUSB_TRANSFER_CANCELLED:
        submit(d);
        return;
      case LIBUSB_TRANSFER_NO_DEVICE:
        spdlog::info("usb: {} ({}) gone", specs[d->id.scanner].name, d->id.text());
        begin_close(d, false);
        return;
      case LIBUSB_TRANSFER_STALL:
        // Clear the halt without blocking (CLEAR_FEATURE ENDPOINT_HALT), then retry.
        control(d, 0x02, 0x01, 0, d->endpoint, {}, {});
        transfer_failed(d, "stall");
        return;
      case LIBUSB_TRANSFER_ERROR:
      case LIBUSB_TRANSFER_OVERFLOW:
      default:
        transfer_failed(d, t->status == LIBUSB_TRANSFER_OVERFLOW ? "overflow" : "transfer error");
        return;
    }
  }

  // Errors come in bursts around suspend/resume and bus resets: retry with a
  // growing pause; after errors_before_reopen in a row, reopen the device.
  void transfer_failed(Device* d, const char* what) {
    ++d->errors;
    ++d->consecutive_errors;
    {
      std::lock_guard lock(stats_mutex);
      ++snapshot.transfer_errors;
    }
    refresh_stats();
    if (d->consecutive_errors >= options.errors_before_reopen) {
      spdlog::warn("usb: {} ({}): {} errors in a row ({}), reopening", specs[d->id.scanner].name, d->id.text(),
                   d->consecutive_errors, what);
      begin_close(d, true);
      return;
    }
    d->backoff = d->backoff.count() == 0 ? options.retry_min : std::min(d->backoff * 2, options.retry_max);
    spdlog::info("usb: {} ({}): {}, retrying in {} ms", specs[d->id.scanner].name, d->id.text(), what,
                 d->backoff.count());
    d->retry->expires_after(d->backoff);
    d->retry->async_wait([weak = weak_from_this(), d](const boost::system::error_code& ec) {
      auto s = weak.lock();
      if (ec || !s || !s->alive(d)) return;  // cancelled: the device is closing
      if (!d->closing && !d->in_flight) s->submit(d);
    });
  }

  // An async control transfer on endpoint 0 (OUT, data `payload`).
  void control(Device* d, std::uint8_t request_type, std::uint8_t request, std::uint16_t value, std::uint16_t index,
               std::span<const std::uint8_t> payload, OutputDone done) {
    auto c = std::make_unique<Control>();
    c->device = d;
    c->done = std::move(done);
    c->transfer = libusb_alloc_transfer(0);
    c->buffer.resize(LIBUSB_CONTROL_SETUP_SIZE + payload.size());
    if (c->transfer == nullptr) {
      if (c->done) c->done(make_error("usb_error", "out of memory"));
      return;
    }
    libusb_fill_control_setup(c->buffer.data(), request_type, request, value, index,
                              static_cast<std::uint16_t>(payload.size()));
    std::copy(payload.begin(), payload.end(), c->buffer.begin() + LIBUSB_CONTROL_SETUP_SIZE);
    libusb_fill_control_transfer(c->transfer, d->handle, c->buffer.data(), &Impl::control_cb, c.get(),
                                 kControlTimeoutMs);
    if (const int r = libusb_submit_transfer(c->transfer); r != 0) {
      if (c->done) c->done(make_error("usb_error", std::string("control transfer: ") + libusb_error_name(r)));
      return;
    }
    d->outputs.push_back(std::move(c));
    context.update_timer();
  }

  static void LIBUSB_CALL control_cb(libusb_transfer* t) {
    auto* c = static_cast<Control*>(t->user_data);
    Device* d = c->device;
    Impl* self = d->owner;
    Result<void> result;
    if (t->status != LIBUSB_TRANSFER_COMPLETED) {
      result = make_error(t->status == LIBUSB_TRANSFER_NO_DEVICE ? "usb_not_connected" : "usb_error",
                          std::string("control transfer: ") + libusb_error_name(t->status == LIBUSB_TRANSFER_NO_DEVICE
                                                                                    ? LIBUSB_ERROR_NO_DEVICE
                                                                                    : LIBUSB_ERROR_IO));
    }
    OutputDone done = std::move(c->done);
    const auto it = std::find_if(d->outputs.begin(), d->outputs.end(), [c](const auto& p) { return p.get() == c; });
    if (it != d->outputs.end()) d->outputs.erase(it);  // frees the transfer (allowed in its callback)
    if (d->closing) self->finish_close_if_idle(d);  // may free d: not used below
    if (done) done(result);
  }

  void begin_close(Device* d, bool reopen) {
    d->reopen = d->reopen || reopen;
    if (!d->closing) {
      d->closing = true;
      d->retry->cancel();
      if (d->in_flight) libusb_cancel_transfer(d->transfer);
      for (const auto& c : d->outputs) libusb_cancel_transfer(c->transfer);
      refresh_stats();
    }
    finish_close_if_idle(d);
  }

  // Frees the device once no transfer of it is in flight any more. Deferred
  // to the next turn of the loop: libusb_close must not run inside libusb's
  // event handling (its callbacks), where most of our calls come from.
  void finish_close_if_idle(Device* d) {
    if (d->in_flight || !d->outputs.empty()) return;
    asio::post(context.executor(), [weak = weak_from_this(), d] {
      auto s = weak.lock();
      if (s && s->alive(d)) s->finish_close_now(d);
    });
  }

  void finish_close_now(Device* d) {
    if (!d->closing || d->in_flight || !d->outputs.empty()) return;
    const auto key = std::make_pair(d->dev, d->id.interface);
    const auto it = devices.find(key);
    if (it == devices.end()) return;
    std::unique_ptr<Device> owned = std::move(it->second);
    devices.erase(it);
    const bool was_connected = owned->claimed;
    if (owned->transfer != nullptr) libusb_free_transfer(owned->transfer);
    if (owned->claimed) libusb_release_interface(owned->handle, owned->id.interface);  // re-attaches the kernel driver
    libusb_close(owned->handle);
    if (was_connected) {
      std::lock_guard lock(stats_mutex);
      ++snapshot.disconnects;
    }
    refresh_stats();
    if (was_connected && on_connect) on_connect(owned->id, false);
    if (owned->reopen && !stopped) {
      // Same libusb_device, fresh handle: picks up a device that stayed on
      // the bus but stopped answering (e.g. after resume).
      pending.push_back(libusb_ref_device(owned->dev));  // stop() unrefs what is still pending
      asio::post(context.executor(), [weak = weak_from_this()] {
        if (auto s = weak.lock()) s->drain_pending();
      });
    }
    libusb_unref_device(owned->dev);
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    rescan.cancel();
    if (use_hotplug && started) libusb_hotplug_deregister_callback(context.get(), hotplug_handle);
    for (libusb_device* dev : pending) libusb_unref_device(dev);
    pending.clear();
    std::vector<Device*> all;
    for (auto& [key, d] : devices) all.push_back(d.get());
    for (Device* d : all) begin_close(d, false);
  }
};

UsbScannerManager::UsbScannerManager(UsbContext& context, std::vector<UsbScannerSpec> specs, ReportCallback on_report,
                                     UsbOptions options)
    : impl_(std::make_shared<Impl>(context, std::move(specs), std::move(on_report), options)) {
  for (auto& s : impl_->specs) {
    if (s.name.empty()) s.name = std::string(to_string(s.kind));
  }
}

UsbScannerManager::~UsbScannerManager() {
  impl_->stop();
  // Cancelled transfers come back through libusb's event handling; wait for
  // them (bounded) so no transfer is freed while the kernel may still write.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!impl_->devices.empty() && std::chrono::steady_clock::now() < deadline) {
    std::vector<Impl::Device*> idle;
    for (auto& [key, d] : impl_->devices) {
      if (!d->in_flight && d->outputs.empty()) idle.push_back(d.get());
    }
    for (auto* d : idle) impl_->finish_close_now(d);  // not inside a libusb callback here
    if (impl_->devices.empty()) break;
    timeval tv{0, 100000};
    libusb_handle_events_timeout_completed(impl_->context.get(), &tv, nullptr);
  }
  if (!impl_->devices.empty()) {
    // Leaked on purpose: freeing a transfer libusb still owns is worse.
    spdlog::error("usb: {} device(s) did not finish closing; leaving them to libusb", impl_->devices.size());
    for (auto& [key, d] : impl_->devices) d.release();
  }
}

void UsbScannerManager::on_connection(ConnectionCallback callback) { impl_->on_connect = std::move(callback); }

Result<void> UsbScannerManager::start() {
  if (impl_->started) return {};
  impl_->started = true;
  impl_->use_hotplug = impl_->options.hotplug && libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) != 0;
  if (impl_->use_hotplug) {
    const int r = libusb_hotplug_register_callback(
        impl_->context.get(),
        static_cast<libusb_hotplug_event>(LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT),
        LIBUSB_HOTPLUG_ENUMERATE, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
        &Impl::hotplug_cb, impl_.get(), &impl_->hotplug_handle);
    if (r != 0) {
      spdlog::warn("usb: hot-plug registration failed ({}); re-enumerating every {} ms instead",
                   libusb_error_name(r), impl_->options.rescan_interval.count());
      impl_->use_hotplug = false;
    }
  } else {
    spdlog::info("usb: no libusb hot-plug here; re-enumerating every {} ms", impl_->options.rescan_interval.count());
  }
  if (!impl_->use_hotplug) {
    impl_->rescan_now();
    impl_->schedule_rescan();
  }
  impl_->refresh_stats();
  return {};
}

void UsbScannerManager::stop() { impl_->stop(); }

void UsbScannerManager::send_output_report(const UsbDeviceId& device, std::vector<std::uint8_t> report,
                                           OutputDone done) {
  Impl::Device* target = nullptr;
  for (auto& [key, d] : impl_->devices) {
    if (d->id == device && !d->closing) target = d.get();
  }
  if (target == nullptr || report.empty()) {
    if (done) {
      done(make_error(target == nullptr ? "usb_not_connected" : "bad_report",
                      target == nullptr ? device.text() + " is not connected" : "an output report needs its report id"));
    }
    return;
  }
  // SET_REPORT: class request to the interface, wValue = (Output=2) << 8 | report id.
  const auto value = static_cast<std::uint16_t>(0x0200 | report[0]);
  const std::span<const std::uint8_t> payload =
      report[0] == 0 ? std::span<const std::uint8_t>(report).subspan(1) : std::span<const std::uint8_t>(report);
  impl_->control(target, 0x21, 0x09, value, device.interface, payload, std::move(done));
}

UsbStats UsbScannerManager::stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->snapshot;
}

}  // namespace tally::device
