// fake_memvisord: memvisor's real control endpoint in front of FakeBackend, for driving
// memvisorctl in tests without bots. Prints "ready" once the socket accepts connections;
// exits on SIGTERM/SIGINT, removing its socket.
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "fake_backend.hpp"
#include "memvisor/control/server.hpp"

int main(int argc, char** argv) {
  memvisor::control::Options opt;
  std::string config;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--socket")
      opt.path = v;
    else if (k == "--mode")
      opt.mode = static_cast<mode_t>(std::strtoul(v.c_str(), nullptr, 8));
    else if (k == "--group")
      opt.group = v;
    else if (k == "--allow-uid")
      opt.allow_uids.push_back(static_cast<uid_t>(std::stoul(v)));
    else if (k == "--config")
      config = v;
    else {
      std::cerr << "fake_memvisord: unknown option " << k << "\n";
      return 2;
    }
  }
  opt.on_notice = [](const memvisor::control::Notice& n) {
    std::cerr << "kind=" << memvisor::control::toString(n.kind) << " uid=" << n.peer.uid
              << " msg=\"" << n.message << "\"\n";
  };
  boost::asio::io_context io;
  memvisor::journal::Journal journal(memvisor::journal::Options{});
  const auto now = memvisor::control::testing::wallMs();
  journal.record({now - 7200000,
                  "amayo",
                  "spawn",
                  memvisor::proto::Level::kInfo,
                  "started",
                  {{"pid", "4242"}}});
  journal.record({now - 600000,
                  "tester",
                  "threshold",
                  memvisor::proto::Level::kWarn,
                  "rss crossed 70% of the limit",
                  {{"rss_bytes", "376438784"}, {"threshold", "70%"}}});
  journal.record({now - 180000,
                  "tester",
                  "action",
                  memvisor::proto::Level::kInfo,
                  "sweep freed 5242880 bytes",
                  {{"action", "sweep"}, {"freed_bytes", "5242880"}, {"reason", "threshold 70%"}}});
  memvisor::control::testing::FakeBackend backend(io, journal, config);
  memvisor::control::ControlServer server(io, opt, backend, journal);
  if (auto r = server.start(); !r) {
    std::cerr << "fake_memvisord: " << r.error().message << "\n";
    return 1;
  }
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code, int) {
    server.stop();
    io.stop();
  });
  std::cout << "ready" << std::endl;
  io.run();
  return 0;
}
