// What the tally-ledger HTTP API needs from the ledger: the seam between ui/
// (which owns no state) and sync/ (tally::ledger, which owns the store).
// Implemented by the tally-ledger process (sync/src/ledger/app.cpp); tests
// may implement it.
//
// Every call is asynchronous: it returns at once and invokes its callback
// exactly once, from any thread. Arguments are already checked for shape by
// the routes (ui/src/ledger_routes.cpp); the ledger checks meaning and
// answers 4xx with {"error":{"code","message"}} when it refuses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tally/ui/device_api.hpp"
#include "tally/ui/router.hpp"

namespace tally::ui {

class LedgerApi {
 public:
  using Reply = std::function<void(ApiReply)>;
  virtual ~LedgerApi() = default;

  // {"balances":[{"item","lot","location","state","qty"}]}; empty filter: any.
  virtual void balances(std::string item, std::string location, std::string state, std::size_t limit,
                        Reply reply) = 0;
  // {"movements":[<wire movement> + "applied_ms"],"next_after":N}; device empty: all
  // devices (then `after` is the ledger's row id).
  virtual void movements(std::string device, std::uint64_t after, std::size_t limit, Reply reply) = 0;
  // The history of an item (gtin, else sku) and/or a location (as source or
  // destination), newest first: {"movements":[<wire movement> + "id",
  // "applied_ms"],"next_before":ID} (0 when there is no more). `before` is a
  // ledger row id (0: from the newest). At least one of item, location is set.
  // Default: 501 (a ledger without history).
  virtual void history(std::string item, std::string location, std::uint64_t before, std::size_t limit,
                       Reply reply) {
    (void)item, (void)location, (void)before, (void)limit;
    reply({501, error_body("not_supported", "this ledger keeps no history")});
  }
  // {"exceptions":[…]}; status empty: all.
  virtual void exceptions(std::string status, Reply reply) = 0;
  // body {"action":"assign"|"resolve","owner"?,"note"?} → the exception.
  virtual void update_exception(std::int64_t id, nlohmann::json body, Reply reply) = 0;
  // {"devices":[{"device","site","applied_through","last_seen_ms",…}]}
  virtual void devices(Reply reply) = 0;
  // {"tasks":[{"site","device","version","tasks":[…]}]}; device empty: all.
  virtual void tasks(std::string device, Reply reply) = 0;
  // body {"site","device","task":{…}} → stored and published; 201 with the snapshot.
  virtual void create_task(nlohmann::json body, Reply reply) = 0;
  // kind "catalog" or "locations", body the snapshot → stored and published.
  virtual void put_master_data(std::string kind, std::string site, nlohmann::json body, Reply reply) = 0;
  // {"dead_letters":[{"id","topic","payload","reason","time_ms"}]}
  virtual void dead_letters(std::size_t limit, Reply reply) = 0;
  // {"violations":[{"kind","message"}]}
  virtual void invariants(Reply reply) = 0;
  // {"kpis":{…}} over the last `window_s` seconds (tally/ledger/kpi.hpp,
  // docs/OPERATIONS.md "## KPIs"). Default: 501 (a ledger without KPIs).
  virtual void kpis(std::uint64_t window_s, Reply reply) {
    (void)window_s;
    reply({501, error_body("not_supported", "this ledger computes no KPIs")});
  }
  // The KPI history (docs/OPERATIONS.md "KPI history"): {"samples":[{"time_ms",
  // "kpis":{name: value,…,"sync_lag_s":{device: value}}}],"more":bool,
  // "interval_s","retention_s"}: the newest `limit` samples with since_ms <
  // time_ms < before_ms (before_ms 0: no upper bound), oldest first; "more"
  // when older ones in the range were left out. Default: 501.
  virtual void kpi_history(std::int64_t since_ms, std::int64_t before_ms, std::size_t limit, Reply reply) {
    (void)since_ms, (void)before_ms, (void)limit;
    reply({501, error_body("not_supported", "this ledger keeps no KPI history")});
  }
  // A GS1 EPCIS 2.0 EPCISDocument (JSON-LD) of the movements with row id >
  // `after` (docs/PROTOCOL.md "EPCIS export"). Default: 501.
  virtual void epcis_events(std::uint64_t after, std::size_t limit, Reply reply) {
    (void)after;
    (void)limit;
    reply({501, error_body("not_supported", "this ledger exports no EPCIS events")});
  }
};

struct LedgerRoutesOptions {
  std::size_t limit_max = 1000;  // movements, balances, dead letters
  std::size_t kpi_history_limit_max = 10'000;  // KPI samples (a day at 10 s)
};

// The tally-ledger routes: GET / and the dashboard's assets (ui/assets/ledger), GET /api/v1/balances?item=&location=&state=&limit=,
// GET /api/v1/movements?device=&after=&limit=, GET /api/v1/history?item=&location=&before=&limit=,
// GET /api/v1/exceptions?status=,
// POST /api/v1/exceptions/{id}, GET /api/v1/devices, GET|POST /api/v1/tasks[?device=],
// POST /api/v1/catalog?site=, POST /api/v1/locations?site=, GET /api/v1/dead-letters?limit=,
// GET /api/v1/invariants, GET /api/v1/kpis?window_s=, GET /api/v1/kpis/history?since=&before=&limit=,
// GET /api/v1/epcis/events?after=&limit=.
// `api` must outlive the router.
std::unique_ptr<Router> make_ledger_router(LedgerApi& api, LedgerRoutesOptions options = {});

}  // namespace tally::ui
