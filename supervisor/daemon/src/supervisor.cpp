// All bots, the bot socket's binding of connections to bots, the control backend, reload.
#include "memvisor/daemon/supervisor.hpp"

#include <malloc.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <filesystem>

#include "memvisor/config/load.hpp"
#include "memvisor/config/units.hpp"

namespace memvisor::daemon {

namespace {
constexpr std::size_t kTrimAfterStatusOf = 64;  // bots
}  // namespace

namespace asio = boost::asio;

namespace {
proto::ErrorMsg errorFor(std::uint64_t id, const std::string& code, const std::string& message) {
  proto::ErrorMsg e;
  e.id = id;
  e.code = code;
  e.message = message;
  return e;
}

std::size_t countOpenFds(const sampling::SysPaths& paths) {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it(paths.proc_root + "/self/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++n;
  }
  return n > 0 ? n - 1 : 0;  // the iterator's own descriptor
}

// Collects one BotOutcome per target and replies once all are in.
struct Gather {
  std::vector<proto::BotOutcome> results;
  std::size_t pending = 0;
  std::function<void(std::vector<proto::BotOutcome>)> finish;
  void add(std::size_t index, proto::BotOutcome o) {
    results[index] = std::move(o);
    if (--pending == 0) finish(std::move(results));
  }
};

// One outcome per bot of `n`, answered as one ResultMsg{id, outcomes} once all are in.
template <typename ResultMsg>
std::shared_ptr<Gather> gatherInto(std::size_t n, std::uint64_t id,
                                   const std::function<void(proto::Message)>& reply) {
  auto gather = std::make_shared<Gather>();
  gather->results.resize(n);
  gather->pending = n;
  gather->finish = [reply, id](std::vector<proto::BotOutcome> r) {
    reply(ResultMsg{id, std::move(r)});
  };
  return gather;
}
}  // namespace

Supervisor::Supervisor(asio::io_context& io, journal::Journal& journal, Signaller& signaller,
                       ChildReaper& reaper, config::Config config, Options options)
    : io_(io),
      journal_(journal),
      options_(std::move(options)),
      config_(std::move(config)),
      env_{io,
           journal,
           signaller,
           reaper,
           options_.paths,
           config_.daemon.bot_socket,
           options_.wall_ms,
           options_.cgroup_parent,
           options_.metrics,
           nullptr,
           {}} {
  env_.registrar = options_.registrar;
}

config::Config Supervisor::runningConfig() const {
  config::Config out = config_;
  out.bots.clear();
  for (const auto& name : order_) {
    auto it = bots_.find(name);
    if (it != bots_.end()) out.bots.push_back(it->second->config());
  }
  return out;
}

Supervisor::~Supervisor() {
  *alive_ = false;
  if (server_) server_->stop();
  bots_.clear();
}

Result<void> Supervisor::start() {
  BotServerOptions so;
  so.path = config_.daemon.bot_socket;
  so.session = options_.session;
  server_ = std::make_unique<BotServer>(io_, so, sessionHooks());
  if (auto r = server_->start(); !r) return r;
  loadCounters();
  start_began_ = std::chrono::steady_clock::now();
  starting_all_ = true;
  for (const auto& bc : config_.bots) addBot(bc, "memvisord start");
  // From here on each bot's entry lives in its SupervisedBot (runningConfig() gathers them):
  // a thousand bots' configs are not kept twice.
  config_.bots.clear();
  config_.bots.shrink_to_fit();
  return okResult();
}

void Supervisor::loadCounters() {
  const std::string& path = config_.daemon.state_file;
  if (path.empty()) return;
  auto r = loadSavedCounters(path);
  if (!r) {
    journal("counters", proto::Level::kWarn,
            "counters not restored, counting from 0: " + r.error().message, {{"file", path}});
  } else {
    saved_ = std::move(r.value());
    for (const auto& [name, c] : saved_) {
      double actions = 0;  // the policy's and the operator's
      for (const auto& [key, n] : c.actions_by) actions += n;
      journal("counters", proto::Level::kInfo,
              "counters restored from " + path + ": " + std::to_string(c.restarts) +
                  " restarts, " + std::to_string(c.oom_kills) + " OOM kills, " +
                  std::to_string(static_cast<long long>(actions)) + " actions",
              {{"bot", name}, {"file", path}});
    }
  }
  env_.saved = &saved_;
  env_.counters_changed = [this] { saveCounters(); };
}

void Supervisor::saveCounters() {
  const std::string& path = config_.daemon.state_file;
  if (path.empty()) return;
  for (const auto& [name, bot] : bots_) saved_[name] = bot->counters();
  if (auto r = saveSavedCounters(path, saved_); !r) {
    if (r.error().message != state_error_) {
      state_error_ = r.error().message;
      journal("counters", proto::Level::kError,
              "cannot save the counters (supervision goes on): " + r.error().message,
              {{"file", path}});
    }
    return;
  }
  state_error_.clear();
}

void Supervisor::addBot(const config::BotConfig& bc, const std::string& reason) {
  auto bot = std::make_unique<SupervisedBot>(env_, bc);
  bots_[bc.name] = std::move(bot);
  order_.push_back(bc.name);
  start_queue_.emplace_back(bc.name, reason);
  if (start_queue_.size() == 1) asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
      if (!alive.expired()) pumpStarts();
    });
}

