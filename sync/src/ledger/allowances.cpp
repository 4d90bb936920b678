// Offline pick allowances (see tally/ledger/allowances.hpp).
#include "tally/ledger/allowances.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "tally/ledger/downlink.hpp"
#include "tally/scanner/master_data.hpp"
#include "tally/scanner/session.hpp"
#include "tally/wire/movement_json.hpp"

namespace tally::ledger {
namespace {

using nlohmann::json;

constexpr const char* kKind = "allowances";

// (item, lot, bin): what a grant is for, as balances key it.
using Key = std::tuple<std::string, std::string, std::string>;

struct Held {
  scanner::Allowance grant;
  std::int64_t used = 0;  // the device's applied picks of the key with seq > basis_seq
  std::int64_t remaining() const { return std::max<std::int64_t>(0, grant.qty - used); }
};

struct DeviceGrants {
  std::string site;
  std::uint64_t applied_through = 0;
  bool has_record = false;
  std::vector<Held> held;      // stored grants
  std::vector<std::string> ids;  // of the stored snapshot, in order
};

Key key_of(const scanner::Allowance& a) { return {a.item, a.lot, a.bin}; }

json to_json(const scanner::Allowance& a) {
  return {{"id", a.id},   {"item", a.item}, {"lot", a.lot},
          {"bin", a.bin}, {"qty", a.qty},   {"basis_seq", a.basis_seq},
          {"granted_ms", a.granted_ms},    {"expires_ms", a.expires_ms}};
}

// The device's applied picks per key with seq > the lowest basis_seq among
// `held`, each counted for the grants whose basis it passes.
Result<void> count_used(Store& store, const std::string& device, std::vector<Held>& held) {
  if (held.empty()) return {};
  std::uint64_t after = held.front().grant.basis_seq;
  for (const Held& h : held) after = std::min(after, h.grant.basis_seq);
  constexpr std::size_t kPage = 1000;
  scanner::MasterData any;
  any.allowances_version = 1;  // allowance_applies() asks only that escrow is on
  for (;;) {
    auto rows = store.movements(device, after, kPage);
    if (!rows) return rows.error();
    for (const StoredMovement& row : *rows) {
      after = row.seq;
      auto m = wire::movement_from_json(json::parse(row.payload, nullptr, /*allow_exceptions=*/false));
      if (!m || !scanner::allowance_applies(any, *m)) continue;
      const Key k{m->item.id(), m->item.lot, m->from.location.code};
      for (Held& h : held) {
        if (key_of(h.grant) == k && row.seq > h.grant.basis_seq) h.used += m->qty;
      }
    }
    if (rows->size() < kPage) return {};
  }
}

// Site and device of a "{site}/{device}" scope.
bool split_scope(const std::string& scope, std::string& site, std::string& device) {
  const auto slash = scope.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == scope.size()) return false;
  site = scope.substr(0, slash);
  device = scope.substr(slash + 1);
  return true;
}

}  // namespace

Result<void> check_allowance_policy(const AllowancePolicy& p) {
  const auto bad = [](const std::string& m) { return make_error("bad_config", m); };
  if (p.grant_to != "tasks" && p.grant_to != "active") return bad("allowances.grant_to must be \"tasks\" or \"active\"");
  if (p.ttl_ms < 1000) return bad("allowances.ttl_s must be at least 1");
  if (p.active_ms < 1000) return bad("allowances.active_s must be at least 1");
  if (p.clock_margin_ms < 0) return bad("allowances.clock_margin_s must be >= 0");
  if (p.refresh_ms < 100) return bad("allowances.refresh_ms must be at least 100");
  if (p.max_per_device < 1 || p.max_per_device > 100000) return bad("allowances.max_per_device must be 1..100000");
  return {};
}

