// A full disk and I/O errors under the real scan engine and the real journal,
// injected at the n-th write/sync of the transaction through the fault VFS
// (tests/support/fault_vfs.hpp: SQLite cannot be made to hit ENOSPC or EIO at
// an exact write otherwise). For every point of the append that can fail:
// the scan is refused with an error prompt and red feedback (507 on a full
// disk, 500 on an I/O error), nothing is half-written, the session stays
// where it was, and the same scan succeeds once the disk is well again —
// without restarting. tests/integration/disk_full_test.cpp does the same
// with a real tallyd on a really full filesystem.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <future>
#include <string>

#include "fault_vfs.hpp"
#include "tally/device/engine.hpp"
#include "tally/ui/device_routes.hpp"
#include "tally/journal/journal.hpp"
#include "temp_dir.hpp"

namespace tally::device {
namespace {

struct Case {
  int sqlite_code;
  unsigned http_status;
  const char* error_code;
};

class DiskFaultTest : public ::testing::TestWithParam<Case> {
 protected:
  EngineOptions options() const {
    EngineOptions o;
    o.session.device = "hh-1";
    o.session.site = "s1";
    o.journal.path = dir_.path() / "journal.db";
    o.journal.device = "hh-1";
    o.journal.site = "s1";
    return o;
  }
  static ui::ApiReply scan(Engine& e, const std::string& text) {
    std::promise<ui::ApiReply> p;
    auto f = p.get_future();
    e.submit_scan(ui::ScanRequest{text, "", "http"}, [&p](ui::ScanReply r) { p.set_value(ui::scan_response(r)); });
    return f.get();
  }
  static nlohmann::json status(Engine& e) {
    std::promise<ui::ApiReply> p;
    auto f = p.get_future();
    e.status([&p](ui::ApiReply r) { p.set_value(std::move(r)); });
    return f.get().body;
  }

  test::TempDir dir_{"tally-disk-fault"};
};

TEST_P(DiskFaultTest, ScanIsRefusedLoudlyAndTheNextOneSucceeds) {
  const Case c = GetParam();
  test::FaultVfs vfs;
  auto opened = Engine::open(options());
  ASSERT_TRUE(opened) << opened.error().message;
  auto& engine = **opened;
  for (const char* s : {"OP:alice", "CMD:MOVE", "A-01-01-1", "4006381333931"}) ASSERT_EQ(scan(engine, s).status, 200U) << s;

  // How many writes/syncs one completing append takes (measured on a twin).
  std::uint64_t per_append = 0;
  {
    auto twin_options = options();
    twin_options.journal.path = dir_.path() / "twin.db";
    auto twin = Engine::open(twin_options);
    ASSERT_TRUE(twin);
    for (const char* s : {"OP:alice", "CMD:MOVE", "A-01-01-1", "4006381333931"}) scan(**twin, s);
    const auto before = vfs.ops();
    ASSERT_EQ(scan(**twin, "B-02-01-1").status, 201U);
    per_append = vfs.ops() - before;
  }
  ASSERT_GE(per_append, 2U);  // at least a WAL write and its sync

  std::uint64_t seq = 0;
  for (std::uint64_t at = 0; at < per_append; ++at) {
    SCOPED_TRACE("failing write/sync #" + std::to_string(at + 1) + " of " + std::to_string(per_append));
    vfs.fail_writes(c.sqlite_code, at);
    const ui::ApiReply refused = scan(engine, "B-02-01-1");
    EXPECT_EQ(refused.status, c.http_status) << refused.body;
    EXPECT_EQ(refused.body["feedback"], "error") << refused.body;  // red
    EXPECT_EQ(refused.body["error"]["code"], c.error_code) << refused.body;
    EXPECT_FALSE(refused.body.value("prompt", "").empty()) << refused.body;
    const auto st = status(engine);
    EXPECT_EQ(st["journal"]["last_seq"], seq) << st;
    EXPECT_NE(st.value("last_error", "").find(c.error_code), std::string::npos) << st;

    vfs.fail_writes(0);  // space is back
    const ui::ApiReply done = scan(engine, "B-02-01-1");
    ASSERT_EQ(done.status, 201U) << done.body;
    EXPECT_EQ(done.body["movement"]["seq"], ++seq);
    EXPECT_EQ(done.body["movement"]["qty"], 1);
    EXPECT_EQ(done.body["movement"]["from"]["location"], "A-01-01-1");
    // Next round: the same move again.
    for (const char* s : {"A-01-01-1", "4006381333931"}) ASSERT_EQ(scan(engine, s).status, 200U) << s;
  }
  opened->reset();

  // The file as the real VFS sees it: exactly the successful appends.
  vfs.use_real_vfs();
  journal::Options jo = options().journal;
  auto j = journal::Journal::open(jo);
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ((*j)->status().last_seq, seq);
  auto rows = (*j)->movements_after(0, 100);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), seq);
  for (std::size_t i = 0; i < rows->size(); ++i) EXPECT_EQ((*rows)[i].seq, i + 1);
}

INSTANTIATE_TEST_SUITE_P(Faults, DiskFaultTest,
                         ::testing::Values(Case{SQLITE_FULL, 507, "disk_full"},
                                           Case{SQLITE_IOERR_WRITE, 500, "journal_io"}),
                         [](const auto& p) { return std::string(p.param.error_code); });

}  // namespace
}  // namespace tally::device
