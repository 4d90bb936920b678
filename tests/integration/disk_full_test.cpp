// The real tallyd with its journal on a really full filesystem: a 2 MiB
// tmpfs mounted for the test (needs root; skipped otherwise). The disk is
// filled to the last byte while tallyd runs; a completing scan must then be
// refused with 507, red feedback and an error prompt, journal nothing, and
// the very same scan must succeed once space is freed — same process, no
// restart. The unit-level variant (every write of the append, I/O errors
// too) is tests/unit/firmware-host/disk_fault_test.cpp.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "daemon.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"

namespace tally::test {
namespace {

namespace fs = std::filesystem;

class TinyFs {
 public:
  explicit TinyFs(const fs::path& at) : at_(at) {
    fs::create_directories(at_);
    if (::geteuid() == 0 && ::mount("tally-test", at_.c_str(), "tmpfs", 0, "size=2m,mode=0700") == 0) {
      mounted_ = true;
    } else {
      why_ = ::geteuid() != 0 ? "not root" : std::string("mount tmpfs: ") + std::strerror(errno);
    }
  }
  ~TinyFs() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  TinyFs(const TinyFs&) = delete;
  TinyFs& operator=(const TinyFs&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& why_not() const { return why_; }

 private:
  fs::path at_;
  bool mounted_ = false;
  std::string why_;
};

// Writes `path` until the filesystem says ENOSPC; returns the bytes written.
std::size_t fill(const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::setvbuf(f, nullptr, _IONBF, 0);
  const std::string block(4096, 'f');
  std::size_t total = 0;
  for (std::size_t n = block.size(); n > 0; n /= 2) {  // the last blocks byte-exact
    while (std::fwrite(block.data(), 1, n, f) == n) total += n;
    std::clearerr(f);
  }
  std::fclose(f);
  return total;
}

TEST(DiskFull, TallydRefusesTheScanAndRecoversWhenSpaceReturns) {
  TempDir dir("tally-disk-full");
  const fs::path data = dir.path() / "data";
  TinyFs tiny(data);
  if (!tiny.mounted()) GTEST_SKIP() << "needs a tmpfs of its own: " << tiny.why_not();

  Daemon d(TALLYD_PATH, {"--data-dir", data.string(), "--device-id", "hh-1", "--site", "test", "--http",
                         "127.0.0.1:0", "--log-level", "error", "--mqtt", ""});
  HttpClient c(d.wait_listening());
  const auto scan = [&c](const std::string& text) {
    return c.post_json("/api/v1/scans", nlohmann::json{{"text", text}}.dump());
  };
  for (const char* s : {"OP:alice", "CMD:MOVE", "A-01-01-1", "4006381333931"}) ASSERT_EQ(scan(s).status, 200U) << s;
  ASSERT_EQ(scan("B-02-01-1").status, 201U);
  for (const char* s : {"A-01-01-1", "4006381333931"}) ASSERT_EQ(scan(s).status, 200U) << s;

  // Fill the disk. SQLite reuses free pages and WAL space, so keep scanning
  // the move (location, item, location) until a scan is refused.
  ASSERT_GT(fill(data / "filler"), 0U);
  const std::vector<std::string> cycle = {"B-02-01-1", "A-01-01-1", "4006381333931"};
  HttpResponse refused;
  std::size_t k = 0;
  for (; k < 600; ++k) {
    refused = scan(cycle[k % cycle.size()]);
    if (refused.status == 507U) break;
    ASSERT_LT(refused.status, 300U) << cycle[k % cycle.size()] << ": " << refused.body;
    fill(data / ("filler-" + std::to_string(k)));
  }
  ASSERT_EQ(refused.status, 507U) << "the disk never filled up";
  const auto body = refused.json();
  EXPECT_EQ(body["feedback"], "error") << body;
  EXPECT_EQ(body["error"]["code"], "disk_full") << body;
  EXPECT_FALSE(body.value("prompt", "").empty()) << body;
  auto status = c.get("/api/v1/status").json();
  const auto last_seq = status["journal"]["last_seq"].get<std::uint64_t>();
  const auto scans = status["journal"]["scans"].get<std::int64_t>();
  EXPECT_NE(status.value("last_error", "").find("disk_full"), std::string::npos) << status;
  // Still refused while the disk stays full, and nothing is written.
  EXPECT_EQ(scan(cycle[k % cycle.size()]).status, 507U);
  status = c.get("/api/v1/status").json();
  EXPECT_EQ(status["journal"]["scans"], scans);
  EXPECT_EQ(status["journal"]["last_seq"], last_seq);

  // Space returns: the refused scan goes through, then the move completes.
  for (const auto& e : fs::directory_iterator(data))
    if (e.path().filename().string().rfind("filler", 0) == 0) fs::remove(e.path());
  for (std::size_t i = k;; ++i) {
    const auto r = scan(cycle[i % cycle.size()]);
    ASSERT_LT(r.status, 300U) << r.body;
    if (i % cycle.size() == 0) {
      ASSERT_EQ(r.status, 201U) << r.body;
      EXPECT_EQ(r.json()["movement"]["seq"], last_seq + 1);
      break;
    }
  }
  status = c.get("/api/v1/status").json();
  EXPECT_EQ(status["journal"]["last_seq"], last_seq + 1);
  EXPECT_GT(status["journal"]["scans"].get<std::int64_t>(), scans);
}

}  // namespace
}  // namespace tally::test
