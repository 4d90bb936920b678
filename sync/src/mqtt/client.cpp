#include "tally/mqtt/client.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include <MQTTAsync.h>

#include <mqtt/async_client.h>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tally::mqtt {
namespace {

// Paho's TLS build initialises OpenSSL (config, providers, error strings) in
// the first MQTTAsync_create, TLS or not: about 3 MB of resident libcrypto
// pages in an idle tallyd on a plain loopback broker. OpenSSL 3 initialises
// itself on first use, so leave it to OpenSSL: a TLS connection (or the hash
// chain's first SHA-256) pays for it when it happens.
void leave_openssl_init_to_openssl() {
  static std::once_flag once;
  std::call_once(once, [] {
    MQTTAsync_init_options init = MQTTAsync_init_options_initializer;
    init.do_openssl_init = 0;
    MQTTAsync_global_init(&init);
  });
}

// An iaction_listener calling std::functions (on Paho's thread).
class Listener final : public ::mqtt::iaction_listener {
 public:
  std::function<void(const ::mqtt::token&)> success;
  std::function<void(const ::mqtt::token&)> failure;

 private:
  void on_success(const ::mqtt::token& tok) override {
    if (success) success(tok);
  }
  void on_failure(const ::mqtt::token& tok) override {
    if (failure) failure(tok);
  }
};

std::string describe_failure(const ::mqtt::token& tok) {
  const int rc = tok.get_return_code();
  const int reason = static_cast<int>(tok.get_reason_code());
  std::string text = ::mqtt::exception::error_str(rc) + " (rc " + std::to_string(rc) + ")";
  if (reason != 0)
    text += ", reason " + ::mqtt::exception::reason_code_str(reason) + " (" + std::to_string(reason) + ")";
  return text;
}

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  boost::asio::any_io_executor executor;
  ConnectOptions options;
  Handlers handlers;
  // Executor thread only.
  bool is_connected = false;
  bool is_connecting = false;
  bool closing = false;
  std::uint64_t connect_attempt = 0;

  // Listeners outlive the Paho client (declared before it: destroyed after).
  Listener connect_listener;
  Listener subscribe_listener;
  Listener disconnect_listener;  // disconnect_async
  std::unique_ptr<::mqtt::connect_options> connect_opts;  // the last attempt's (kept alive)
  std::uint64_t next_subscribe_id = 0;
  std::map<std::uint64_t, std::function<void(Result<void>)>> subscribe_done;  // by id
  std::unique_ptr<::mqtt::async_client> cli;

  Impl(boost::asio::any_io_executor ex, ConnectOptions o, Handlers h)
      : executor(std::move(ex)), options(std::move(o)), handlers(std::move(h)) {}

  ~Impl() {
    if (cli) {
      try {
        cli->disable_callbacks();
      } catch (...) {
      }
    }
  }

  // Runs `fn` on the executor if this Impl still exists by then.
  template <typename Fn>
  static void post(const std::weak_ptr<Impl>& weak, const boost::asio::any_io_executor& ex, Fn fn) {
    boost::asio::post(ex, [weak, fn = std::move(fn)]() mutable {
      if (auto self = weak.lock()) fn(*self);
    });
  }

  // Built with setters on one object, never through connect_options_builder:
  // Paho C++ 1.2.0's builder (finalize() copies) leaves the C struct's
  // connectProperties/willProperties pointing at freed memory (upstream
  // issues #362/#444), which crashed in MQTTAsync_connect or silently lost
  // the Session-Expiry-Interval.
  void fill_connect_options(::mqtt::connect_options& o) const {
    o.set_mqtt_version(MQTTVERSION_5);
    o.set_clean_start(options.clean_start);
    o.set_keep_alive_interval(options.keepalive);
    o.set_connect_timeout(options.connect_timeout);
    o.set_automatic_reconnect(false);
    if (options.session_expiry.count() > 0) {
      o.set_properties(::mqtt::properties{
          {::mqtt::property::SESSION_EXPIRY_INTERVAL,
           static_cast<std::int32_t>(std::min<std::int64_t>(options.session_expiry.count(), 0x7fffffff))}});
    }
    if (options.will) {
      o.set_will(
          ::mqtt::will_options(options.will->topic, options.will->payload, options.will->qos, options.will->retain));
    }
    if (!options.username.empty()) o.set_user_name(options.username);
    if (!options.password.empty()) o.set_password(options.password);
    if (options.uri.rfind("ssl://", 0) == 0 || options.uri.rfind("mqtts://", 0) == 0) {
      ::mqtt::ssl_options ssl;
      if (!options.tls.ca_file.empty()) ssl.set_trust_store(options.tls.ca_file);
      if (!options.tls.cert_file.empty()) ssl.set_key_store(options.tls.cert_file);
      if (!options.tls.key_file.empty()) ssl.set_private_key(options.tls.key_file);
      ssl.set_enable_server_cert_auth(true);
      // Also check that the broker's certificate names the host of the URI
      // (its SAN, deploy/certs broker); Paho skips that unless asked.
      ssl.set_verify(true);
      o.set_ssl(ssl);
    }
  }

