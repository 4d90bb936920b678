// Ledger schema v3 → v4, the same on both stores (SQLite reads BIGINT as
// INTEGER): the last status of each device (retained …/{device}/status) and
// the KPI history samples. Private to sync/src/ledger.
#pragma once

namespace tally::ledger::rules {

inline constexpr const char* kFleetMigration = R"sql(
CREATE TABLE device_status(
  device      TEXT PRIMARY KEY,
  site        TEXT NOT NULL,
  online      BIGINT NOT NULL,
  pending     BIGINT NOT NULL,
  last_seq    BIGINT NOT NULL,
  version     TEXT NOT NULL,
  received_ms BIGINT NOT NULL
);
CREATE TABLE kpi_samples(
  time_ms BIGINT PRIMARY KEY,
  kpis    TEXT NOT NULL
);
)sql";

// The upsert of one status, in SQLite's placeholders (PostgreSQL: the same
// text with each '?' as '$'). Parameters: device, site, online 0/1, pending,
// last_seq, version, received_ms, retained 0/1.
// - A retained redelivery of the content already stored keeps its
//   received_ms (a ledger reconnect is no news).
// - An offline status with a lower last_seq than the stored one is a last
//   will: the broker publishes the counters of the device's connect, so the
//   newer pending/last_seq of its later statuses are kept.
inline constexpr const char* kStatusUpsert =
    "INSERT INTO device_status(device, site, online, pending, last_seq, version, received_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(device) DO UPDATE SET "
    "received_ms = CASE WHEN ?8 = 1 AND device_status.site = excluded.site AND "
    "device_status.online = excluded.online AND device_status.pending = excluded.pending AND "
    "device_status.last_seq = excluded.last_seq AND device_status.version = excluded.version "
    "THEN device_status.received_ms ELSE excluded.received_ms END, "
    "pending = CASE WHEN excluded.online = 0 AND excluded.last_seq < device_status.last_seq "
    "THEN device_status.pending ELSE excluded.pending END, "
    "last_seq = CASE WHEN excluded.online = 0 AND excluded.last_seq < device_status.last_seq "
    "THEN device_status.last_seq ELSE excluded.last_seq END, "
    "site = excluded.site, online = excluded.online, version = excluded.version";

// Inserts a KPI sample (?1 time_ms, ?2 kpis) unless one is newer than ?3
// (time_ms - min_gap); then ?4 prunes what is older.
inline constexpr const char* kKpiSampleInsert =
    "INSERT INTO kpi_samples(time_ms, kpis) SELECT CAST(?1 AS BIGINT), CAST(?2 AS TEXT) WHERE NOT EXISTS "
    "(SELECT 1 FROM kpi_samples WHERE time_ms > CAST(?3 AS BIGINT) AND time_ms <= CAST(?1 AS BIGINT)) "
    "ON CONFLICT(time_ms) DO NOTHING";
inline constexpr const char* kKpiSamplePrune = "DELETE FROM kpi_samples WHERE time_ms < CAST(?1 AS BIGINT)";
// The newest ?3 samples in (?1, ?2), ?2 = 0 meaning no upper bound; callers
// reverse them to oldest first.
inline constexpr const char* kKpiSampleSelect =
    "SELECT time_ms, kpis FROM kpi_samples WHERE time_ms > CAST(?1 AS BIGINT) AND "
    "(CAST(?2 AS BIGINT) = 0 OR time_ms < CAST(?2 AS BIGINT)) ORDER BY time_ms DESC LIMIT CAST(?3 AS BIGINT)";
inline constexpr const char* kStatusSelect =
    "SELECT device, site, online, pending, last_seq, version, received_ms FROM device_status ORDER BY device";

}  // namespace tally::ledger::rules
