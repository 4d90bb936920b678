// The MQTT contract v1 (tally/wire/protocol.hpp).
#include "tally/wire/protocol.hpp"

#include <limits>

namespace tally::wire {

using nlohmann::json;

namespace {

// A topic level: non-empty, no wildcard or separator.
bool valid_level(std::string_view s) { return !s.empty() && s.find_first_of("/+#") == std::string_view::npos; }

constexpr std::uint64_t kMaxInt64 = std::uint64_t{std::numeric_limits<std::int64_t>::max()};

}  // namespace

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string site_root(std::string_view site) { return std::string(kTopicRoot) + std::string(site) + "/"; }

std::string topic(std::string_view scope, std::string_view leaf) {
  return std::string(kTopicRoot) + std::string(scope) + "/" + std::string(leaf);
}

std::string device_topic(std::string_view site, std::string_view device, std::string_view leaf) {
  return site_root(site) + std::string(device) + "/" + std::string(leaf);
}

std::optional<DeviceTopic> parse_device_topic(std::string_view topic, std::string_view leaf) {
  if (topic.size() <= kTopicRoot.size() + leaf.size() + 1 || topic.substr(0, kTopicRoot.size()) != kTopicRoot ||
      topic.substr(topic.size() - leaf.size()) != leaf || topic[topic.size() - leaf.size() - 1] != '/') {
    return std::nullopt;
  }
  const std::string_view middle = topic.substr(kTopicRoot.size(), topic.size() - kTopicRoot.size() - leaf.size() - 1);
  const auto slash = middle.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view site = middle.substr(0, slash);
  const std::string_view device = middle.substr(slash + 1);
  if (!valid_level(site) || !valid_level(device)) return std::nullopt;
  return DeviceTopic{std::string(site), std::string(device)};
}

std::string envelope_open(std::string_view device, std::string_view site, std::string_view list_key) {
  std::string out = R"({"v":1,"device":)";
  out += dump(json(std::string(device)));
  out += R"(,"site":)";
  out += dump(json(std::string(site)));
  out += ",\"";
  out += list_key;
  out += "\":[";
  return out;
}

Result<json> parse_v1_object(std::string_view payload) {
  json j = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("bad_json", "the payload is not valid JSON");
  if (!j.is_object()) return make_error("bad_json", "the payload must be a JSON object");
  const auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() != 1) {
    return make_error("bad_version", "\"v\" must be 1");
  }
  return j;
}

Result<json> parse_envelope(const DeviceTopic& topic, std::string_view payload, std::string_view list_key) {
  auto parsed = parse_v1_object(payload);
  if (!parsed) return parsed;
  const json& j = *parsed;
  const auto device = j.find("device");
  const auto site = j.find("site");
  const auto list = j.find(list_key);
  if (device == j.end() || !device->is_string()) return make_error("bad_batch", "\"device\" must be a string");
  if (site == j.end() || !site->is_string()) return make_error("bad_batch", "\"site\" must be a string");
  if (list == j.end() || !list->is_array()) {
    return make_error("bad_batch", "\"" + std::string(list_key) + "\" must be an array");
  }
  if (device->get_ref<const std::string&>() != topic.device) {
    return make_error("forged_device", "the batch names device \"" + device->get<std::string>() +
                                           "\" but was published under \"" + topic.device + "\"");
  }
  if (site->get_ref<const std::string&>() != topic.site) {
    return make_error("forged_device", "the batch names site \"" + site->get<std::string>() +
                                           "\" but was published under \"" + topic.site + "\"");
  }
  return parsed;
}

std::string ack_payload(std::uint64_t applied_through,
                        const std::vector<std::pair<std::uint64_t, std::string>>& rejected) {
  json r = json::array();
  for (const auto& [seq, reason] : rejected) r.push_back({{"seq", seq}, {"reason", reason}});
  return dump(json{{"v", 1}, {"applied_through", applied_through}, {"rejected", std::move(r)}});
}

std::string exceptions_ack_payload(std::int64_t exceptions_through) {
  return dump(json{{"v", 1}, {"exceptions_through", exceptions_through}});
}

std::optional<Ack> parse_ack(std::string_view payload) {
  const auto parsed = parse_v1_object(payload);
  if (!parsed) return std::nullopt;
  const json& j = *parsed;
  Ack ack;
  if (const auto e = j.find("exceptions_through");
      e != j.end() && e->is_number_unsigned() && e->get<std::uint64_t>() <= kMaxInt64) {
    ack.exceptions_through = e->get<std::int64_t>();
  }
  if (const auto a = j.find("applied_through"); a != j.end() && a->is_number_unsigned()) {
    ack.applied_through = a->get<std::uint64_t>();
  }
  if (!ack.applied_through && !ack.exceptions_through) return std::nullopt;
  if (const auto it = j.find("rejected"); it != j.end() && it->is_array()) {
    for (const auto& r : *it) {
      // Only logged: whatever the element is, it must not throw here.
      std::uint64_t seq = 0;
      std::string reason = "?";
      if (r.is_object()) {
        if (const auto s = r.find("seq"); s != r.end() && s->is_number_unsigned()) seq = s->get<std::uint64_t>();
        if (const auto why = r.find("reason"); why != r.end() && why->is_string()) reason = why->get<std::string>();
      }
      ack.rejected.emplace_back(seq, std::move(reason));
    }
  }
  return ack;
}

std::string status_payload(std::string_view device, std::string_view site, const Status& status) {
  return json{{"v", 1},
              {"device", std::string(device)},
              {"site", std::string(site)},
              {"online", status.online},
              {"pending", status.pending},
              {"last_seq", status.last_seq},
              {"version", status.version}}
      .dump();
}

Result<Status> parse_status(const DeviceTopic& topic, std::string_view payload) {
  auto parsed = parse_v1_object(payload);
  if (!parsed) return parsed.error();
  const json& j = *parsed;
  for (const auto& [key, level] : {std::pair{"device", &topic.device}, std::pair{"site", &topic.site}}) {
    const auto it = j.find(key);
    if (it == j.end()) continue;  // optional: devices before it was added omit both
    if (!it->is_string()) return make_error("bad_status", "\"" + std::string(key) + "\" must be a string");
    if (it->get_ref<const std::string&>() != *level) {
      return make_error("forged_device", "the status names " + std::string(key) + " \"" + it->get<std::string>() +
                                             "\" but was published under \"" + *level + "\"");
    }
  }
  Status st;
  const auto online = j.find("online");
  if (online == j.end() || !online->is_boolean()) return make_error("bad_status", "\"online\" must be true or false");
  st.online = online->get<bool>();
  for (const auto& [key, out] : {std::pair{"pending", &st.pending}, std::pair{"last_seq", &st.last_seq}}) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() > kMaxInt64) {
      return make_error("bad_status", "\"" + std::string(key) + "\" must be a non-negative integer");
    }
    *out = it->get<std::uint64_t>();
  }
  if (st.pending > st.last_seq) return make_error("bad_status", "\"pending\" is above \"last_seq\"");
  const auto version = j.find("version");
  if (version == j.end() || !version->is_string() || version->get_ref<const std::string&>().size() > 64) {
    return make_error("bad_status", "\"version\" must be a string of at most 64 bytes");
  }
  st.version = version->get<std::string>();
  return st;
}

}  // namespace tally::wire
