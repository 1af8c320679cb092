// memvisorctl on a real terminal, through tmux: the interactive shell (tab completion of
// commands and bot names, history), `top` (bots, sparkline, thresholds, recent events, q
// quits and restores the screen) and colour only on a terminal without NO_COLOR.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_util.hpp"

namespace memvisor::control {
namespace {

using namespace std::chrono_literals;
using testing::Background;
using testing::TempDir;

const std::string kCtl = MEMVISORCTL_BIN;
const std::string kFake = FAKE_MEMVISORD_BIN;

class Tmux {
 public:
  Tmux() : name_("mvctl-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++)) {}
  ~Tmux() { tmux({"kill-server"}); }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  bool available() { return testing::runProcess({"tmux", "-V"}).code == 0; }
  testing::ProcResult tmux(std::vector<std::string> args) {
    args.insert(args.begin(), {"tmux", "-L", name_});
    return testing::runProcess(args, {"TERM=xterm-256color"});
  }
  // Runs `command` in a 160x40 window; the pane then prints EXITED=<code> and waits. The
  // wrapping sh survives a Ctrl-C sent to the command (the trap; its child gets SIGINT's
  // default disposition back).
  bool start(const std::string& command) {
    return tmux({"new-session", "-d", "-x", "160", "-y", "40", "sh", "-c",
                 "trap : INT; " + command + "; echo EXITED=$?; sleep 60"})
               .code == 0;
  }
  void keys(std::vector<std::string> k) {
    k.insert(k.begin(), "send-keys");  // to the only session's pane
    tmux(k);
  }
  std::string screen(bool escapes = false) {
    std::vector<std::string> a = {"capture-pane", "-p"};
    if (escapes) a.push_back("-e");
    return tmux(a).out;
  }
  bool waitFor(const std::string& text, std::chrono::milliseconds timeout = 10s, int count = 1) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      last_ = screen();
      int n = 0;
      for (std::size_t at = last_.find(text); at != std::string::npos;
           at = last_.find(text, at + 1))
        ++n;
      if (n >= count) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  const std::string& last() const { return last_; }

 private:
  static inline int counter_ = 0;
  std::string name_;
  std::string last_;
};

class CtlTmux : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tmux_.available()) GTEST_SKIP() << "tmux is not installed";
    socket_ = dir_.file("ctl.sock");
    daemon_ = std::make_unique<Background>(std::vector<std::string>{kFake, "--socket", socket_});
    ASSERT_TRUE(daemon_->waitFor("ready", 10s));
  }
  std::string ctl(const std::string& args, const std::string& env = "NO_COLOR=1") {
    return "env HOME=" + dir_.path() + " " + env + " " + kCtl + " --socket " + socket_ + " " + args;
  }
  TempDir dir_;
  std::string socket_;
  std::unique_ptr<Background> daemon_;
  Tmux tmux_;
};

