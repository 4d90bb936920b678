// The transaction loops both ledger stores share (sync/src/ledger/
// store_txn.hpp): in_transaction and the group commit of apply_batches.
// The faults here — a ROLLBACK TO SAVEPOINT, a SAVEPOINT or a COMMIT that
// fails, a database that ends the transaction by itself — cannot be provoked
// on demand through real SQLite or PostgreSQL, so a recording TxnSql stands
// behind the seam the stores implement; the stores themselves are covered
// by the store contract tests (ledger_test.cpp) and the power-loss test.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "store_txn.hpp"

namespace tally::ledger::rules {
namespace {

class RecordingTxn final : public TxnSql {
 public:
  std::vector<std::string> calls;
  std::set<std::string> failing;  // verbs that fail ("begin", "commit", "savepoint", "rollback_to", "release")
  bool alive = true;

  Result<void> begin() override { return verb("begin"); }
  Result<void> commit(std::string_view) override { return verb("commit"); }
  void abort_txn() override { calls.emplace_back("abort"); }
  Result<void> savepoint() override { return verb("savepoint"); }
  Result<void> rollback_to_savepoint() override { return verb("rollback_to"); }
  Result<void> release_savepoint() override { return verb("release"); }
  bool transaction_alive() override { return alive; }

 private:
  Result<void> verb(const std::string& name) {
    calls.push_back(name);
    if (failing.count(name) != 0) return make_error("db_error", name + " failed");
    return {};
  }
};

std::vector<Batch> batches(std::initializer_list<const char*> devices) {
  std::vector<Batch> out;
  for (const char* d : devices) out.push_back(Batch{d, "s1", {}, 0});
  return out;
}

// Applies every batch but the one of device "bad" (which fails).
auto apply_all_but_bad(RecordingTxn& db) {
  return [&db](const Batch& b) -> Result<ApplyOutcome> {
    db.calls.push_back("apply " + b.device);
    if (b.device == "bad") return make_error("bad_batch", "refused");
    return ApplyOutcome{};
  };
}

using Calls = std::vector<std::string>;

TEST(StoreTxn, AGroupCommitsEveryBatchUnderItsOwnSavepoint) {
  RecordingTxn db;
  const auto in = batches({"a", "bad", "c"});
  auto r = apply_group(db, in, apply_all_but_bad(db));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 3U);
  EXPECT_TRUE((*r)[0].ok());
  ASSERT_FALSE((*r)[1].ok());  // reported in its slot; the others commit
  EXPECT_EQ((*r)[1].error().code, "bad_batch");
  EXPECT_TRUE((*r)[2].ok());
  EXPECT_EQ(db.calls, (Calls{"begin", "savepoint", "apply a", "release", "savepoint", "apply bad", "rollback_to",
                             "release", "savepoint", "apply c", "release", "commit"}));
}

TEST(StoreTxn, AFailedRollbackToTheSavepointFailsTheWholeGroup) {
  RecordingTxn db;
  db.failing = {"rollback_to"};
  const auto in = batches({"a", "bad", "c"});
  auto r = apply_group(db, in, apply_all_but_bad(db));
  ASSERT_FALSE(r.ok());  // "a" is not committed with half of "bad"
  EXPECT_EQ(r.error().message, "rollback_to failed");
  EXPECT_EQ(db.calls, (Calls{"begin", "savepoint", "apply a", "release", "savepoint", "apply bad", "rollback_to",
                             "abort"}));
}

TEST(StoreTxn, ATransactionTheDatabaseEndedFailsTheGroupWithoutRollingBackAgain) {
  RecordingTxn db;
  const auto in = batches({"a", "bad", "c"});
  auto r = apply_group(db, in, [&db](const Batch& b) -> Result<ApplyOutcome> {
    db.calls.push_back("apply " + b.device);
    if (b.device != "bad") return ApplyOutcome{};
    db.alive = false;  // SQLite after SQLITE_FULL, a lost PostgreSQL connection
    return make_error("db_error", "disk full");
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "disk full");
  EXPECT_EQ(db.calls, (Calls{"begin", "savepoint", "apply a", "release", "savepoint", "apply bad"}));
}

TEST(StoreTxn, AFailedSavepointOrCommitFailsTheGroupAndRollsBack) {
  for (const char* verb : {"savepoint", "release", "commit"}) {
    RecordingTxn db;
    db.failing = {verb};
    const auto in = batches({"a", "c"});
    auto r = apply_group(db, in, apply_all_but_bad(db));
    ASSERT_FALSE(r.ok()) << verb;
    EXPECT_EQ(r.error().message, std::string(verb) + " failed");
    EXPECT_EQ(db.calls.back(), "abort") << verb;
    EXPECT_EQ(std::count(db.calls.begin(), db.calls.end(), "commit"), std::string(verb) == "commit" ? 1 : 0);
  }
  RecordingTxn db;
  db.failing = {"begin"};
  const auto in = batches({"a"});
  auto r = apply_group(db, in, apply_all_but_bad(db));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(db.calls, (Calls{"begin"}));  // nothing was opened, nothing to roll back
}

TEST(StoreTxn, InTransactionCommitsOnlyWhatSucceeded) {
  RecordingTxn db;
  auto ok = in_transaction(db, "x", [&db]() -> Result<int> {
    db.calls.emplace_back("work");
    return 7;
  });
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 7);
  EXPECT_EQ(db.calls, (Calls{"begin", "work", "commit"}));

  RecordingTxn failing_work;
  auto bad = in_transaction(failing_work, "x", []() -> Result<int> { return make_error("bad_request", "no"); });
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(failing_work.calls, (Calls{"begin", "abort"}));

  RecordingTxn failing_commit;
  failing_commit.failing = {"commit"};
  auto lost = in_transaction(failing_commit, "x", []() -> Result<int> { return 1; });
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(failing_commit.calls, (Calls{"begin", "commit", "abort"}));
}

}  // namespace
}  // namespace tally::ledger::rules