void Supervisor::pumpStarts() {
  // A start storm (hundreds of bots at memvisord's start or in one reload) must not hold
  // the loop: a few starts per turn, then the rest is posted behind the sampling timers,
  // control requests and bot sessions that are ready meanwhile. A spawn costs about half
  // a millisecond, so 1,000 bots are up in a second or two of loop time.
  for (std::size_t n = 0; n < kStartsPerTurn && !start_queue_.empty(); ++n) {
    auto [name, reason] = std::move(start_queue_.front());
    start_queue_.pop_front();
    if (shutting_down_) {
      start_queue_.clear();
      break;
    }
    if (auto* bot = find(name)) bot->start(reason);  // removed meanwhile: nothing to do
  }
  if (!start_queue_.empty()) {
    asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
      if (!alive.expired()) pumpStarts();
    });
    return;
  }
  if (starting_all_) {
    starting_all_ = false;
    // Parsing the config and starting every bot left freed heap behind (the YAML tree, a
    // thousand spawns' argument vectors): give it back before the long idle stretch.
    ::malloc_trim(0);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start_began_);
    const std::size_t fds = countOpenFds(options_.paths);
    std::size_t running = 0;
    for (auto* b : bots()) running += b->pid() > 0 ? 1 : 0;
    journal("start", proto::Level::kInfo,
            "started " + std::to_string(order_.size()) + " bot(s) in " +
                std::to_string(took.count()) + " ms (" + std::to_string(running) +
                " running); memvisord holds " + std::to_string(fds) + " open files",
            {{"bots", std::to_string(order_.size())},
             {"running", std::to_string(running)},
             {"start_ms", std::to_string(took.count())},
             {"open_fds", std::to_string(fds)}});
  }
}

void Supervisor::removeBot(const std::string& name, const std::string& reason) {
  auto it = bots_.find(name);
  if (it == bots_.end()) return;
  std::unique_ptr<SupervisedBot> bot = std::move(it->second);
  bots_.erase(it);
  std::erase(order_, name);
  for (auto s = session_bot_.begin(); s != session_bot_.end();) {
    s = s->second == name ? session_bot_.erase(s) : std::next(s);
  }
  if (bot->config().mode == config::Mode::kAttach) return;  // not ours to stop: just let go
  SupervisedBot* raw = bot.get();
  retiring_.push_back(std::move(bot));
  raw->stop(reason, [this, alive = std::weak_ptr<bool>(alive_), raw] {
    if (alive.expired()) return;
    // Destroyed outside the stop callback chain that is still running on it.
    asio::post(io_, [this, alive, raw] {
      if (alive.expired()) return;
      std::erase_if(retiring_, [raw](const auto& p) { return p.get() == raw; });
    });
  });
}

