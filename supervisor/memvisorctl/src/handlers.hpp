// memvisorctl's command handlers (handlers.cpp), named by the command table (commands.cpp).
#pragma once

#include "commands.hpp"

namespace memvisor::ctl {

int cmdStatus(Context& ctx, const Command& cmd, const Invocation& inv);
int cmdRun(Context& ctx, const Command& cmd, const Invocation& inv);
int cmdLifecycle(Context& ctx, const Command& cmd, const Invocation& inv);
int cmdPid(Context& ctx, const Command& cmd, const Invocation& inv);
int cmdLimit(Context& ctx, const Command& cmd, const Invocation& inv);
int cmdReload(Context& ctx, const Command& cmd, const Invocation& inv);
int cmdEvents(Context& ctx, const Command& cmd, const Invocation& inv);

}  // namespace memvisor::ctl
