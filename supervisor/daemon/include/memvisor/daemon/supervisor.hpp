// Supervisor: every bot of the config, the bot socket that binds connections to them, the
// control backend memvisorctl talks to, and config reload (SIGHUP or `memvisorctl reload`):
// a bad file is refused, journalled with its errors, and the running config stays.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memvisor/config/config.hpp"
#include "memvisor/control/backend.hpp"
#include "memvisor/daemon/bot_server.hpp"
#include "memvisor/daemon/supervised_bot.hpp"
#include "memvisor/journal/journal.hpp"
#include "memvisor/result.hpp"

namespace memvisor::daemon {

class Supervisor : public control::ControlBackend {
 public:
  struct Options {
    sampling::SysPaths paths;
    std::string cgroup_parent;  // see BotEnv::cgroup_parent
    // Loads the config for a reload (normally config::loadConfigFile on the start-up path).
    std::function<Result<config::Config>()> load_config;
    std::function<std::int64_t()> wall_ms;
    SessionOptions session;
    Metrics* metrics = nullptr;  // null: no metrics endpoint
    detection::ThresholdRegistrar* registrar = nullptr;  // see BotEnv::registrar
  };

  Supervisor(boost::asio::io_context& io, journal::Journal& journal, Signaller& signaller,
             ChildReaper& reaper, config::Config config, Options options);
  ~Supervisor() override;

  // Opens the bot socket and starts every bot.
  Result<void> start();
  // Stops every bot memvisord started (graceful sequence), leaves attached ones alone,
  // closes the bot socket; `done` runs when all are down.
  void shutdown(std::function<void()> done);
  // Hard stop on a second signal: SIGKILL to what we started, at once.
  void kill();
  proto::ReloadResult reload();

  void handle(const proto::ControlRequest& request, Reply reply) override;
  Result<void> checkBot(const std::string& bot) const override;

  // The daemon section as loaded, and every bot's entry as it runs now (after reloads).
  config::Config runningConfig() const;
  SupervisedBot* find(const std::string& name);
  std::vector<SupervisedBot*> bots();

 private:
  // One handler per control request (proto::ControlRequest), dispatched by handle().
  void onRequest(const proto::StatusRequest& req, const Reply& reply);
  void onRequest(const proto::RunRequest& req, const Reply& reply);
  void onRequest(const proto::LifecycleRequest& req, const Reply& reply);
  void onRequest(const proto::LimitRequest& req, const Reply& reply);
  void onRequest(const proto::ReloadRequest& req, const Reply& reply);
  SessionHooks sessionHooks();
  SupervisedBot* botOf(const std::shared_ptr<BotSession>& session);
  // Creates the bot and queues its start (pumpStarts).
  void addBot(const config::BotConfig& bc, const std::string& reason);
  void pumpStarts();
  void removeBot(const std::string& name, const std::string& reason);
  // "all" or one name; an unknown name yields an ErrorMsg for `id`.
  std::optional<std::vector<SupervisedBot*>> targets(const std::string& bot, std::uint64_t id,
                                                     const Reply& reply);
  std::string unknownBot(const std::string& name) const;
  void journal(const std::string& kind, proto::Level level, const std::string& message,
               std::map<std::string, std::string> fields = {});
  // daemon.state_file: load at start, rewrite when a bot's counters change.
  void loadCounters();
  void saveCounters();

  boost::asio::io_context& io_;
  journal::Journal& journal_;
  Options options_;
  config::Config config_;
  BotEnv env_;
  std::unique_ptr<BotServer> server_;
  std::map<std::string, std::unique_ptr<SupervisedBot>> bots_;
  std::vector<std::string> order_;                        // config order, for status
  std::map<std::uint64_t, std::string> session_bot_;      // session id -> bot name
  std::vector<std::unique_ptr<SupervisedBot>> retiring_;  // removed by a reload, stopping
  SavedCounters saved_;      // as loaded from daemon.state_file, then as last saved
  std::string state_error_;  // the last failure to save, said once until it changes
  bool shutting_down_ = false;
  // Bots waiting for their start: (name, reason), started kStartsPerTurn per loop turn.
  static constexpr std::size_t kStartsPerTurn = 4;
  std::deque<std::pair<std::string, std::string>> start_queue_;
  bool starting_all_ = false;  // memvisord's start: journal when the last bot has started
  std::chrono::steady_clock::time_point start_began_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace memvisor::daemon