SupervisedBot* Supervisor::find(const std::string& name) {
  auto it = bots_.find(name);
  return it == bots_.end() ? nullptr : it->second.get();
}

std::vector<SupervisedBot*> Supervisor::bots() {
  std::vector<SupervisedBot*> out;
  for (const auto& n : order_) {
    if (auto* b = find(n)) out.push_back(b);
  }
  return out;
}

void Supervisor::shutdown(std::function<void()> done) {
  shutting_down_ = true;
  saveCounters();
  auto remaining = std::make_shared<std::size_t>(1);  // +1 held until the loop ends
  auto finish = [this, alive = std::weak_ptr<bool>(alive_), remaining, done = std::move(done)] {
    if (--*remaining != 0) return;
    if (!alive.expired() && server_) server_->stop();
    if (done) done();
  };
  for (auto* bot : bots()) {
    if (bot->config().mode == config::Mode::kAttach) continue;  // left running, as found
    ++*remaining;
    bot->stop("memvisord shutting down", finish);
  }
  for (auto& bot : retiring_) {
    ++*remaining;
    bot->stop("memvisord shutting down", finish);
  }
  finish();
}

void Supervisor::kill() {
  for (auto* bot : bots()) bot->killNow();
  for (auto& bot : retiring_) bot->killNow();
}

proto::ReloadResult Supervisor::reload() {
  proto::ReloadResult result;
  auto loaded = options_.load_config
                    ? options_.load_config()
                    : Result<config::Config>(Error{"bad_config", "no config file"});
  if (!loaded) {
    result.ok = false;
    result.errors = config::errorLines(loaded.error());
    std::map<std::string, std::string> fields{{"errors", std::to_string(result.errors.size())}};
    for (std::size_t i = 0; i < result.errors.size() && i < 20; ++i) {
      fields["error" + std::to_string(i + 1)] = result.errors[i];
    }
    journal("config", proto::Level::kError,
            "reload refused, the running config stays: " +
                (result.errors.empty() ? loaded.error().message : result.errors.front()),
            fields);
    return result;
  }
  const config::ConfigDiff diff = config::diffConfigs(runningConfig(), loaded.value());
  config::Config next = std::move(loaded.value());
  for (const auto& name : diff.removed_bots) removeBot(name, "removed from the config");
  for (const auto& name : diff.changed_bots) {
    if (auto* bot = find(name)) {
      if (const auto* bc = next.findBot(name)) bot->applyConfig(*bc);
    }
  }
  for (const auto& name : diff.respawn_bots) {
    if (auto* bot = find(name)) {
      if (const auto* bc = next.findBot(name)) bot->applyConfig(*bc);
    }
  }
  // Runtime limits end with a reload, even for bots whose file entry did not change.
  std::vector<std::string> restored;
  for (auto* bot : bots()) {
    const auto* bc = next.findBot(bot->name());
    if (!bc || !bot->limitFromRuntime()) continue;
    const std::string line = bot->name() + ": limit " + config::formatBytes(bot->limit()) +
                             " (runtime) -> " + config::formatBytes(bc->policy.limit) + " (config)";
    bot->applyConfig(*bc);
    restored.push_back(line);
  }
  config_.source = next.source;
  for (const auto& name : diff.added_bots) {
    if (const auto* bc = next.findBot(name)) addBot(*bc, "added by reload");
  }
  if (diff.daemon_changed) {
    journal(
        "config", proto::Level::kWarn,
        "daemon settings changed (sockets, journal, metrics): they apply when memvisord restarts");
  }
  for (const auto& change : diff.changes) journal("config", proto::Level::kInfo, change);
  for (const auto& line : restored) journal("config", proto::Level::kInfo, line);
  for (const auto& name : diff.respawn_bots) {
    journal("config", proto::Level::kInfo,
            "command, env, cwd or user of " + name + " changed: takes effect at its next restart");
  }
  if (diff.empty() && restored.empty()) journal("config", proto::Level::kInfo, "reload: no change");
  result.ok = true;
  result.changes = diff.changes;
  result.changes.insert(result.changes.end(), restored.begin(), restored.end());
  return result;
}

