#include "memvisor/client/background_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>

namespace memvisor::client {

BackgroundClient::BackgroundClient(ClientOptions options)
    : client_(std::make_unique<Client>(io_, std::move(options))) {}

BackgroundClient::~BackgroundClient() { stop(); }

void BackgroundClient::start() {
  if (started_) return;
  started_ = true;
  client_->start();
  thread_ = std::thread([this] {
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
}

void BackgroundClient::stop() {
  if (!started_) return;
  started_ = false;
  // Stop the client on its own thread, then let run() return.
  std::promise<void> stopped;
  boost::asio::post(io_, [this, &stopped] {
    client_->stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void BackgroundClient::post(std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }

}  // namespace memvisor::client