  void install_callbacks() {
    std::weak_ptr<Impl> weak = weak_from_this();
    const auto ex = executor;
    cli->set_connection_lost_handler([weak, ex](const std::string& cause) {
      post(weak, ex, [cause](Impl& self) { self.on_lost(cause.empty() ? "connection lost" : cause); });
    });
    cli->set_disconnected_handler([weak, ex](const ::mqtt::properties&, ::mqtt::ReasonCode reason) {
      const int code = static_cast<int>(reason);
      post(weak, ex, [code](Impl& self) {
        self.on_lost("broker sent DISCONNECT: " + ::mqtt::exception::reason_code_str(code) + " (" +
                     std::to_string(code) + ")");
      });
    });
    cli->set_message_callback([weak, ex](::mqtt::const_message_ptr msg) {
      if (!msg) return;
      Message m{msg->get_topic(), msg->to_string(), msg->get_qos(), msg->is_retained(), msg->is_duplicate()};
      post(weak, ex, [m = std::move(m)](Impl& self) mutable {
        if (self.handlers.message) self.handlers.message(std::move(m));
      });
    });
    connect_listener.success = [weak, ex](const ::mqtt::token& tok) {
      bool session_present = false;
      try {
        session_present = tok.get_connect_response().is_session_present();
      } catch (...) {
      }
      post(weak, ex, [session_present](Impl& self) { self.on_connected(session_present); });
    };
    connect_listener.failure = [weak, ex](const ::mqtt::token& tok) {
      std::string reason = describe_failure(tok);
      post(weak, ex, [reason = std::move(reason)](Impl& self) { self.on_connect_failed(reason); });
    };
    const auto id_of = [](const ::mqtt::token& tok) {
      return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(tok.get_user_context()));
    };
    subscribe_listener.success = [weak, ex, id_of](const ::mqtt::token& tok) {
      const std::uint64_t id = id_of(tok);
      int refused = 0;
      try {
        const ::mqtt::subscribe_response response = tok.get_subscribe_response();
        const std::vector<::mqtt::ReasonCode>& codes = response.get_reason_codes();
        for (std::size_t i = 0; i < codes.size(); ++i) {
          if (static_cast<int>(codes[i]) >= 0x80) refused = static_cast<int>(codes[i]);
        }
      } catch (...) {
      }
      post(weak, ex, [id, refused](Impl& self) {
        if (refused == 0) {
          self.finish_subscribe(id, {});
        } else {
          self.finish_subscribe(
              id, make_error("mqtt_subscribe_refused",
                             "broker refused a subscription: " + ::mqtt::exception::reason_code_str(refused)));
        }
      });
    };
    subscribe_listener.failure = [weak, ex, id_of](const ::mqtt::token& tok) {
      const std::uint64_t id = id_of(tok);
      std::string reason = describe_failure(tok);
      post(weak, ex, [id, reason = std::move(reason)](Impl& self) {
        self.finish_subscribe(id, make_error("mqtt_subscribe_failed", reason));
      });
    };
  }

  // Executor thread: calls (later) and forgets the `done` of subscribe `id`.
  void finish_subscribe(std::uint64_t id, Result<void> r) {
    auto it = subscribe_done.find(id);
    if (it == subscribe_done.end()) return;
    auto done = std::move(it->second);
    subscribe_done.erase(it);
    boost::asio::post(executor, [weak = weak_from_this(), done = std::move(done), r = std::move(r)]() mutable {
      if (weak.lock()) done(std::move(r));
    });
  }

  void on_connected(bool session_present) {
    if (closing) return;
    is_connecting = false;
    is_connected = true;
    if (handlers.connected) handlers.connected(session_present);
  }
  void on_connect_failed(const std::string& reason) {
    if (closing) return;
    is_connecting = false;
    is_connected = false;
    if (handlers.connect_failed) handlers.connect_failed(reason);
  }
  void on_lost(const std::string& reason) {
    if (closing || !is_connected) return;  // a DISCONNECT and the lost callback may both come
    is_connected = false;
    if (handlers.connection_lost) handlers.connection_lost(reason);
  }

  void connect() {
    if (closing || is_connected || is_connecting) return;
    is_connecting = true;
    try {
      connect_opts = std::make_unique<::mqtt::connect_options>();
      fill_connect_options(*connect_opts);
      cli->connect(*connect_opts, nullptr, connect_listener);
    } catch (const ::mqtt::exception& e) {
      // Report asynchronously, like any other failed attempt.
      is_connecting = false;
      std::weak_ptr<Impl> weak = weak_from_this();
      std::string reason = e.what();
      post(weak, executor, [reason = std::move(reason)](Impl& self) {
        if (self.handlers.connect_failed && !self.closing) self.handlers.connect_failed(reason);
      });
    }
  }
};