Result<std::vector<MasterDataRecord>> regrant_allowances(Store& store, const AllowancePolicy& policy,
                                                         std::int64_t now_ms) {
  std::vector<MasterDataRecord> changed;
  if (!policy.enabled) return changed;

  // Devices, their stored grants and the key each device asks for.
  std::map<std::string, DeviceGrants> devices;
  auto infos = store.devices();
  if (!infos) return infos.error();
  for (const DeviceInfo& d : *infos) {
    if (d.device == kLedgerDevice) continue;
    auto& g = devices[d.device];
    g.site = d.site;
    g.applied_through = d.applied_through;
  }
  // (item, bin) -> devices asking, each with the lot its line names ("" = any).
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::set<std::string>>> wanted;
  auto records = store.all_master_data();
  if (!records) return records.error();
  for (const MasterDataRecord& rec : *records) {
    if (rec.kind != kKind && rec.kind != "tasks") continue;
    std::string site, device;
    if (!split_scope(rec.scope, site, device)) continue;
    scanner::MasterData md;
    if (!scanner::apply_master_data(rec.kind, json::parse(rec.payload, nullptr, false), md)) continue;
    auto& g = devices[device];
    if (g.site.empty()) g.site = site;
    if (rec.kind == kKind) {
      g.has_record = true;
      for (auto& a : md.allowances) {
        g.ids.push_back(a.id);
        g.held.push_back(Held{std::move(a), 0});
      }
    } else if (policy.grant_to == "tasks") {
      for (const auto& t : md.tasks) {
        if (t.type != "pick") continue;
        for (const auto& line : t.lines) {
          const std::string gtin = scanner::gtin14(line.gtin);
          const std::string item = gtin.empty() ? line.sku : gtin;
          if (item.empty() || line.bin.empty()) continue;
          wanted[{item, scanner::location_code(line.bin)}][device].insert(line.lot);
        }
      }
    }
  }

  // What each stored grant has left; live ones keep their units.
  std::map<Key, std::int64_t> live_remaining;
  std::map<Key, std::set<std::string>> live_holders;
  for (auto& [device, g] : devices) {
    if (auto r = count_used(store, device, g.held); !r) return r.error();
    std::erase_if(g.held, [&](const Held& h) {
      return now_ms >= h.grant.expires_ms + policy.clock_margin_ms || h.remaining() == 0;
    });
    for (const Held& h : g.held) {
      live_remaining[key_of(h.grant)] += h.remaining();
      live_holders[key_of(h.grant)].insert(device);
    }
  }

  BalanceQuery q;
  q.state = "available";
  q.limit = 1'000'000;
  auto rows = store.balances(q);
  if (!rows) return rows.error();
  std::vector<std::string> active;  // "active": devices seen lately, in id order
  for (const DeviceInfo& d : *infos) {
    if (d.device != kLedgerDevice && now_ms - d.last_seen_ms <= policy.active_ms) active.push_back(d.device);
  }
  std::sort(active.begin(), active.end());
  std::map<std::string, std::vector<scanner::Allowance>> granted;
  std::int64_t serial = 0;
  for (const Balance& b : *rows) {
    if (b.qty <= 0) continue;
    std::vector<std::string> candidates;
    if (policy.grant_to == "active") {
      candidates = active;
    } else if (const auto w = wanted.find({b.item, b.location}); w != wanted.end()) {
      for (const auto& [device, lots] : w->second) {
        if (lots.contains("") || lots.contains(b.lot)) candidates.push_back(device);
      }
    }
    if (candidates.empty()) continue;
    const Key key{b.item, b.lot, b.location};
    std::int64_t pool = b.qty - live_remaining[key];
    const auto n = static_cast<std::int64_t>(candidates.size());
    const std::int64_t share = (b.qty + n - 1) / n;
    for (const std::string& device : candidates) {
      if (pool <= 0) break;
      if (live_holders[key].contains(device)) continue;
      auto& g = devices[device];
      if (g.held.size() + granted[device].size() >= policy.max_per_device) continue;
      scanner::Allowance a;
      a.item = b.item;
      a.lot = b.lot;
      a.bin = b.location;
      a.qty = std::min(share, pool);
      a.basis_seq = g.applied_through;
      a.granted_ms = now_ms;
      a.expires_ms = now_ms + policy.ttl_ms;
      a.id = std::to_string(now_ms) + "-" + std::to_string(++serial);
      pool -= a.qty;
      granted[device].push_back(std::move(a));
    }
  }

  // Store each device's snapshot whose grants changed.
  for (auto& [device, g] : devices) {
    auto& fresh = granted[device];
    std::vector<std::string> ids;
    json list = json::array();
    for (const Held& h : g.held) {
      ids.push_back(h.grant.id);
      list.push_back(to_json(h.grant));
    }
    for (const auto& a : fresh) {
      ids.push_back(a.id);
      list.push_back(to_json(a));
    }
    if (ids == g.ids && g.has_record) continue;  // an empty first snapshot too: escrow is on for it
    if (g.site.empty()) continue;
    auto rec = store.put_master_data(kKind, task_scope(g.site, device), json{{"v", 1}, {"allowances", std::move(list)}});
    if (!rec) return rec.error();
    changed.push_back(std::move(*rec));
  }
  return changed;
}

}  // namespace tally::ledger