// ---- bot socket --------------------------------------------------------------------------

SessionHooks Supervisor::sessionHooks() {
  SessionHooks h;
  h.on_hello = [this](const std::shared_ptr<BotSession>& session,
                      const proto::Hello& hello) -> Result<SessionHooks::Admission> {
    if (shutting_down_) return Error{proto::errc::kBusy, "memvisord is shutting down"};
    const PeerCred& peer = session->peer();
    for (auto* bot : bots()) {
      if (!bot->claims(peer, hello)) continue;
      (void)bot->bind(session);
      session_bot_[session->id()] = bot->name();
      return SessionHooks::Admission{bot->name(), bot->config().stats_interval.count()};
    }
    journal("bot_socket", proto::Level::kWarn,
            "refused connection from pid " + std::to_string(peer.pid) + " uid " +
                std::to_string(peer.uid) + " (hello name '" + hello.name +
                "'): not a supervised bot or one of its descendants",
            {{"peer_pid", std::to_string(peer.pid)}, {"peer_uid", std::to_string(peer.uid)}});
    return Error{proto::errc::kNotPermitted,
                 "pid " + std::to_string(peer.pid) + " (uid " + std::to_string(peer.uid) +
                     ") is not a bot memvisord supervises, nor one of its descendants"};
  };
  h.on_stats = [this](const std::shared_ptr<BotSession>& s, const proto::Stats& st) {
    if (auto* bot = botOf(s)) bot->onStats(st);
  };
  h.on_event = [this](const std::shared_ptr<BotSession>& s, const proto::Event& ev) {
    if (auto* bot = botOf(s)) bot->onEvent(ev);
  };
  h.on_closed = [this](const std::shared_ptr<BotSession>& s, const std::string& reason) {
    if (auto* bot = botOf(s)) bot->onSessionClosed(s, reason);
    session_bot_.erase(s->id());
  };
  h.on_notice = [this](const PeerCred& peer, const std::string& code, const std::string& message) {
    journal("bot_socket", code == "late_reply" ? proto::Level::kInfo : proto::Level::kWarn, message,
            {{"peer_pid", std::to_string(peer.pid)},
             {"peer_uid", std::to_string(peer.uid)},
             {"code", code}});
  };
  return h;
}

SupervisedBot* Supervisor::botOf(const std::shared_ptr<BotSession>& session) {
  auto it = session_bot_.find(session->id());
  return it == session_bot_.end() ? nullptr : find(it->second);
}

// ---- control backend ---------------------------------------------------------------------

Result<void> Supervisor::checkBot(const std::string& bot) const {
  if (bots_.count(bot) != 0) return okResult();
  return Error{proto::errc::kUnknownBot, unknownBot(bot)};
}

std::string Supervisor::unknownBot(const std::string& name) const {
  std::string known;
  for (const auto& n : order_) known += (known.empty() ? "" : ", ") + n;
  return "no bot named \"" + name + "\" (configured: " + (known.empty() ? "none" : known) + ")";
}

std::optional<std::vector<SupervisedBot*>> Supervisor::targets(const std::string& bot,
                                                               std::uint64_t id,
                                                               const Reply& reply) {
  if (bot == "all") return bots();
  if (auto* b = find(bot)) return std::vector<SupervisedBot*>{b};
  reply(errorFor(id, proto::errc::kUnknownBot, unknownBot(bot)));
  return std::nullopt;
}

void Supervisor::handle(const proto::ControlRequest& request, Reply reply) {
  std::visit([&](const auto& req) { onRequest(req, reply); }, request);
}

