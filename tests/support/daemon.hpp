// Test helper: runs a real binary (tallyd) as a child process, captures its
// stdout/stderr, waits for the line that says where it listens, and stops or
// kills it. Header-only; POSIX.
//
// stderr goes to an anonymous in-memory file, not a pipe: a chatty child
// (mosquitto logs every connect) must never block on a full pipe that the
// test only reads when something failed. stdout stays a pipe because tests
// wait on its lines.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace tally::test {

struct ExitStatus {
  int code = -1;    // exit code when exited normally
  int signal = 0;   // terminating signal, if any
};

class Daemon {
 public:
  // Starts `path args…` with stdout and stderr on pipes; stdin is /dev/null
  // or, with pipe_stdin, a pipe that write_stdin() feeds.
  Daemon(const std::string& path, const std::vector<std::string>& args, bool pipe_stdin = false) {
    int out[2];
    int in[2] = {-1, -1};
    ::signal(SIGPIPE, SIG_IGN);  // a dead child must fail a write, not kill the test
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    err_ = ::memfd_create("daemon-stderr", MFD_CLOEXEC);
    if (err_ < 0) throw std::runtime_error("memfd_create");
    if (pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (pipe_stdin) {
      posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    } else {
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_, 2);
    std::vector<std::string> storage{path};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (pipe_stdin) {
      ::close(in[0]);
      in_ = in[1];
    }
    out_ = out[0];
    if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
  }

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  ~Daemon() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    close_stdin();
    ::close(out_);
    ::close(err_);
  }

  // Types into the child's stdin (REQUIRES: started with pipe_stdin).
  void write_stdin(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(in_, text.data() + done, text.size() - done);
      if (n <= 0) throw std::runtime_error("write to stdin failed");
      done += static_cast<std::size_t>(n);
    }
  }
  void close_stdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

  // Reads stdout until a line matches `pattern` (ECMAScript) or the timeout
  // passes or the process exits; returns the first capture group (or the line).
  std::optional<std::string> wait_for_line(const std::string& pattern,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const std::regex re(pattern);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto nl = stdout_.find('\n'); nl != std::string::npos; nl = stdout_.find('\n')) {
        std::string line = stdout_.substr(0, nl);
        stdout_.erase(0, nl + 1);
        lines_.push_back(line);
        std::smatch m;
        if (std::regex_search(line, m, re)) return m.size() > 1 ? m[1].str() : line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      if (!read_some(out_, stdout_, static_cast<int>(left.count()))) return std::nullopt;  // EOF
    }
  }

  // Waits for "listening on http://HOST:PORT" and returns the port.
  std::uint16_t wait_listening() {
    auto port = wait_for_line(R"(listening on http://[^ ]*:(\d+))");
    if (!port) throw std::runtime_error("tallyd did not start listening; stderr: " + drain_stderr());
    return static_cast<std::uint16_t>(std::stoi(*port));
  }

  void signal(int signo) { ::kill(pid_, signo); }
  void kill9() {
    ::kill(pid_, SIGKILL);
    wait();
  }

  // Waits for the process to end (up to `timeout`, then SIGKILL).
  ExitStatus wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    if (exited_) return status_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int st = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        break;
      }
      ::usleep(5000);  // a child's exit has no fd to wait on here; tests only
    }
    exited_ = true;
    if (WIFEXITED(st)) status_.code = WEXITSTATUS(st);
    if (WIFSIGNALED(st)) status_.signal = WTERMSIG(st);
    return status_;
  }

  bool running() const { return !exited_; }
  pid_t pid() const { return pid_; }

  // True once the process has exited (reaps it without blocking).
  bool has_exited() {
    if (exited_) return true;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) != pid_) return false;
    exited_ = true;
    if (WIFEXITED(st)) status_.code = WEXITSTATUS(st);
    if (WIFSIGNALED(st)) status_.signal = WTERMSIG(st);
    return true;
  }

  // Everything written to stderr so far.
  std::string drain_stderr() {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::pread(err_, buf, sizeof buf, static_cast<off_t>(stderr_.size()));
      if (n <= 0) break;
      stderr_.append(buf, static_cast<std::size_t>(n));
    }
    return stderr_;
  }
  const std::vector<std::string>& stdout_lines() const { return lines_; }

  // Reads stdout until the process closes it (or the timeout passes).
  std::string read_stdout_to_end(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && read_some(out_, stdout_, 200)) {
    }
    return stdout_;
  }

 private:
  // Reads what is available within timeout_ms; false on EOF or nothing.
  static bool read_some(int fd, std::string& into, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return timeout_ms > 0;  // timeout: caller re-checks the deadline
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    into.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string stdout_;
  std::string stderr_;
  std::vector<std::string> lines_;
  bool exited_ = false;
  ExitStatus status_;
};

// Runs a command to completion and returns its exit status and stderr.
inline std::pair<ExitStatus, std::string> run_to_end(const std::string& path, const std::vector<std::string>& args) {
  Daemon d(path, args);
  d.read_stdout_to_end();
  auto st = d.wait();
  return {st, d.drain_stderr()};
}

}  // namespace tally::test
