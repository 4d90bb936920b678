// Footprint benchmark (issue 8, docs/PERFORMANCE.md "Footprint"): what an
// idle tallyd costs a handheld, each figure beside a baseline measured in the
// same run.
//
//   footprint_bench [--idle-s=10] [--runs=5] [--mqtt] [--watchdog-ms=N] [--strict]
//                   [--tallyd=PATH] [--scans=300]
//
//  * stripped binary size (strip -o of the built tallyd) beside /bin/true's;
//  * time from exec to ready: posix_spawn → first READY=1 on a NOTIFY_SOCKET
//    the bench owns (median of --runs), beside posix_spawn → exit of
//    /bin/true; target ≤ 200 ms;
//  * idle RSS (VmRSS and Pss from /proc/PID/{status,smaps_rollup}) one second
//    after READY, beside `sleep`; the decode worker child is shown apart;
//    target ≤ 10 MB;
//  * wake-ups when idle: voluntary + involuntary context switches of every
//    thread of tallyd and its child over --idle-s, per thread, beside
//    `sleep`; target 0 besides the watchdog (--watchdog-ms sets
//    WATCHDOG_USEC to show that cost; --mqtt connects to a real mosquitto);
//  * scan latency, after the idle window: --scans HTTP POST /api/v1/scans of
//    3-scan moves (every third scan records a durable movement), median and
//    p99 per kind, beside a GET /api/v1/status round trip on the same
//    connection (no journal).
//
// --tallyd: measure another tallyd binary (default: the one built beside it),
// e.g. a copy from before a change, to compare both on the same machine.
// --strict: exit 1 when a target is missed (not used by ctest: figures on a
// shared machine are noisy; the smoke test only checks that it runs).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_args.hpp"
#include "daemon.hpp"
#include "http_client.hpp"
#include "mosquitto.hpp"
#include "notify_socket.hpp"
#include "temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double p99(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, v.size() * 99 / 100)];
}

// Round trips on one keep-alive connection, in ms.
struct Latency {
  std::vector<double> status;    // GET /api/v1/status
  std::vector<double> accepted;  // a scan journaled without a movement (the bins)
  std::vector<double> recorded;  // a scan that records a movement (201)
  std::string error;
};

Latency scan_latency(std::uint16_t port, int scans) {
  Latency out;
  tally::test::HttpClient c(port);
  const auto post = [&c](const std::string& text) {
    return c.post_json("/api/v1/scans", R"({"text":")" + text + R"("})");
  };
  if (post("OP:bench").status != 200 || post("CMD:MOVE").status != 200) {
    out.error = "sign-in refused";
    return out;
  }
  for (int i = 0; i < scans; ++i) {
    const int step = i % 3;
    const std::string text = step == 0 ? "A-01-01-1" : step == 1 ? "4006381333931" : "B-01-01-1";
    auto t0 = Clock::now();
    const auto r = post(text);
    const double ms = ms_since(t0);
    if (r.status / 100 != 2) {
      out.error = text + " answered " + std::to_string(r.status) + ": " + r.body;
      return out;
    }
    (r.status == 201 ? out.recorded : out.accepted).push_back(ms);
    t0 = Clock::now();
    (void)c.get("/api/v1/status");
    out.status.push_back(ms_since(t0));
  }
  return out;
}

pid_t spawn(const std::vector<std::string>& argv_s) {
  std::vector<std::string> storage = argv_s;
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    throw std::runtime_error("posix_spawn " + argv_s[0]);
  }
  return pid;
}

// A "Key:   value kB" line of /proc/PID/status or smaps_rollup, in kB.
std::optional<long> proc_kb(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  }
  return std::nullopt;
}

struct TaskSwitches {
  std::string name;
  long switches = 0;
};

