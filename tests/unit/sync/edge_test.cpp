// tally::edge pure logic: the send window (batching, linger, in-flight
// window, acks, rewinds), backoff, and master-data chunk assembly.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "tally/edge/chunk_assembler.hpp"
#include "tally/edge/edge_client.hpp"
#include "tally/edge/send_window.hpp"

namespace tally::edge {
namespace {

using namespace std::chrono_literals;

WindowOptions small() {
  WindowOptions o;
  o.batch_max = 10;
  o.linger = 20ms;
  o.inflight_max = 2;
  o.resend_timeout = 1000ms;
  return o;
}

TEST(SendWindow, BacklogAtStartSendsFullBatchesAtOnceUpToTheWindow) {
  SendWindow w(small());
  w.reset(/*acked=*/5, /*last_seq=*/40);
  const TimePoint t0{};
  auto p = w.plan(t0);
  ASSERT_TRUE(p.send);
  EXPECT_EQ(p.after, 5U);
  EXPECT_EQ(p.count, 10U);
  w.on_sent(6, 15, t0);
  p = w.plan(t0);
  ASSERT_TRUE(p.send);
  EXPECT_EQ(p.after, 15U);
  w.on_sent(16, 25, t0);
  p = w.plan(t0);
  EXPECT_FALSE(p.send) << "window of 2 batches is full";
  ASSERT_TRUE(p.wake_at);
  EXPECT_EQ(*p.wake_at, t0 + 1000ms) << "wakes for the resend timeout";
  EXPECT_EQ(w.on_ack(15, t0), SendWindow::AckEffect::advanced);
  EXPECT_EQ(w.acked(), 15U);
  p = w.plan(t0);
  ASSERT_TRUE(p.send);
  EXPECT_EQ(p.after, 25U);
  EXPECT_EQ(w.pending(), 25U);
}

TEST(SendWindow, LiveScansLingerThenGoOrGoAtOnceWhenABatchIsFull) {
  SendWindow w(small());
  w.reset(0, 0);
  const TimePoint t0 = TimePoint{} + 1s;
  EXPECT_FALSE(w.plan(t0).send);
  EXPECT_FALSE(w.plan(t0).wake_at) << "idle: no timer at all";
  w.on_appended(1, t0);
  auto p = w.plan(t0 + 5ms);
  EXPECT_FALSE(p.send);
  ASSERT_TRUE(p.wake_at);
  EXPECT_EQ(*p.wake_at, t0 + 20ms);
  w.on_appended(3, t0 + 10ms);
  p = w.plan(t0 + 20ms);
  ASSERT_TRUE(p.send);
  EXPECT_EQ(p.after, 0U);
  EXPECT_EQ(p.count, 3U);
  w.on_sent(1, 3, t0 + 20ms);
  w.on_appended(13, t0 + 21ms);  // 10 new: a full batch goes without lingering
  p = w.plan(t0 + 21ms);
  ASSERT_TRUE(p.send);
  EXPECT_EQ(p.count, 10U);
}

TEST(SendWindow, TimeoutRewindsToAckedPlusOne) {
  SendWindow w(small());
  w.reset(0, 20);
  const TimePoint t0{};
  w.on_sent(1, 10, t0);
  w.on_sent(11, 20, t0 + 100ms);
  EXPECT_FALSE(w.check_timeout(t0 + 999ms));
  EXPECT_TRUE(w.check_timeout(t0 + 1000ms));
  EXPECT_EQ(w.sent_through(), 0U);
  EXPECT_EQ(w.inflight_batches(), 0U);
  auto p = w.plan(t0 + 1000ms);
  ASSERT_TRUE(p.send);
  EXPECT_EQ(p.after, 0U);
}

TEST(SendWindow, AGapAckRewindsOnceAndStaleAcksDoNotCascade) {
  SendWindow w(small());
  WindowOptions o = small();
  o.inflight_max = 3;
  w = SendWindow(o);
  w.reset(0, 30);
  const TimePoint t0{};
  w.on_sent(1, 10, t0);
  w.on_sent(11, 20, t0);
  w.on_sent(21, 30, t0);
  // Batch 1..10 was lost: the ledger answers 11..20 with applied_through 0.
  EXPECT_EQ(w.on_ack(0, t0), SendWindow::AckEffect::rewind);
  EXPECT_EQ(w.sent_through(), 0U);
  w.on_sent(1, 10, t0);
  w.on_sent(11, 20, t0);
  // The stale answer to the old 21..30 arrives: no second rewind.
  EXPECT_EQ(w.on_ack(0, t0), SendWindow::AckEffect::duplicate);
  EXPECT_EQ(w.sent_through(), 20U);
  EXPECT_EQ(w.on_ack(10, t0), SendWindow::AckEffect::advanced);
  EXPECT_EQ(w.on_ack(20, t0), SendWindow::AckEffect::advanced);
  EXPECT_EQ(w.inflight_batches(), 0U);
  // A fresh non-advancing answer to an unapplied batch rewinds again.
  w.on_sent(21, 30, t0);
  EXPECT_EQ(w.on_ack(20, t0), SendWindow::AckEffect::rewind);
  EXPECT_EQ(w.sent_through(), 20U);
}

TEST(SendWindow, ReconnectResendsEverythingAboveAckedAndAcksBeyondAreIgnored) {
  SendWindow w(small());
  w.reset(3, 8);
  const TimePoint t0{};
  w.on_sent(4, 8, t0);
  w.on_reconnect();
  EXPECT_EQ(w.sent_through(), 3U);
  auto p = w.plan(t0);
  ASSERT_TRUE(p.send);
  EXPECT_EQ(p.after, 3U);
  EXPECT_EQ(p.count, 5U);
  EXPECT_EQ(w.on_ack(99, t0), SendWindow::AckEffect::beyond);
  EXPECT_EQ(w.acked(), 3U);
  // The ledger is ahead of this connection (it applied 4..8 before a crash).
  EXPECT_EQ(w.on_ack(8, t0), SendWindow::AckEffect::advanced);
  EXPECT_EQ(w.pending(), 0U);
  EXPECT_FALSE(w.plan(t0).send);
}

TEST(Backoff, GrowsWithFullJitterUpToTheCapAndResets) {
  Backoff b(250ms, 2000ms, /*seed=*/42);
  std::chrono::milliseconds biggest{0};
  for (int i = 0; i < 50; ++i) {
    const auto d = b.next();
    EXPECT_GE(d, 250ms);
    EXPECT_LE(d, 2000ms);
    if (i == 0) {
      EXPECT_EQ(d, 250ms) << "first attempt: [min, min]";
    }
    biggest = std::max(biggest, d);
  }
  EXPECT_GT(biggest, 1000ms) << "later attempts reach toward the cap";
  b.reset();
  EXPECT_EQ(b.attempts(), 0U);
  EXPECT_EQ(b.next(), 250ms);
}

std::string chunk(const std::string& kind, std::int64_t version, std::size_t i, std::size_t n,
                  const std::string& data) {
  return nlohmann::json{{"v", 1}, {"kind", kind}, {"version", version}, {"chunk", i}, {"chunks", n}, {"data", data}}
      .dump();
}

TEST(ChunkAssembler, AssemblesOutOfOrderAndIgnoresDuplicatesAndEmptyPayloads) {
  ChunkAssembler a;
  const std::string text = R"({"v":1,"version":3,"locations":[{"code":"A-01-01-1","kind":"bin"}]})";
  const std::string p0 = text.substr(0, 10), p1 = text.substr(10, 20), p2 = text.substr(30);
  auto r = a.offer("locations", 2, chunk("locations", 3, 2, 3, p2));
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  r = a.offer("locations", 2, chunk("locations", 3, 2, 3, p2));  // duplicate
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  r = a.offer("locations", 1, "");  // a deleted retained chunk
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  r = a.offer("locations", 0, chunk("locations", 3, 0, 3, p0));
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  r = a.offer("locations", 1, chunk("locations", 3, 1, 3, p1));
  ASSERT_TRUE(r);
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->kind, "locations");
  EXPECT_EQ((*r)->version, 3);
  EXPECT_EQ((*r)->text, text);
  EXPECT_EQ(a.bytes_held(), 0U);
  EXPECT_EQ(a.completed_version("locations"), 3);
  // The same version again (retained, redelivered on resubscribe): ignored.
  r = a.offer("locations", 0, chunk("locations", 3, 0, 1, text));
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
}

TEST(ChunkAssembler, RefusesMalformedChunks) {
  ChunkAssembler a;
  const std::vector<std::pair<std::size_t, std::string>> bad = {
      {0, "not json"},
      {0, "[1,2]"},
      {0, R"({"v":2,"kind":"catalog","version":1,"chunk":0,"chunks":1,"data":""})"},
      {0, R"({"v":1,"kind":"locations","version":1,"chunk":0,"chunks":1,"data":""})"},  // kind vs topic
      {1, R"({"v":1,"kind":"catalog","version":1,"chunk":0,"chunks":1,"data":""})"},    // index vs topic
      {2, R"({"v":1,"kind":"catalog","version":1,"chunk":2,"chunks":2,"data":""})"},    // index >= chunks
      {0, R"({"v":1,"kind":"catalog","version":0,"chunk":0,"chunks":1,"data":""})"},
      {0, R"({"v":1,"kind":"catalog","version":1,"chunk":0,"chunks":0,"data":""})"},
      {0, R"({"v":1,"kind":"catalog","version":1,"chunk":0,"chunks":1,"data":7})"},
      {0, R"({"v":1,"kind":"catalog","version":1,"chunk":-1,"chunks":1,"data":""})"},
  };
  for (const auto& [index, payload] : bad) {
    auto r = a.offer("catalog", index, payload);
    EXPECT_FALSE(r) << payload;
    if (!r) {
      EXPECT_EQ(r.error().code, "bad_chunk") << payload;
    }
  }
  EXPECT_EQ(a.bytes_held(), 0U);
}

TEST(ChunkAssembler, NewerVersionDropsIncompleteOlderAndOlderChunksAreIgnored) {
  ChunkAssembler a;
  ASSERT_TRUE(a.offer("catalog", 0, chunk("catalog", 4, 0, 2, "old-")));
  EXPECT_EQ(a.bytes_held(), 4U);
  ASSERT_TRUE(a.offer("catalog", 0, chunk("catalog", 5, 0, 2, "new-")));
  EXPECT_EQ(a.bytes_held(), 4U) << "version 4 dropped";
  auto r = a.offer("catalog", 1, chunk("catalog", 4, 1, 2, "tail"));  // stale chunk of 4
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  r = a.offer("catalog", 1, chunk("catalog", 5, 1, 2, "tail"));
  ASSERT_TRUE(r);
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->text, "new-tail");
  // A chunk count that changes within a version is refused and drops it.
  ASSERT_TRUE(a.offer("catalog", 0, chunk("catalog", 6, 0, 3, "x")));
  r = a.offer("catalog", 1, chunk("catalog", 6, 1, 2, "y"));
  EXPECT_FALSE(r);
  EXPECT_EQ(a.bytes_held(), 0U);
}

