// ThreadSanitizer canary (tsan preset only, issue 9): proves that the options
// the tsan preset runs the suite with (CMakePresets.json, TSAN_OPTIONS with
// ignore_noninstrumented_modules=1, docs/PERFORMANCE.md "Sanitizers") still
// report a data race in Tally's own code when one side of it runs on a Paho
// thread. Those options stop TSan from reporting accesses made inside the
// Debian libraries that are not built with TSan (Paho, glib, libudev); this
// makes sure they do not also hide races in instrumented callbacks that
// those libraries call.
//
// A real Paho client subscribes to a topic on a real mosquitto;
// mosquitto_pub (another process) then publishes to it. The message callback
// (Paho's receive thread) writes a plain int that the main thread then reads
// with no synchronisation at all: after subscribing it only waits for
// mosquitto_pub and sleeps, never touching Paho until after the read, so no
// Paho mutex can order the two. ctest expects TSan's "data race" report
// naming this file; a clean exit fails.
#include <mqtt/async_client.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "mosquitto.hpp"

namespace {

int g_unsynchronised = 0;  // the race: written by Paho's thread, read by main

struct Callback : mqtt::callback {
  void message_arrived(mqtt::const_message_ptr) override { g_unsynchronised = 1; }
};

}  // namespace

int main() {
  tally::test::Mosquitto broker;
  broker.start();
  mqtt::async_client client(broker.uri(), "tsan-canary", mqtt::create_options(MQTTVERSION_5));
  Callback callback;
  client.set_callback(callback);
  client.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize())
      ->wait();
  client.subscribe("canary", 1)->wait();
  // Publishing through this process's Paho (even another client: Paho C's
  // threads are shared) could order the callback before the read through
  // Paho's mutexes, and hide the race. A separate process cannot.
  const std::string pub = "mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker.port()) + " -t canary -m x";
  if (std::system(pub.c_str()) != 0) {
    std::fprintf(stderr, "tsan_canary: '%s' failed\n", pub.c_str());
    return 2;
  }
  for (int i = 0; i < 50; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int seen = g_unsynchronised;
  std::printf("callback ran: %d\n", seen);
  client.disconnect()->wait();
  return 0;
}
