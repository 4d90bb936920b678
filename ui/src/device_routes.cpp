// tallyd's replies as HTTP: status codes and JSON (device_routes.hpp).
#include "tally/ui/device_routes.hpp"

#include <algorithm>
#include <string>

#include "tally/wire/movement_json.hpp"

namespace tally::ui {
namespace {

using nlohmann::json;

json exception_json(const scanner::DeviceException& x) {
  return {{"kind", x.kind}, {"expected", x.expected}, {"scanned", x.scanned}, {"task", x.task}};
}

json allowance_json(const AllowanceReport& a) {
  return {{"id", a.id ? json(*a.id) : json(nullptr)},
          {"granted", a.granted},
          {"remaining", a.remaining},
          {"expires_ms", a.expires_ms},
          {"exceeded", a.exceeded}};
}

json self_test_json(const ScanReply& r) {
  json issues = json::array();
  bool ok = false;
  std::string summary;
  if (r.self_test) {
    ok = r.self_test->ok;
    summary = r.self_test->summary;
    for (const auto& i : r.self_test->issues) {
      issues.push_back({{"code", i.code}, {"severity", i.severity}, {"problem", i.problem}, {"fix", i.fix}});
    }
  }
  return {{"feedback", "self_test"},
          {"code", r.outcome.code},
          {"message", r.outcome.message},
          {"self_test", {{"ok", ok}, {"summary", summary}, {"issues", std::move(issues)}}}};
}

json symbol_json(const scanner::Symbol& s) {
  json position = json::array();
  for (const auto& p : s.position) position.push_back({p.x, p.y});
  return {{"format", s.format}, {"text", s.text}, {"aim_id", s.aim_id}, {"position", std::move(position)}};
}

json outcome_json(const ScanReply& r) {
  const scanner::Outcome& o = r.outcome;
  json body = {{"feedback", scanner::to_string(o.feedback)},
               {"code", o.code},
               {"message", o.message},
               {"prompt", o.prompt},
               {"operator", r.operator_id},
               {"mode", r.mode}};
  if (o.exception) body["exception"] = exception_json(*o.exception);
  return body;
}

}  // namespace

unsigned status_for_error(const Error& e) {
  const std::string& c = e.code;
  if (c == "disk_full") return 507;
  if (c == "overloaded" || c == "decode_timeout") return 503;
  if (c == "not_supported") return 501;
  if (c == "bad_request" || c == "not_an_image") return 400;
  if (c == "image_too_large" || c == "frame_too_large") return 413;
  if (c == "decoder_crashed") return 422;
  return 500;
}

ApiReply scan_response(const ScanReply& r) {
  switch (r.kind) {
    case ScanReply::Kind::self_test:
      return {200, self_test_json(r)};
    case ScanReply::Kind::failed: {
      const Error e = r.error.value_or(make_error("internal", "no reply"));
      json body = error_body(e.code, e.message);
      if (!r.outcome.prompt.empty()) {  // the session's prompt, when the device knew it
        body["feedback"] = "error";
        body["prompt"] = r.outcome.prompt;
      }
      return {status_for_error(e), std::move(body)};
    }
    case ScanReply::Kind::refused: {
      json body = outcome_json(r);
      body["error"] = {{"code", r.outcome.code}, {"message", r.outcome.message}};
      if (r.outcome.exception) body["exception"]["recorded"] = r.exception_recorded;
      return {422, std::move(body)};
    }
    case ScanReply::Kind::recorded:
    case ScanReply::Kind::accepted:
      break;
  }
  json body = outcome_json(r);
  body["scan_id"] = r.scan_id;
  if (!r.more_exceptions.empty()) {
    json more = json::array();
    for (const auto& x : r.more_exceptions) more.push_back(exception_json(x));
    body["more_exceptions"] = std::move(more);
  }
  if (r.allowance) body["allowance"] = allowance_json(*r.allowance);
  if (!r.recorded.empty()) {
    body["movement"] = wire::to_json(r.recorded.front());
    if (r.recorded.size() > 1) {  // a pallet: every movement, the first included
      json all = json::array();
      for (const auto& m : r.recorded) all.push_back(wire::to_json(m));
      body["movements"] = std::move(all);
    }
  }
  return {r.kind == ScanReply::Kind::recorded ? 201U : 200U, std::move(body)};
}

ApiReply frame_response(const FrameReply& r) {
  if (r.error) return {status_for_error(*r.error), error_body(r.error->code, r.error->message)};
  json symbols = json::array();
  for (const auto& s : r.symbols) symbols.push_back(symbol_json(s));
  json scans = json::array();
  unsigned status = 200;
  json failure;  // the body of a 5xx must say what went wrong at the top level too
  for (const auto& s : r.scans) {
    json entry = {{"text", s.text}, {"symbology", s.symbology}};
    if (!s.reply) {
      entry["status"] = nullptr;
      entry["result"] = error_body("not_processed", "skipped after an earlier scan of this frame failed");
    } else {
      ApiReply one = scan_response(*s.reply);
      if (one.status >= 500 && status < 500) {
        status = one.status;
        if (one.body.contains("error")) failure = one.body["error"];
      } else if (one.status == 201 && status == 200) {
        status = 201;
      }
      entry["status"] = one.status;
      entry["result"] = std::move(one.body);
    }
    scans.push_back(std::move(entry));
  }
  json body = {{"found", r.symbols.size()}, {"symbols", std::move(symbols)}, {"scans", std::move(scans)}};
  if (!failure.is_null()) body["error"] = std::move(failure);
  return {status, std::move(body)};
}

std::uint64_t ScanReply::max_seq() const {
  std::uint64_t seq = 0;
  for (const auto& m : recorded) seq = std::max(seq, m.seq);
  return seq;
}

ScanReply ScanReply::failure(Error error, std::string prompt) {
  ScanReply r;
  r.kind = Kind::failed;
  r.outcome.prompt = std::move(prompt);
  r.error = std::move(error);
  return r;
}

std::uint64_t FrameReply::max_seq() const {
  std::uint64_t seq = 0;
  for (const auto& s : scans)
    if (s.reply) seq = std::max(seq, s.reply->max_seq());
  return seq;
}

FrameReply FrameReply::failure(Error error) {
  FrameReply r;
  r.error = std::move(error);
  return r;
}

}  // namespace tally::ui
