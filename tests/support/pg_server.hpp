// A throwaway PostgreSQL server for the storage tests: one per test binary,
// started on first use (initdb into a temp dir, listening only on a unix
// socket in that dir, fsync off) and stopped at exit; a fresh database per
// test. As root the server runs as the `postgres` user (else `nobody`) via
// runuser, since PostgreSQL refuses to run as root.
//
//   auto& pg = test::PgServer::instance();
//   if (!pg.available()) GTEST_SKIP() << pg.why_not();
//   std::string conninfo = pg.create_database("t1");
//
// Binaries: $TALLY_PG_BIN, else the newest /usr/lib/postgresql/*/bin.
// TALLY_PG_FSYNC=1 (benchmarks) keeps fsync and full_page_writes on, as a
// production server has them.
#pragma once

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace tally::test {

class PgServer {
 public:
  static PgServer& instance() {
    static PgServer server;
    return server;
  }

  // Installed (initdb and pg_ctl found): the tests must not skip then.
  bool installed() const { return installed_; }
  bool available() const { return started_; }
  const std::string& why_not() const { return why_not_; }

  std::string conninfo(const std::string& db) const {
    return "host=" + dir_.string() + " port=" + std::to_string(kPort) + " user=postgres dbname=" + db;
  }

  // Runs SQL on database `db`; the error text, or "" on success.
  std::string exec(const std::string& db, const std::string& sql) const {
    PGconn* c = PQconnectdb(conninfo(db).c_str());
    std::string err;
    if (PQstatus(c) != CONNECTION_OK) {
      err = PQerrorMessage(c);
    } else {
      PGresult* r = PQexec(c, sql.c_str());
      const auto st = PQresultStatus(r);
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) err = PQresultErrorMessage(r);
      PQclear(r);
    }
    PQfinish(c);
    return err;
  }

  // A new empty database; its conninfo, or ""
  // with `error` set.
  std::string create_database(const std::string& db, std::string& error) const {
    error = exec("postgres", "CREATE DATABASE " + db + " TEMPLATE template0");
    return error.empty() ? conninfo(db) : std::string();
  }
  std::string drop_database(const std::string& db) const {
    return exec("postgres", "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
  }

  // A database name unique in this process.
  static std::string next_name() {
    static std::atomic<unsigned> n{0};
    return "tally_t" + std::to_string(n++);
  }

  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  ~PgServer() {
    if (started_) sh(as_user_ + "'" + (bin_ / "pg_ctl").string() + "' -D '" + (dir_ / "data").string() +
                     "' -m immediate -w stop >/dev/null 2>&1");
    if (!dir_.empty() && std::getenv("TALLY_KEEP_TEST_DIRS") == nullptr) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

 private:
  static constexpr int kPort = 54329;  // only names the socket file in our own dir

  static int sh(const std::string& command) { return std::system(command.c_str()); }

  PgServer() { start(); }

  void start() {
    namespace fs = std::filesystem;
    if (const char* env = std::getenv("TALLY_PG_BIN"); env != nullptr && *env != '\0') {
      bin_ = env;
    } else {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const fs::path candidate = entry.path() / "bin";
        if (fs::exists(candidate / "initdb") && (bin_.empty() || candidate > bin_)) bin_ = candidate;
      }
    }
    if (bin_.empty() || !fs::exists(bin_ / "initdb") || !fs::exists(bin_ / "pg_ctl")) {
      why_not_ = "PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin or $TALLY_PG_BIN); "
                 "deploy/check installs it (Debian package postgresql)";
      return;
    }
    std::string templ = (fs::temp_directory_path() / "tally-pg-XXXXXX").string();
    installed_ = true;
    if (::mkdtemp(templ.data()) == nullptr) {
      why_not_ = "cannot create a temp dir for PostgreSQL";
      return;
    }
    dir_ = templ;
    if (::geteuid() == 0) {
      const char* user = "postgres";
      const passwd* pw = ::getpwnam(user);
      if (pw == nullptr) {
        user = "nobody";
        pw = ::getpwnam(user);
      }
      if (pw == nullptr || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        why_not_ = "running as root and cannot hand " + dir_.string() + " to user postgres or nobody";
        return;
      }
      as_user_ = std::string("runuser -u ") + user + " -- ";
    }
    const std::string data = (dir_ / "data").string();
    const std::string initdb_log = (dir_ / "initdb.log").string();  // written by us
    const std::string log = (dir_ / "server.log").string();         // written by the server's user
    if (sh(as_user_ + "'" + (bin_ / "initdb").string() + "' -D '" + data +
           "' -U postgres -A trust -E UTF8 --locale=C --no-sync >'" + initdb_log + "' 2>&1") != 0) {
      why_not_ = "initdb failed: " + read(initdb_log);
      return;
    }
    const char* durable = std::getenv("TALLY_PG_FSYNC");
    const bool fsync = durable != nullptr && std::string(durable) == "1";
    const std::string options = "-k " + dir_.string() + " -p " + std::to_string(kPort) + " -c listen_addresses= " +
                                (fsync ? "" : "-c fsync=off -c full_page_writes=off -c synchronous_commit=off ") +
                                "-c max_connections=50";
    if (sh(as_user_ + "'" + (bin_ / "pg_ctl").string() + "' -D '" + data + "' -o '" + options + "' -l '" + log +
           "' -w -t 60 start >/dev/null 2>&1") != 0) {
      why_not_ = "PostgreSQL did not start: " + read(log);
      return;
    }
    started_ = true;
  }

  static std::string read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::filesystem::path bin_;
  std::filesystem::path dir_;
  std::string as_user_;
  bool installed_ = false;
  bool started_ = false;
  std::string why_not_;
};

}  // namespace tally::test
