// ControlBackend: what the control endpoint asks of the daemon. memvisord's supervisor
// implements it; tests implement it with fakes.
#pragma once

#include <functional>

#include <string>

#include "memvisor/proto/messages.hpp"
#include "memvisor/result.hpp"

namespace memvisor::control {

class ControlBackend {
 public:
  using Reply = std::function<void(proto::Message)>;
  virtual ~ControlBackend() = default;

  // Called on the io_context thread for each control request (proto::ControlRequest: one
  // handler per alternative, so std::visit makes a new request type a compile error until it
  // is handled). The backend calls `reply` exactly once,
  // possibly later (an action waits for the bot), with the matching *Result or an ErrorMsg
  // that echoes the request id. `reply` stays valid after the client disconnects (it then
  // drops the message). Subscriptions to the journal are served by the endpoint itself
  // from journal::Journal.
  virtual void handle(const proto::ControlRequest& request, Reply reply) = 0;

  // Does a request naming `bot` refer to a configured bot? Error code unknown_bot (its
  // message lists the configured bots) when not. Used for `subscribe` (section 7.5).
  virtual Result<void> checkBot(const std::string& bot) const = 0;
};

}  // namespace memvisor::control
