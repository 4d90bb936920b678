// Offline pick allowances on the device (docs/PROTOCOL.md "Pick
// allowances"), under the real Engine and a real journal file: a pick within
// the ledger's allowance raises nothing; one beyond it is still recorded and
// raises allowance_exceeded in the same transaction (same scan, linked to the
// pick's seq); used units are counted from the journal after a restart;
// a new grant counts from its basis_seq; an expired grant counts as zero.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include <nlohmann/json.hpp>

#include "tally/device/engine.hpp"
#include "tally/ui/device_routes.hpp"
#include "tally/journal/journal.hpp"
#include "temp_dir.hpp"

namespace tally::device {
namespace {

using nlohmann::json;

constexpr const char* kItem = "09506000134352";
constexpr const char* kBin = "A-01-01-1";

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class AllowanceEngineTest : public ::testing::Test {
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
  void open() {
    engine_.reset();
    auto e = Engine::open(options());
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
  }
  ui::ApiReply scan(const std::string& text) {
    std::promise<ui::ApiReply> p;
    auto f = p.get_future();
    engine_->submit_scan(ui::ScanRequest{text, "", "http"}, [&p](ui::ScanReply r) { p.set_value(ui::scan_response(r)); });
    return f.get();
  }
  json status() {
    std::promise<ui::ApiReply> p;
    auto f = p.get_future();
    engine_->status([&p](ui::ApiReply r) { p.set_value(std::move(r)); });
    return f.get().body;
  }
  Result<void> grant(std::int64_t version, std::int64_t qty, std::uint64_t basis, std::int64_t expires_ms) {
    const json payload = {{"v", 1},
                          {"version", version},
                          {"allowances",
                           {{{"id", "g" + std::to_string(version)},
                             {"item", kItem},
                             {"lot", ""},
                             {"bin", kBin},
                             {"qty", qty},
                             {"basis_seq", basis},
                             {"granted_ms", wall_ms() - 1000},
                             {"expires_ms", expires_ms}}}}};
    std::promise<Result<void>> p;
    auto f = p.get_future();
    engine_->journal_worker().store_master_data("allowances", version, payload.dump(), [&p](Result<void> r) { p.set_value(r); });
    return f.get();
  }
  // An ad hoc pick of qty units from kBin; returns the reply of the tote scan.
  ui::ApiReply pick(int qty) {
    for (const std::string& s : {std::string(kBin), std::string(kItem), "CMD:QTY:" + std::to_string(qty)}) {
      const auto r = scan(s);
      EXPECT_EQ(r.status, 200U) << s << ": " << r.body;
    }
    return scan("TOTE:1");
  }
  std::vector<journal::StoredException> exceptions() {
    journal::Options jo = options().journal;
    auto j = journal::Journal::open(jo);
    EXPECT_TRUE(j) << j.error().message;
    auto rows = (*j)->exceptions_after(0, 100);
    EXPECT_TRUE(rows);
    return rows ? *rows : std::vector<journal::StoredException>{};
  }

  test::TempDir dir_{"tally-allowance"};
  std::unique_ptr<Engine> engine_;
};

TEST_F(AllowanceEngineTest, APickBeyondTheAllowanceIsRecordedAndRaisedInTheSameTransaction) {
  open();
  ASSERT_EQ(scan("OP:alice").status, 200U);
  ASSERT_EQ(scan("CMD:PICK").status, 200U);
  // No allowances snapshot: escrow is off, nothing is raised.
  auto r = pick(5);
  ASSERT_EQ(r.status, 201U) << r.body;
  EXPECT_FALSE(r.body.contains("allowance")) << r.body;
  EXPECT_TRUE(status()["allowances"].is_null());

  const std::int64_t later = wall_ms() + 3'600'000;
  ASSERT_TRUE(grant(1, 3, /*basis=*/1, later));  // seq 1 (the pick above) is before the grant
  EXPECT_EQ(status()["allowances"]["grants"], 1);
  r = pick(2);
  ASSERT_EQ(r.status, 201U) << r.body;
  EXPECT_EQ(r.body["feedback"], "good") << r.body;
  EXPECT_FALSE(r.body.contains("exception")) << r.body;
  EXPECT_EQ(r.body["allowance"]["remaining"], 1) << r.body;
  EXPECT_EQ(r.body["allowance"]["exceeded"], false);
  EXPECT_TRUE(exceptions().empty());

  r = pick(2);  // 1 left: beyond
  ASSERT_EQ(r.status, 201U) << r.body;  // recorded all the same
  EXPECT_EQ(r.body["feedback"], "warning") << r.body;
  EXPECT_EQ(r.body["exception"]["kind"], "allowance_exceeded") << r.body;
  EXPECT_EQ(r.body["allowance"]["exceeded"], true);
  EXPECT_EQ(r.body["allowance"]["remaining"], 0);
  const std::uint64_t over_seq = r.body["movement"]["seq"];
  auto xs = exceptions();
  ASSERT_EQ(xs.size(), 1U);
  EXPECT_EQ(xs[0].exception.kind, "allowance_exceeded");
  ASSERT_TRUE(xs[0].seq);
  EXPECT_EQ(*xs[0].seq, over_seq);  // journaled with the pick: same transaction, linked to its seq
  EXPECT_EQ(xs[0].exception.operator_id, "alice");
  EXPECT_NE(xs[0].exception.expected.find("at most 1"), std::string::npos) << xs[0].exception.expected;
  EXPECT_EQ(xs[0].exception.evidence, (std::vector<std::string>{kBin, kItem, "CMD:QTY:2", "TOTE:1"}));
  EXPECT_EQ(status()["journal"]["exceptions"]["last_id"], xs[0].id);

  // After a restart the used units are counted again from the journal.
  open();
  r = pick(1);
  ASSERT_EQ(r.status, 201U) << r.body;
  EXPECT_EQ(r.body["exception"]["kind"], "allowance_exceeded") << r.body;
  EXPECT_EQ(exceptions().size(), 2U);

  // A new grant counts the picks after its basis only (seq 4 below: 1 unit).
  ASSERT_TRUE(grant(2, 3, /*basis=*/3, later));
  r = pick(2);
  ASSERT_EQ(r.status, 201U) << r.body;
  EXPECT_FALSE(r.body.contains("exception")) << r.body;
  EXPECT_EQ(r.body["allowance"]["remaining"], 0);
  r = pick(1);
  EXPECT_EQ(r.body["exception"]["kind"], "allowance_exceeded") << r.body;

  // An expired grant counts as zero; an older version is ignored.
  ASSERT_TRUE(grant(3, 100, /*basis=*/100, wall_ms() - 1));
  ASSERT_TRUE(grant(2, 100, /*basis=*/100, later));
  r = pick(1);
  EXPECT_EQ(r.body["exception"]["kind"], "allowance_exceeded") << r.body;
  EXPECT_NE(r.body["exception"]["expected"].get<std::string>().find("expired"), std::string::npos) << r.body;
  EXPECT_EQ(exceptions().size(), 4U);
}

// A pick from a bin the device holds no allowance for, while it holds some:
// raised too (the stock may be escrowed for another device). A move is not a pick.
TEST_F(AllowanceEngineTest, NoGrantForTheBinIsZeroAndOtherMovementsAreNotCounted) {
  open();
  ASSERT_TRUE(grant(1, 5, 0, wall_ms() + 3'600'000));
  for (const char* s : {"OP:alice", "CMD:MOVE", kBin, kItem, "B-02-01-1"}) ASSERT_EQ(scan(s).status / 100, 2U) << s;
  ASSERT_EQ(scan("CMD:PICK").status, 200U);
  auto r = pick(5);
  EXPECT_FALSE(r.body.contains("exception")) << r.body;  // the move did not use the allowance
  for (const char* s : {"B-02-01-1", kItem}) ASSERT_EQ(scan(s).status, 200U) << s;
  r = scan("TOTE:1");
  ASSERT_EQ(r.status, 201U) << r.body;
  EXPECT_EQ(r.body["exception"]["kind"], "allowance_exceeded") << r.body;
  EXPECT_NE(r.body["exception"]["expected"].get<std::string>().find("no allowance"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace tally::device
