// libmemvisor-client: the bot's side of the memvisord bot socket. Connects, says hello,
// dispatches trim/sweep/compact/ping/shutdown to handlers the bot registers, replies with
// measured results, and sends periodic stats. It never stalls the bot: connection trouble
// only ever schedules a reconnect (capped exponential backoff with jitter).
//
// Threading contract: a Client lives on one boost::asio::io_context and is NOT thread-safe.
// Every member function, every handler and every provider runs on the thread(s) running
// that io_context (call the setters before start(), or from that thread). Handlers run
// inline on the loop, so a long handler delays the bot's own work exactly as long as it
// runs; that is the bot's choice (see ActionHandler). For bots without Asio, see
// BackgroundClient in background_client.hpp.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "memvisor/client/backoff.hpp"
#include "memvisor/client/logfmt.hpp"
#include "memvisor/proto/messages.hpp"

namespace memvisor::client {

// What a handler tells the client about an action; the client adds the measured figures.
struct ActionOutcome {
  bool ok = true;
  std::string error;                        // when !ok
  std::vector<proto::CacheDetail> details;  // per cache; freed_bytes measured by the bot
};

// Protocol 1.1: a request's target_bytes says how much memvisord wants back. A handler that
// honours it evicts oldest first until that much is freed (see the reference bot); the client
// answers target_met = (RSS before - RSS after >= target) and heap_freed_bytes from the
// allocator's bytes in use (mallinfo2) before and after.

// Completes an action. Call it exactly once, on the client's thread; later calls are
// ignored. Not calling it at all means no reply is ever sent (memvisord times out).
using ActionDone = std::function<void(ActionOutcome)>;
// Runs an action. "Before" figures are taken just before the call, "after" figures when
// `done` is called; freed_bytes = RSS before - RSS after (from /proc/self/statm, measured,
// may be negative); heap_freed_bytes and target_met as above; late = the time to `done` exceeded the request's deadline_ms (the reply
// is still sent, marked late). One action runs at a time: a request arriving while another
// is pending gets an ErrorMsg "busy".
using ActionHandler = std::function<void(const proto::ActionRequest&, ActionDone)>;
// A handler that does all its work before returning.
using SyncActionHandler = std::function<ActionOutcome(const proto::ActionRequest&)>;
ActionHandler syncHandler(SyncActionHandler fn);
// The default trim: malloc_trim(0), one detail "malloc_trim" with the RSS it gave back.
ActionHandler defaultTrimHandler(std::string proc_root = "/proc");

// Shutdown: call `accept(true)` to acknowledge (Ack is sent) and then wind down within
// deadline_ms; `accept(false)` refuses (ErrorMsg action_failed); never calling it ignores the
// request. Without a handler the client refuses, so memvisord falls back to a signal.
using ShutdownAccept = std::function<void(bool accepted)>;
using ShutdownHandler = std::function<void(const proto::Shutdown&, ShutdownAccept)>;
// Ping: return true to answer with a pong (the default), false to stay silent.
using PingHandler = std::function<bool(const proto::Ping&)>;
using StatsProvider = std::function<proto::Stats()>;
using FiguresProvider = std::function<proto::MemFigures()>;

struct ClientOptions {
  std::string socket_path;  // empty: $MEMVISOR_SOCKET; both empty: the client stays idle
  std::string name;         // bot name sent in hello
  std::int64_t pid = 0;     // 0: getpid()
  BackoffPolicy backoff{};
  std::chrono::milliseconds handshake_timeout{5000};  // hello sent -> welcome received
  std::chrono::milliseconds write_timeout{5000};      // one queued frame written
  std::size_t max_queued_bytes = 1 << 20;             // write queue bound (see send rules)
  std::string proc_root = "/proc";
};

struct ClientCounters {
  std::uint64_t connects = 0;        // welcomes received
  std::uint64_t disconnects = 0;     // established or not
  std::uint64_t connect_failures = 0;
  std::uint64_t malformed_frames = 0;
  std::uint64_t stats_sent = 0;
  std::uint64_t stats_dropped = 0;   // write queue full
  std::uint64_t actions = 0;
  std::uint64_t late_replies = 0;
};

class Client {
 public:
  Client(boost::asio::io_context& io, ClientOptions options);
  ~Client();  // stop()s
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void onAction(proto::Action action, ActionHandler handler);
  void onShutdown(ShutdownHandler handler);
  void onPing(PingHandler handler);
  // Defaults: stats = figures + uptime; figures = currentFigures(proc_root).
  void setStatsProvider(StatsProvider provider);
  void setFiguresProvider(FiguresProvider provider);
  void setLogSink(LogSink sink);

  // Starts connecting (asynchronously). Idempotent.
  void start();
  // Closes the connection, cancels every timer; no reconnect after this. Pending action
  // replies are dropped. Idempotent.
  void stop();

  bool connected() const;  // welcome received on the current connection
  std::string socketPath() const;
  ClientCounters counters() const;
  // Sends an unsolicited Event (journalled by memvisord); dropped when not connected.
  void sendEvent(proto::Event event);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace memvisor::client
