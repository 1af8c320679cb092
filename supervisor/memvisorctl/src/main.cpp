// memvisorctl: the supervisorctl-style command line of memvisord (see commands.cpp).
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"

int main(int argc, char** argv) {
  memvisor::ctl::Context ctx;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  const std::vector<std::string> args(argv + 1, argv + argc);
  return memvisor::ctl::runCommandLine(ctx, args);
}