// Every thread of pid and of its children (the decode worker), by "pid/tid".
std::map<std::string, TaskSwitches> switches_of(pid_t pid) {
  std::map<std::string, TaskSwitches> out;
  std::vector<pid_t> pids{pid};
  {
    std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    pid_t c = 0;
    while (children >> c) pids.push_back(c);
  }
  for (pid_t p : pids) {
    const fs::path tasks = "/proc/" + std::to_string(p) + "/task";
    std::error_code ec;
    for (const auto& t : fs::directory_iterator(tasks, ec)) {
      const std::string status = (t.path() / "status").string();
      const long v = proc_kb(status, "voluntary_ctxt_switches").value_or(0);
      const long n = proc_kb(status, "nonvoluntary_ctxt_switches").value_or(0);
      std::ifstream comm(t.path() / "comm");
      std::string name;
      std::getline(comm, name);
      if (p != pid) name = "child:" + name;
      out[std::to_string(p) + "/" + t.path().filename().string()] = {name, v + n};
    }
  }
  return out;
}

struct Wakeups {
  double per_s = 0;
  std::vector<std::pair<std::string, long>> by_thread;  // name, switches over the window
};

Wakeups idle_wakeups(pid_t pid, double seconds) {
  const auto before = switches_of(pid);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const auto after = switches_of(pid);
  Wakeups w;
  long total = 0;
  for (const auto& [id, a] : after) {
    const auto it = before.find(id);
    const long d = a.switches - (it == before.end() ? 0 : it->second.switches);
    total += d;
    w.by_thread.emplace_back(a.name + " (" + id + ")", d);
  }
  w.per_s = static_cast<double>(total) / seconds;
  return w;
}


}  // namespace

