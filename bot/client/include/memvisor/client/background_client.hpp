// Background-thread mode of the bot client, for bots that have no Asio loop: one thread
// with its own io_context runs the Client.
//
// Threading contract: register handlers through client() BEFORE start(). After start(),
// every handler and provider runs on the background thread, concurrently with the bot's
// own threads: the bot must make what they touch thread-safe (a mutex around its caches,
// or post the work to its own loop and call `done` back through post()). To call the
// Client after start(), use post(): the Client itself is not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "memvisor/client/client.hpp"

namespace memvisor::client {

class BackgroundClient {
 public:
  explicit BackgroundClient(ClientOptions options);
  ~BackgroundClient();  // stop()s and joins
  BackgroundClient(const BackgroundClient&) = delete;
  BackgroundClient& operator=(const BackgroundClient&) = delete;

  Client& client() { return *client_; }
  // Starts the thread. Idempotent.
  void start();
  // Stops the client and the loop, joins the thread. Idempotent; not from the thread itself.
  void stop();
  // Runs `fn` on the background thread (e.g. to call ActionDone or client() safely).
  void post(std::function<void()> fn);

 private:
  boost::asio::io_context io_;
  std::unique_ptr<Client> client_;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace memvisor::client
