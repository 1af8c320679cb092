// runUntil: drives an io_context until a condition holds or a deadline passes (never sleeps
// longer than needed; the deadline only bounds a failing test). Shared by the tests of every
// component that runs on Asio.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace memvisor::testing {

inline bool runUntil(boost::asio::io_context& io, const std::function<bool()>& done,
                     std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!done() && std::chrono::steady_clock::now() < end) {
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace memvisor::testing