Client::Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() { impl_->closing = true; }

Result<std::unique_ptr<Client>> Client::create(boost::asio::any_io_executor executor, ConnectOptions options,
                                               Handlers handlers) {
  if (options.uri.empty()) return make_error("mqtt_bad_options", "empty broker URI");
  if (options.client_id.empty()) return make_error("mqtt_bad_options", "empty client id");
  auto impl = std::make_shared<Impl>(std::move(executor), std::move(options), std::move(handlers));
  try {
    leave_openssl_init_to_openssl();
    const auto create_opts = ::mqtt::create_options_builder().mqtt_version(MQTTVERSION_5).finalize();
    // nullptr persistence = MQTTCLIENT_PERSISTENCE_NONE.
    impl->cli =
        std::make_unique<::mqtt::async_client>(impl->options.uri, impl->options.client_id, create_opts, nullptr);
  } catch (const std::exception& e) {
    return make_error("mqtt_bad_options",
                      std::string("cannot create MQTT client for ") + impl->options.uri + ": " + e.what());
  }
  impl->install_callbacks();
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

void Client::connect() { impl_->connect(); }

void Client::disconnect(std::chrono::milliseconds timeout) {
  impl_->closing = true;
  const bool was_connected = impl_->is_connected;
  impl_->is_connected = false;
  impl_->is_connecting = false;
  if (!was_connected) return;
  try {
    auto opts = ::mqtt::disconnect_options_builder().timeout(timeout).finalize();
    impl_->cli->disconnect(std::move(opts))->wait_for(timeout + std::chrono::milliseconds(500));
  } catch (...) {
  }
}

namespace {

// What a disconnect_async in flight keeps: the Impl (so the Paho client
// outlives the Client), `done`, and a work-tracking executor. Released once,
// by the first of Paho's success/failure callbacks, a throwing call, or the
// `bound` timer: Paho reports nothing when the connection dies while the
// DISCONNECT is under way (a broker killed as tallyd stops), and the work
// held here would keep the io_context's run() from ever returning.
template <typename ImplPtr>
struct PendingDisconnect : std::enable_shared_from_this<PendingDisconnect<ImplPtr>> {
  std::mutex mutex;
  ImplPtr keep;
  std::function<void()> done;
  std::optional<boost::asio::any_io_executor> work;
  std::optional<boost::asio::steady_timer> bound;  // executor thread only

  // Any thread.
  void finish() {
    ImplPtr k;
    std::function<void()> d;
    std::optional<boost::asio::any_io_executor> w;
    {
      std::lock_guard lock(mutex);
      if (!keep) return;
      k = std::move(keep);
      d = std::move(done);
      w = std::move(work);
      work.reset();
    }
    // The Impl is released on the executor (or when its io_context is destroyed).
    boost::asio::post(*w, [self = this->shared_from_this(), k = std::move(k), d = std::move(d)]() mutable {
      if (self->bound) self->bound->cancel();
      if (d) d();
      k.reset();
    });
  }
};

// How long past its own timeout a DISCONNECT may take before it is given up
// (Paho's own timeout has passed by then: nothing more will come).
constexpr std::chrono::milliseconds kDisconnectGrace{200};

}  // namespace

void Client::disconnect_async(std::chrono::milliseconds timeout, std::function<void()> done) {
  Impl& impl = *impl_;
  impl.closing = true;
  const bool was_connected = impl.is_connected;
  impl.is_connected = false;
  impl.is_connecting = false;
  boost::asio::any_io_executor work = boost::asio::prefer(impl.executor, boost::asio::execution::outstanding_work.tracked);
  if (!was_connected) {
    boost::asio::post(work, [done = std::move(done)] {
      if (done) done();
    });
    return;
  }
  auto pending = std::make_shared<PendingDisconnect<std::shared_ptr<Impl>>>();
  pending->keep = impl_;
  pending->done = std::move(done);
  pending->work = std::move(work);
  pending->bound.emplace(impl.executor, timeout + kDisconnectGrace);
  pending->bound->async_wait([pending](const boost::system::error_code& ec) {
    if (!ec) pending->finish();  // Paho never reported: give the DISCONNECT up
  });
  impl.disconnect_listener.success = [pending](const ::mqtt::token&) { pending->finish(); };
  impl.disconnect_listener.failure = [pending](const ::mqtt::token&) { pending->finish(); };
  try {
    impl.cli->disconnect(timeout, nullptr, impl.disconnect_listener);
  } catch (...) {
    pending->finish();
  }
}

Result<void> Client::publish(const std::string& topic, const std::string& payload, int qos, bool retain) {
  if (!impl_->is_connected) return make_error("mqtt_not_connected", "not connected to the broker");
  try {
    impl_->cli->publish(topic, payload.data(), payload.size(), qos, retain);
  } catch (const ::mqtt::exception& e) {
    return make_error("mqtt_publish_failed", e.what());
  }
  return {};
}

void Client::subscribe(const std::vector<std::pair<std::string, int>>& filters,
                       std::function<void(Result<void>)> done) {
  Impl& impl = *impl_;
  const std::uint64_t id = ++impl.next_subscribe_id;
  if (done) impl.subscribe_done.emplace(id, std::move(done));
  if (!impl.is_connected) {
    impl.finish_subscribe(id, make_error("mqtt_not_connected", "not connected to the broker"));
    return;
  }
  try {
    std::vector<std::string> names;
    std::vector<int> qos;
    for (const auto& [f, q] : filters) {
      names.push_back(f);
      qos.push_back(q);
    }
    auto topics = ::mqtt::string_collection::create(std::move(names));
    // The id travels as Paho's user context; the listener posts it back.
    impl.cli->subscribe(topics, ::mqtt::iasync_client::qos_collection(qos.begin(), qos.end()),
                        reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)), impl.subscribe_listener);
  } catch (const ::mqtt::exception& e) {
    impl.finish_subscribe(id, make_error("mqtt_subscribe_failed", e.what()));
  }
}