TEST_F(CtlTmux, ShellCompletesCommandsAndBotNamesAndKeepsHistory) {
  ASSERT_TRUE(tmux_.start(ctl("")));
  ASSERT_TRUE(tmux_.waitFor("memvisor>")) << tmux_.last();
  EXPECT_NE(tmux_.last().find("connected to memvisord (pid "), std::string::npos) << tmux_.last();
  tmux_.keys({"stat", "Tab"});
  ASSERT_TRUE(tmux_.waitFor("memvisor> status")) << tmux_.last();
  tmux_.keys({"Enter"});
  ASSERT_TRUE(tmux_.waitFor("idle    STOPPED")) << tmux_.last();
  EXPECT_NE(tmux_.last().find("amayo   RUNNING"), std::string::npos) << tmux_.last();

  tmux_.keys({"sweep am", "Tab"});
  ASSERT_TRUE(tmux_.waitFor("memvisor> sweep amayo")) << tmux_.last();
  tmux_.keys({"Enter"});
  ASSERT_TRUE(tmux_.waitFor("amayo: swept 12.3 MiB in 4.2 ms")) << tmux_.last();

  // Two candidates: a second Tab lists both ("all" and the bot names).
  tmux_.keys({"trim ", "Tab", "Tab"});
  ASSERT_TRUE(tmux_.waitFor("tester", 10s, 2)) << tmux_.last();  // the table had one
  EXPECT_NE(tmux_.last().find("all"), std::string::npos) << tmux_.last();
  tmux_.keys({"C-u"});  // drop the half-typed line
  tmux_.keys({"C-a", "C-k"});

  tmux_.keys({"Up"});  // history: the sweep again
  ASSERT_TRUE(tmux_.waitFor("memvisor> sweep amayo", 10s, 2)) << tmux_.last();
  tmux_.keys({"Enter"});
  ASSERT_TRUE(tmux_.waitFor("amayo: swept", 10s, 2)) << tmux_.last();

  // Ctrl-C ends a follow and returns to the prompt; at the prompt it only clears the line.
  tmux_.keys({"events --follow", "Enter"});
  ASSERT_TRUE(tmux_.waitFor("tester threshold rss crossed 70%")) << tmux_.last();
  tmux_.keys({"C-c"});
  tmux_.keys({"pi", "C-c"});
  tmux_.keys({"pid amayo", "Enter"});
  ASSERT_TRUE(tmux_.waitFor("\n4242\n")) << tmux_.last();

  tmux_.keys({"help", "Enter"});
  ASSERT_TRUE(tmux_.waitFor("Type help COMMAND")) << tmux_.last();
  tmux_.keys({"quit", "Enter"});
  ASSERT_TRUE(tmux_.waitFor("EXITED=0")) << tmux_.last();
  std::ifstream hist(dir_.file(".memvisorctl_history"));
  std::stringstream h;
  h << hist.rdbuf();
  // libedit's format: one entry a line, spaces as \040; repeats are kept once.
  EXPECT_NE(h.str().find("\nstatus\nsweep\\040amayo\nevents\\040--follow\npid\\040amayo\nhelp\n"),
            std::string::npos)
      << h.str();
}

TEST_F(CtlTmux, TopShowsMemoryOverTimeThresholdsAndRecentEventsAndQuitsOnQ) {
  ASSERT_EQ(testing::runProcess({kCtl, "--socket", socket_, "sweep", "amayo"}).code, 0);
  ASSERT_TRUE(tmux_.start(ctl("top")));
  ASSERT_TRUE(tmux_.waitFor("memvisor top")) << tmux_.last();
  ASSERT_TRUE(tmux_.waitFor("Recent events")) << tmux_.last();
  const std::string s = tmux_.last();
  EXPECT_NE(s.find("amayo  RUNNING  memory ok  pid 4242"), std::string::npos) << s;
  EXPECT_NE(s.find("rss 212.0 MiB / 384.0 MiB  55%"), std::string::npos) << s;
  EXPECT_NE(s.find("thresholds 269.0 MiB 307.0 MiB 345.0 MiB"), std::string::npos) << s;
  EXPECT_NE(s.find("last action: sweep freed 12.3 MiB"), std::string::npos) << s;
  EXPECT_NE(s.find("amayo action sweep freed 12897485 bytes"), std::string::npos) << s;
  // One sample a second: after a few seconds the sparkline has grown.
  ASSERT_TRUE(tmux_.waitFor("\u2585\u2585\u2585", 10s)) << tmux_.last();
  // A new action shows up live.
  ASSERT_EQ(testing::runProcess({kCtl, "--socket", socket_, "compact", "amayo"}).code, 0);
  ASSERT_TRUE(tmux_.waitFor("amayo action compact freed 41943040 bytes")) << tmux_.last();
  tmux_.keys({"q"});
  ASSERT_TRUE(tmux_.waitFor("EXITED=0")) << tmux_.last();
  EXPECT_EQ(tmux_.last().find("memvisor top"), std::string::npos) << "screen not restored";
}

TEST_F(CtlTmux, ColoursOnATerminalButNotWithNoColor) {
  ASSERT_TRUE(
      tmux_.start(ctl("status", "TERM=xterm-256color") + "; " + ctl("status", "NO_COLOR=1")));
  ASSERT_TRUE(tmux_.waitFor("EXITED=0")) << tmux_.last();
  const std::string s = tmux_.screen(true);
  const auto second = s.find("NAME", s.find("NAME") + 1);
  ASSERT_NE(second, std::string::npos) << s;
  EXPECT_NE(s.substr(0, second).find("\x1b["), std::string::npos) << "no colour on a terminal";
  EXPECT_EQ(s.substr(second, s.find("EXITED") - second).find("\x1b["), std::string::npos)
      << "colour despite NO_COLOR";
  EXPECT_NE(s.find("\u2588"), std::string::npos) << "no bar on a terminal";
}

}  // namespace
}  // namespace memvisor::control
