// The ledger's schema in the PostgreSQL dialect (schema.hpp).
#include "apply_rules.hpp"
#include "fleet_schema.hpp"
#include "schema.hpp"

namespace tally::ledger::schema {

const std::array<const char*, kVersion> kPostgres{
    // v0 → v1
    R"sql(
CREATE TABLE devices(
  device          TEXT PRIMARY KEY,
  site            TEXT NOT NULL,
  applied_through BIGINT NOT NULL,
  last_seen_ms    BIGINT NOT NULL,
  last_batch_size BIGINT NOT NULL,
  movements       BIGINT NOT NULL,
  rejected        BIGINT NOT NULL
);
CREATE TABLE movements(
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device        TEXT NOT NULL,
  seq           BIGINT NOT NULL CHECK (seq > 0),
  type          TEXT NOT NULL,
  item          TEXT NOT NULL,
  lot           TEXT NOT NULL,
  qty           BIGINT NOT NULL,
  from_location TEXT NOT NULL,
  from_state    TEXT NOT NULL,
  to_location   TEXT NOT NULL,
  to_state      TEXT NOT NULL,
  payload       TEXT NOT NULL,
  applied_ms    BIGINT NOT NULL,
  UNIQUE(device, seq)
);
CREATE TABLE rejected(
  device  TEXT NOT NULL,
  seq     BIGINT NOT NULL,
  reason  TEXT NOT NULL,
  payload TEXT NOT NULL,
  time_ms BIGINT NOT NULL,
  PRIMARY KEY(device, seq)
);
CREATE TABLE balances(
  item     TEXT NOT NULL,
  lot      TEXT NOT NULL,
  location TEXT NOT NULL,
  state    TEXT NOT NULL,
  qty      BIGINT NOT NULL,
  PRIMARY KEY(item, lot, location, state)
);
CREATE TABLE exceptions(
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        TEXT NOT NULL,
  device      TEXT NOT NULL,
  seq         BIGINT NOT NULL,
  owner       TEXT NOT NULL,
  priority    TEXT NOT NULL,
  evidence    TEXT NOT NULL,
  next_action TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('open', 'assigned', 'resolved')),
  note        TEXT NOT NULL,
  subject     TEXT NOT NULL,
  created_ms  BIGINT NOT NULL,
  resolved_ms BIGINT NOT NULL
);
CREATE INDEX exceptions_by_subject ON exceptions(kind, subject, status);
CREATE INDEX exceptions_by_status ON exceptions(status, id);
CREATE TABLE dead_letter(
  id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic   TEXT NOT NULL,
  payload BYTEA NOT NULL,
  reason  TEXT NOT NULL,
  time_ms BIGINT NOT NULL
);
CREATE TABLE master_data(
  kind             TEXT NOT NULL,
  scope            TEXT NOT NULL,
  version          BIGINT NOT NULL,
  payload          TEXT NOT NULL,
  published_chunks BIGINT NOT NULL,
  PRIMARY KEY(kind, scope)
);
)sql",
    // v1 → v2: device-side exceptions synced from devices; the highest
    // journal id applied per device (the exceptions ack).
    R"sql(
CREATE TABLE device_exception_cursors(
  device  TEXT PRIMARY KEY,
  through BIGINT NOT NULL
);
-- The expiry of each lot, from the first movement that carried one (FEFO).
CREATE TABLE lots(
  item   TEXT NOT NULL,
  lot    TEXT NOT NULL,
  expiry TEXT NOT NULL,
  PRIMARY KEY(item, lot)
);
)sql",
    rules::kTakersMigration,  // v2 → v3
    rules::kFleetMigration,   // v3 → v4
};

}  // namespace tally::ledger::schema
