// The ledger's schema, in the SQLite and the PostgreSQL dialect: migration i
// takes a database from version i to i + 1 (PRAGMA user_version; PostgreSQL
// keeps it in meta). Append only: a shipped migration is never edited. The
// migrations both dialects share verbatim are apply_rules.hpp's. Private to
// sync/src/ledger.
#pragma once

#include <array>

namespace tally::ledger::schema {

inline constexpr int kVersion = 4;

extern const std::array<const char*, kVersion> kSqlite;    // schema_sqlite.cpp
extern const std::array<const char*, kVersion> kPostgres;  // schema_postgres.cpp

}  // namespace tally::ledger::schema