TEST(ChunkAssembler, CapsTotalBytesAcrossKinds) {
  ChunkAssembler a(AssemblerOptions{100, 16});
  ASSERT_TRUE(a.offer("catalog", 0, chunk("catalog", 1, 0, 2, std::string(60, 'c'))));
  auto r = a.offer("locations", 0, chunk("locations", 1, 0, 2, std::string(50, 'l')));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "chunk_too_large");
  EXPECT_EQ(a.bytes_held(), 60U);
  r = a.offer("catalog", 1, chunk("catalog", 1, 1, 2, std::string(41, 'c')));
  ASSERT_FALSE(r) << "61 + 41 > 100";
  EXPECT_EQ(a.bytes_held(), 0U);
  // Too many chunks is refused up front.
  EXPECT_FALSE(a.offer("catalog", 0, chunk("catalog", 2, 0, 17, "x")));
  // After a failure, the kind can be assembled again.
  r = a.offer("catalog", 0, chunk("catalog", 2, 0, 1, "ok"));
  ASSERT_TRUE(r);
  ASSERT_TRUE(*r);
  a.forget("catalog", 2);
  EXPECT_EQ(a.completed_version("catalog"), 0);
}

// Regression (found reading the ack path for the edge_message fuzz target):
// a "rejected" element that is not an object, or whose seq is not a number,
// made json::value() throw out of the MQTT callback. It is now listed with
// seq 0 / reason "?" and the ack still counts.
TEST(ParseAck, MalformedRejectedElementsDoNotThrow) {
  const auto a = parse_ack(R"({"v":1,"applied_through":7,"rejected":[1,{"seq":"x","reason":5},{"seq":6,"reason":"bad"}]})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->applied_through, 7U);
  ASSERT_EQ(a->rejected.size(), 3U);
  EXPECT_EQ(a->rejected[0], (std::pair<std::uint64_t, std::string>{0, "?"}));
  EXPECT_EQ(a->rejected[1], (std::pair<std::uint64_t, std::string>{0, "?"}));
  EXPECT_EQ(a->rejected[2], (std::pair<std::uint64_t, std::string>{6, "bad"}));
}

TEST(ParseAck, RefusesWhatIsNotAnAck) {
  for (const char* bad : {"", "[]", R"({"v":2,"applied_through":1})", R"({"v":1})", R"({"v":1,"applied_through":-1})",
                          R"({"v":1,"exceptions_through":-3})", R"({"applied_through":1})"}) {
    EXPECT_FALSE(parse_ack(bad)) << bad;
  }
  const auto e = parse_ack(R"({"v":1,"exceptions_through":4})");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->applied_through);
  EXPECT_EQ(e->exceptions_through, 4);
}

}  // namespace
}  // namespace tally::edge