void Supervisor::onRequest(const proto::StatusRequest& req, const Reply& reply) {
  proto::StatusResult res;
  res.id = req.id;
  if (req.bots.empty()) {
    for (auto* b : bots()) res.bots.push_back(b->status());
  } else {
    for (const auto& name : req.bots) {
      auto* b = find(name);
      if (!b) {
        reply(errorFor(req.id, proto::errc::kUnknownBot, unknownBot(name)));
        return;
      }
      res.bots.push_back(b->status());
    }
  }
  const bool large = res.bots.size() > kTrimAfterStatusOf;
  reply(res);
  // A status of a thousand bots builds a few MiB of short-lived JSON nodes between the
  // long-lived ones; without a trim, each such answer leaves memvisord's heap larger.
  if (large) asio::post(io_, [] { ::malloc_trim(0); });
}

void Supervisor::onRequest(const proto::RunRequest& req, const Reply& reply) {
  auto list = targets(req.bot, req.id, reply);
  if (!list) return;
  if (list->empty()) {
    reply(proto::RunResult{req.id, {}});
    return;
  }
  auto gather = gatherInto<proto::RunResult>(list->size(), req.id, reply);
  for (std::size_t i = 0; i < list->size(); ++i) {
    (*list)[i]->runAction(req.action,
                          [gather, i](proto::BotOutcome o) { gather->add(i, std::move(o)); });
  }
}

void Supervisor::onRequest(const proto::LifecycleRequest& req, const Reply& reply) {
  auto list = targets(req.bot, req.id, reply);
  if (!list) return;
  if (list->empty()) {
    reply(proto::LifecycleResult{req.id, {}});
    return;
  }
  auto gather = gatherInto<proto::LifecycleResult>(list->size(), req.id, reply);
  for (std::size_t i = 0; i < list->size(); ++i) {
    SupervisedBot* bot = (*list)[i];
    const std::string name = bot->name();
    auto done = [gather, i, name, bot, alive = std::weak_ptr<bool>(alive_)] {
      proto::BotOutcome o;
      o.bot = name;
      o.message = alive.expired() ? "" : toString(bot->processState());
      gather->add(i, o);
    };
    switch (req.op) {
      case proto::LifecycleOp::kStart:
        bot->start("operator start");
        done();
        break;
      case proto::LifecycleOp::kStop:
        bot->stop("operator stop", done);
        break;
      case proto::LifecycleOp::kRestart:
        if (auto r = bot->restart("operator restart", done); !r) {
          proto::BotOutcome o;
          o.bot = name;
          o.ok = false;
          o.code = proto::errc::kNotPermitted;
          o.message = r.error().message;
          gather->add(i, o);
        }
        break;
    }
  }
}

void Supervisor::onRequest(const proto::LimitRequest& req, const Reply& reply) {
  auto* bot = find(req.bot);
  if (!bot) {
    reply(errorFor(req.id, proto::errc::kUnknownBot, unknownBot(req.bot)));
    return;
  }
  if (req.limit_bytes) {
    if (*req.limit_bytes <= 0) {
      reply(errorFor(req.id, proto::errc::kOutOfRange, "limit must be > 0"));
      return;
    }
    bot->setLimit(*req.limit_bytes);
  }
  reply(proto::LimitResult{req.id, bot->name(), bot->limit(),
                           bot->limitFromRuntime() ? "runtime" : "config"});
}

void Supervisor::onRequest(const proto::ReloadRequest& req, const Reply& reply) {
  proto::ReloadResult r = reload();
  r.id = req.id;
  reply(r);
}

void Supervisor::journal(const std::string& kind, proto::Level level, const std::string& message,
                         std::map<std::string, std::string> fields) {
  proto::JournalEntry e;
  if (auto b = fields.find("bot"); b != fields.end()) {  // the entry's own bot field
    e.bot = b->second;
    fields.erase(b);
  }
  e.ts_ms = options_.wall_ms();
  e.kind = kind;
  e.level = level;
  e.message = message;
  e.fields = std::move(fields);
  journal_.record(std::move(e));
}

}  // namespace memvisor::daemon
