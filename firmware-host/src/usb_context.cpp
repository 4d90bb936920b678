// UsbContext: libusb's event handling on the Asio thread (see usb.hpp).
#include <poll.h>

#include <map>
#include <memory>
#include <utility>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <libusb.h>
#include <spdlog/spdlog.h>

#include "tally/device/usb.hpp"

namespace tally::device {

namespace asio = boost::asio;

struct UsbContext::Impl {
  // One libusb poll fd. The descriptor never owns the fd (libusb closes it);
  // it is release()d before libusb does. Handlers hold the Watch, not Impl,
  // and check `removed` before touching anything else.
  struct Watch {
    Watch(asio::any_io_executor ex, int fd, short ev) : descriptor(ex, fd), events(ev) {}
    asio::posix::stream_descriptor descriptor;
    short events;
    bool removed = false;
    Impl* owner = nullptr;
  };

  explicit Impl(asio::any_io_executor ex) : executor(std::move(ex)), timer(executor) {}

  asio::any_io_executor executor;
  libusb_context* ctx = nullptr;
  std::map<int, std::shared_ptr<Watch>> watches;
  asio::steady_timer timer;
  bool fd_timeouts = false;  // libusb's timerfd is one of the poll fds
  bool stopped = false;
  std::uint64_t wakeups = 0;

  void add(int fd, short events) {
    remove(fd);
    if (stopped) return;
    auto w = std::make_shared<Watch>(executor, fd, events);
    w->owner = this;
    watches.emplace(fd, w);
    if ((events & POLLIN) != 0) arm(w, asio::posix::stream_descriptor::wait_read);
    if ((events & POLLOUT) != 0) arm(w, asio::posix::stream_descriptor::wait_write);
  }

  void remove(int fd) {
    const auto it = watches.find(fd);
    if (it == watches.end()) return;
    it->second->removed = true;
    it->second->descriptor.release();  // cancels the waits, leaves the fd open
    watches.erase(it);
  }

  static void arm(const std::shared_ptr<Watch>& w, asio::posix::stream_descriptor::wait_type type) {
    w->descriptor.async_wait(type, [w, type](const boost::system::error_code& ec) {
      if (w->removed) return;
      if (ec) {
        spdlog::warn("usb: waiting on libusb fd {} failed: {}", w->descriptor.native_handle(), ec.message());
        return;
      }
      Impl* self = w->owner;
      self->handle_events();
      if (!w->removed) arm(w, type);  // libusb may have dropped the fd meanwhile
    });
  }

  void handle_events() {
    ++wakeups;
    timeval zero{0, 0};
    const int r = libusb_handle_events_timeout_completed(ctx, &zero, nullptr);
    if (r != 0 && r != LIBUSB_ERROR_INTERRUPTED) {
      spdlog::warn("usb: libusb_handle_events: {}", libusb_error_name(r));
    }
    update_timer();
  }

  void stop() {
    stopped = true;
    while (!watches.empty()) remove(watches.begin()->first);
    timer.cancel();
  }

  void update_timer() {
    if (fd_timeouts || stopped) return;
    timeval tv{};
    const int r = libusb_get_next_timeout(ctx, &tv);
    if (r <= 0) {
      timer.cancel();
      return;
    }
    timer.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
    timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) handle_events();
    });
  }

  static void on_added(int fd, short events, void* user) { static_cast<Impl*>(user)->add(fd, events); }
  static void on_removed(int fd, void* user) { static_cast<Impl*>(user)->remove(fd); }
};

Result<std::unique_ptr<UsbContext>> UsbContext::open(asio::any_io_executor executor, int log_level) {
  auto impl = std::make_unique<Impl>(std::move(executor));
  if (const int r = libusb_init(&impl->ctx); r != 0) {
    return make_error("usb_unavailable", std::string("libusb_init: ") + libusb_error_name(r));
  }
  if (log_level > 0) libusb_set_option(impl->ctx, LIBUSB_OPTION_LOG_LEVEL, log_level);
  impl->fd_timeouts = libusb_pollfds_handle_timeouts(impl->ctx) != 0;
  // Notifiers first, then the fds that already exist, so none is missed.
  libusb_set_pollfd_notifiers(impl->ctx, &Impl::on_added, &Impl::on_removed, impl.get());
  const libusb_pollfd** fds = libusb_get_pollfds(impl->ctx);
  if (fds == nullptr) {
    libusb_set_pollfd_notifiers(impl->ctx, nullptr, nullptr, nullptr);
    libusb_exit(impl->ctx);
    return make_error("usb_unavailable", "libusb_get_pollfds failed");
  }
  for (const libusb_pollfd** p = fds; *p != nullptr; ++p) {
    if (impl->watches.count((*p)->fd) == 0) impl->add((*p)->fd, (*p)->events);
  }
  libusb_free_pollfds(fds);
  return std::unique_ptr<UsbContext>(new UsbContext(std::move(impl)));
}

UsbContext::UsbContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UsbContext::~UsbContext() {
  libusb_set_pollfd_notifiers(impl_->ctx, nullptr, nullptr, nullptr);
  impl_->stop();
  libusb_exit(impl_->ctx);
}

libusb_context* UsbContext::get() const { return impl_->ctx; }
asio::any_io_executor UsbContext::executor() const { return impl_->executor; }
void UsbContext::handle_events() { impl_->handle_events(); }
void UsbContext::stop() { impl_->stop(); }
void UsbContext::update_timer() { impl_->update_timer(); }
std::uint64_t UsbContext::wakeups() const { return impl_->wakeups; }

}  // namespace tally::device