void Client::set_will(std::optional<Will> will) { impl_->options.will = std::move(will); }

bool Client::connected() const { return impl_->is_connected; }
bool Client::connecting() const { return impl_->is_connecting; }
const ConnectOptions& Client::options() const { return impl_->options; }


Result<void> check_tls_files(const std::string& uri, const Tls& tls) {
  const auto bad = [](std::string message) { return make_error("bad_config", std::move(message)); };
  if (uri.empty() || (tls.ca_file.empty() && tls.cert_file.empty() && tls.key_file.empty())) return {};
  if (uri.rfind("ssl://", 0) != 0 && uri.rfind("mqtts://", 0) != 0) {
    return bad("mqtt.ca_file/cert_file/key_file need an ssl:// or mqtts:// uri, got '" + uri + "'");
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return bad("mqtt.cert_file and mqtt.key_file must be given together");
  }
  for (const auto& [name, path] : {std::pair<const char*, const std::string&>{"ca_file", tls.ca_file},
                                   std::pair<const char*, const std::string&>{"cert_file", tls.cert_file},
                                   std::pair<const char*, const std::string&>{"key_file", tls.key_file}}) {
    if (path.empty()) continue;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return bad(std::string("mqtt.") + name + " '" + path + "' does not exist or is not a file");
    }
    std::ifstream in(path);
    if (!in || in.peek() == std::ifstream::traits_type::eof()) {
      return bad(std::string("mqtt.") + name + " '" + path + "' cannot be read or is empty");
    }
  }
  return {};
}

}  // namespace tally::mqtt