int main(int argc, char** argv) {
  using tally::bench::arg_value;
  using tally::bench::has_flag;
  const double idle_s = std::stod(arg_value(argc, argv, "idle-s", "10"));
  const int runs = std::stoi(arg_value(argc, argv, "runs", "5"));
  const long watchdog_ms = std::stol(arg_value(argc, argv, "watchdog-ms", "0"));
  const bool with_mqtt = has_flag(argc, argv, "mqtt");
  const bool strict = has_flag(argc, argv, "strict");
  const int scans = std::stoi(arg_value(argc, argv, "scans", "300"));
  const std::string tallyd = arg_value(argc, argv, "tallyd", TALLYD_PATH);
  ::signal(SIGPIPE, SIG_IGN);

  tally::test::TempDir dir("footprint-bench");
  std::unique_ptr<tally::test::Mosquitto> broker;
  if (with_mqtt) broker = std::make_unique<tally::test::Mosquitto>();

  // --- binary size
  const std::string stripped = (dir.path() / "tallyd.stripped").string();
  if (std::system(("strip -o '" + stripped + "' '" + tallyd + "'").c_str()) != 0) {
    std::cerr << "strip failed\n";
    return 1;
  }
  const auto size = fs::file_size(stripped);
  const auto true_size = fs::file_size("/bin/true");

  // --- start time: baseline /bin/true spawn → exit
  std::vector<double> true_ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    const pid_t p = spawn({"/bin/true"});
    int st = 0;
    ::waitpid(p, &st, 0);
    true_ms.push_back(ms_since(t0));
  }

  // --- tallyd: spawn → READY=1 (a fresh journal each run: the first start creates it)
  std::vector<double> ready_ms;
  double rss_kb = 0, pss_kb = 0, child_rss_kb = 0;
  Wakeups wake;
  Latency latency;
  for (int i = 0; i < runs; ++i) {
    const fs::path data = dir.path() / ("data-" + std::to_string(i));
    const std::string sock = (dir.path() / ("notify-" + std::to_string(i) + ".sock")).string();
    tally::test::NotifySocket notify(sock);
    ::setenv("NOTIFY_SOCKET", sock.c_str(), 1);
    if (watchdog_ms > 0) ::setenv("WATCHDOG_USEC", std::to_string(watchdog_ms * 1000).c_str(), 1);
    const auto t0 = Clock::now();
    tally::test::Daemon d(tallyd, {"--data-dir", data.string(), "--device-id", "bench-1", "--site", "bench",
                                   "--http", "127.0.0.1:0", "--log-level", "warn", "--mqtt",
                                   broker ? broker->uri() : std::string()});
    auto ready = notify.wait_for("READY=1", 15s);
    const double ms = ms_since(t0);
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    if (!ready) {
      std::cerr << "tallyd sent no READY=1: " << d.drain_stderr() << '\n';
      return 1;
    }
    ready_ms.push_back(ms);
    if (i + 1 == runs) {  // the last run also measures memory and idle wake-ups
      std::this_thread::sleep_for(1s);
      const std::string proc = "/proc/" + std::to_string(d.pid());
      rss_kb = static_cast<double>(proc_kb(proc + "/status", "VmRSS").value_or(0));
      pss_kb = static_cast<double>(proc_kb(proc + "/smaps_rollup", "Pss").value_or(0));
      std::ifstream children(proc + "/task/" + std::to_string(d.pid()) + "/children");
      pid_t child = 0;
      if (children >> child) {
        child_rss_kb =
            static_cast<double>(proc_kb("/proc/" + std::to_string(child) + "/status", "VmRSS").value_or(0));
      }
      wake = idle_wakeups(d.pid(), idle_s);
      latency = scan_latency(d.wait_listening(), scans);
      if (!latency.error.empty()) {
        std::cerr << "footprint_bench: scan latency: " << latency.error << '\n';
        return 1;
      }
    }
    d.signal(SIGTERM);
    d.wait();
  }

  // --- baseline for memory and wake-ups: an idle `sleep`
  const pid_t sleeper = spawn({"/bin/sleep", "600"});
  std::this_thread::sleep_for(300ms);
  const double sleep_rss = static_cast<double>(
      proc_kb("/proc/" + std::to_string(sleeper) + "/status", "VmRSS").value_or(0));
  const Wakeups sleep_wake = idle_wakeups(sleeper, idle_s);
  ::kill(sleeper, SIGKILL);
  int st = 0;
  ::waitpid(sleeper, &st, 0);

  const double ready = median(ready_ms);
  const double base = median(true_ms);
  std::printf("footprint_bench: %s\n", tallyd.c_str());
  std::printf("footprint_bench: %d runs, idle window %.1f s, mqtt %s, watchdog %s\n", runs, idle_s,
              with_mqtt ? "connected (real mosquitto)" : "off",
              watchdog_ms > 0 ? (std::to_string(watchdog_ms) + " ms").c_str() : "off");
  std::printf("  stripped binary   tallyd %8.2f MiB   /bin/true %6.1f KiB   ratio %.0fx\n",
              static_cast<double>(size) / 1048576.0, static_cast<double>(true_size) / 1024.0,
              static_cast<double>(size) / static_cast<double>(true_size));
  std::printf("  exec → ready      tallyd %8.1f ms    /bin/true %6.2f ms    ratio %.0fx   (target ≤ 200 ms)\n",
              ready, base, ready / base);
  std::printf("  idle RSS          tallyd %8.2f MB (Pss %.2f MB)   sleep %.2f MB   ratio %.1fx   (target ≤ 10 MB)\n",
              rss_kb / 1024.0, pss_kb / 1024.0, sleep_rss / 1024.0, rss_kb / sleep_rss);
  std::printf("                    decode worker child %.2f MB VmRSS (forked before any thread; shares pages)\n",
              child_rss_kb / 1024.0);
  std::printf("  idle wake-ups     tallyd %8.2f /s    sleep %.2f /s   (target 0 besides the watchdog)\n", wake.per_s,
              sleep_wake.per_s);
  for (const auto& [name, n] : wake.by_thread) {
    if (n > 0) std::printf("                    %-40s %ld switches\n", name.c_str(), n);
  }
  const double status_ms = median(latency.status);
  std::printf("  scan latency      recorded (201, fsync) median %.3f ms p99 %.3f ms   ratio %.1fx\n",
              median(latency.recorded), p99(latency.recorded), median(latency.recorded) / status_ms);
  std::printf("                    accepted (200)        median %.3f ms p99 %.3f ms   ratio %.1fx\n",
              median(latency.accepted), p99(latency.accepted), median(latency.accepted) / status_ms);
  std::printf("                    GET status (baseline) median %.3f ms p99 %.3f ms   (%zu scans)\n", status_ms,
              p99(latency.status), latency.recorded.size() + latency.accepted.size());
  bool ok = ready <= 200 && rss_kb <= 10 * 1024;
  if (watchdog_ms == 0 && !with_mqtt) ok = ok && wake.per_s == 0;
  if (strict && !ok) {
    std::printf("footprint_bench: a target was missed\n");
    return 1;
  }
  return 0;
}
