// memvisor-bot's event loop: one io_context, one thread. Drives the synthetic gateway, the
// seed's sweepers, memory monitor and optimizer, the test workload modes, and the memvisord
// client; stops on SIGINT/SIGTERM, on memvisord's shutdown, or after --duration.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "config.hpp"

namespace memvisor::bot {

struct AppOptions {
  BotConfig bot;
  WorkloadConfig work;
  std::string socket_path;  // empty: $MEMVISOR_SOCKET, else standalone
  std::string name = "memvisor-bot";
};

class App {
 public:
  App(boost::asio::io_context& io, AppOptions options);
  ~App();
  void start();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs the bot until it stops; returns the process exit code.
int runBot(AppOptions options);

}  // namespace memvisor::bot
