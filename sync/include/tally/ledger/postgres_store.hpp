// The PostgreSQL ledger store (libpq): the same tally::ledger::Store contract
// as the embedded SQLite store (store.hpp), for sites that run several
// tally-ledger instances over one database (MQTT 5 shared subscription).
//
//   auto store = open_postgres_store(PostgresOptions{"host=/run/postgresql dbname=tally"});
//
// Concurrency between instances: a batch locks its device's row
// (SELECT … FOR UPDATE) for the length of its transaction, so one device's
// batches apply strictly one after the other whichever instance got them;
// balance rows are updated in key order (no deadlock between two batches);
// a negative_balance exception is deduplicated under a transaction-scoped
// advisory lock on its subject. docs/OPERATIONS.md "## PostgreSQL".
#pragma once

#include <memory>
#include <string>

#include "tally/ledger/store.hpp"
#include "tally/scanner/result.hpp"

namespace tally::ledger {

struct PostgresOptions {
  std::string conninfo;  // libpq connection string or URI
  // synchronous_commit stays on (the server's durability) unless false: only
  // benchmarks that measure the difference turn this off.
  bool durable = true;
};

// Creates or migrates the schema (under an advisory lock, so instances that
// start together do not race). Error codes: "ledger_io" (cannot connect,
// SQL error), "ledger_newer_schema".
Result<std::unique_ptr<Store>> open_postgres_store(const PostgresOptions& options);

}  // namespace tally::ledger
