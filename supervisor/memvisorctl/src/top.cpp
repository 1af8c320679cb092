// memvisorctl top: a full-screen view refreshed every second, like `pm2 monit`: per bot its
// memory over time (sparkline against the limit), thresholds and last action; below, the
// journal's recent entries. Polls status on one connection and follows the journal on
// another; q (or Ctrl-C) quits and restores the terminal.
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <deque>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "memvisor/proto/codec.hpp"
#include "top_list.hpp"
#include "status_view.hpp"

namespace memvisor::ctl {

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_resized = 0;

void onStop(int) { g_stop = 1; }
void onResize(int) { g_resized = 1; }

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Puts the terminal in no-echo, non-canonical mode and the alternate screen; restores both.
class TerminalGuard {
 public:
  TerminalGuard() {
    if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      ok_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    std::cout << "\x1b[?1049h\x1b[?25l" << std::flush;
  }
  ~TerminalGuard() {
    std::cout << "\x1b[?25h\x1b[?1049l" << std::flush;
    if (ok_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  TerminalGuard(const TerminalGuard&) = delete;
  TerminalGuard& operator=(const TerminalGuard&) = delete;

 private:
  termios saved_{};
  bool ok_ = false;
};

class SignalGuard {
 public:
  SignalGuard() {
    struct sigaction sa {};
    sa.sa_handler = onStop;  // no SA_RESTART: poll() must wake up
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
    ::sigaction(SIGHUP, &sa, &old_hup_);
    sa.sa_handler = onResize;
    ::sigaction(SIGWINCH, &sa, &old_winch_);
    g_stop = 0;
  }
  ~SignalGuard() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGHUP, &old_hup_, nullptr);
    ::sigaction(SIGWINCH, &old_winch_, nullptr);
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_term_{}, old_hup_{}, old_winch_{};
};

struct TopState {
  std::optional<Client> status;
  std::optional<Client> events;
  std::optional<proto::StatusResult> last;
  std::string error;                                        // why there is no fresh status
  std::map<std::string, std::deque<std::int64_t>> history;  // metric bytes, one per second
  std::deque<proto::JournalEntry> recent;
  std::ptrdiff_t scroll = 0;  // first row of the many-bots list
  std::size_t page = 10;      // rows of the list on the last screen (PgUp/PgDn)
};

constexpr std::size_t kHistory = 600;
// More bots than this always get the list (their panels would not fit any screen).
constexpr std::size_t kDetailedMax = 40;
constexpr std::size_t kRecent = 50;

void refreshStatus(Context& ctx, TopState& s, const std::vector<std::string>& bots) {
  if (!s.status) {
    auto c = Client::connect(ctx.socket, std::chrono::milliseconds(2000));
    if (!c) {
      s.error = c.error().message;
      return;
    }
    s.status.emplace(std::move(*c));
  }
  proto::StatusRequest req;
  req.bots = bots;
  auto r = s.status->request(req, std::chrono::milliseconds(3000));
  if (!r) {
    s.error = r.error().message;
    s.status.reset();
    return;
  }
  if (const auto* e = std::get_if<proto::ErrorMsg>(&*r)) {
    s.error = e->message;
    return;
  }
  if (const auto* st = std::get_if<proto::StatusResult>(&*r)) {
    s.error.clear();
    s.last = *st;
    // The sparklines are drawn only when every bot has its panel: keep no history for
    // hundreds of bots.
    if (st->bots.size() > kDetailedMax) {
      s.history.clear();
      return;
    }
    for (const auto& b : st->bots) {
      auto& h = s.history[b.name];
      h.push_back(b.metric_bytes.value_or(-1));
      while (h.size() > kHistory) h.pop_front();
    }
  }
}

void ensureEvents(Context& ctx, TopState& s) {
  if (s.events) return;
  auto c = Client::connect(ctx.socket, std::chrono::milliseconds(2000));
  if (!c) return;
  proto::Subscribe sub;
  sub.id = c->nextId();
  sub.follow = true;
  sub.since_ms = 15 * 60 * 1000;
  if (!c->send(sub)) return;
  s.events.emplace(std::move(*c));
  s.recent.clear();
}

void drainEvents(TopState& s) {
  if (!s.events) return;
  while (true) {
    auto r = s.events->receive(std::chrono::milliseconds(0));
    if (!r) {
      if (r.error().code != proto::errc::kTimeout) s.events.reset();
      return;
    }
    if (const auto* e = std::get_if<proto::JournalEntry>(&*r)) {
      s.recent.push_back(*e);
      while (s.recent.size() > kRecent) s.recent.pop_front();
    }
  }
}

// A bar with the thresholds marked, e.g. ████████░░░┃░░┃░░┃░.
std::string thresholdBar(const Style& st, const proto::BotStatus& b, int width) {
  if (b.limit_bytes <= 0) return "";
  const double f = b.metric_bytes ? static_cast<double>(*b.metric_bytes) / b.limit_bytes : 0.0;
  const int full = static_cast<int>(std::clamp(f, 0.0, 1.0) * width + 0.5);
  std::vector<bool> mark(static_cast<std::size_t>(width), false);
  for (auto t : b.thresholds_bytes) {
    const int at = static_cast<int>(static_cast<double>(t) / b.limit_bytes * width);
    if (at >= 0 && at < width) mark[static_cast<std::size_t>(at)] = true;
  }
  std::string filled, rest;
  for (int i = 0; i < width; ++i) {
    const bool m = mark[static_cast<std::size_t>(i)];
    if (i < full)
      filled += m ? "\u2503" : "\u2588";
    else
      rest += m ? "\u2503" : "\u2591";
  }
  return st.paint(filled, Style::forMemoryState(b.memory_state)) + st.paint(rest, Color::kDim);
}

// One line per bot, the closest to their limit first, from s.scroll on.
void renderList(const Style& st, TopState& s, int rows, std::vector<std::string>& lines) {
  const auto& bots = s.last->bots;
  lines.push_back(summaryLine(bots));
  const auto ordered = byUse(bots);
  std::size_t name_w = 4;
  for (const auto* b : ordered) name_w = std::max(name_w, b->name.size());
  // Leave room for the header, this list's own header and a few recent events.
  const int room = rows - static_cast<int>(lines.size()) - 1 - 6;
  s.page = static_cast<std::size_t>(std::max(3, room));
  const std::size_t first = clampScroll(s.scroll, s.page, ordered.size());
  s.scroll = static_cast<std::ptrdiff_t>(first);
  const std::size_t last = std::min(ordered.size(), first + s.page);
  auto pad = [](std::string text, std::size_t w) {
    if (text.size() < w) text.append(w - text.size(), ' ');
    return text;
  };
  lines.push_back(st.paint(pad("NAME", name_w) + "  " + pad("STATE", 9) + pad("MEMORY", 10) +
                               pad("USED", 12) + pad("LIMIT", 12) + pad("USE", 6) +
                               pad("", 22) + "LAST ACTION   (" + std::to_string(first + 1) + "-" +
                               std::to_string(last) + " of " + std::to_string(ordered.size()) +
                               ", \u2191\u2193 PgUp PgDn scroll)",
                           Color::kDim));
  const std::int64_t now = nowMs();
  for (std::size_t i = first; i < last; ++i) {
    const auto& b = *ordered[i];
    const double f = b.metric_bytes && b.limit_bytes > 0
                         ? static_cast<double>(*b.metric_bytes) / b.limit_bytes
                         : 0.0;
    std::string l = st.paint(pad(b.name, name_w), Color::kBold) + "  " +
                    st.paint(pad(b.state, 9), Style::forState(b.state)) +
                    st.paint(pad(b.memory_state, 10), Style::forMemoryState(b.memory_state)) +
                    pad(b.metric_bytes ? humanSize(*b.metric_bytes) : "-", 12) +
                    pad(humanSize(b.limit_bytes), 12) +
                    pad(b.metric_bytes ? std::to_string(static_cast<int>(100 * f + 0.5)) + "%"
                                       : "-",
                        6) +
                    thresholdBar(st, b, 20) + "  ";
    if (b.last_action) {
      l += b.last_action->action + (b.last_action->ok ? "" : " FAILED") + ", " +
           humanDuration(now - b.last_action->at_ms) + " ago";
    }
    lines.push_back(l);
  }
  lines.push_back("");
}

std::string render(Context& ctx, TopState& s, int cols, int rows) {
  const Style st(!ctx.no_color && colorWanted(STDOUT_FILENO, false));
  std::vector<std::string> lines;
  lines.push_back(st.paint("memvisor top", Color::kBold) + "  " + ctx.socket + "  " +
                  timestamp(nowMs(), false) + "   " + st.paint("q quits", Color::kDim));
  if (!s.error.empty()) lines.push_back(st.paint("! " + s.error, Color::kRed));
  lines.push_back("");
  const std::int64_t now = nowMs();
  // Five lines a bot and a few events: past that, the list (it scrolls).
  const bool detailed =
      s.last && s.last->bots.size() <= kDetailedMax &&
      static_cast<int>(s.last->bots.size() * 5 + lines.size() + 4) <= rows;
  if (s.last && !detailed) renderList(st, s, rows, lines);
  if (s.last && detailed) {
    for (const auto& b : s.last->bots) {
      std::string head = st.paint(b.name, Color::kBold) + "  " +
                         st.paint(stateText(b), Style::forState(stateText(b))) + "  memory " +
                         st.paint(b.memory_state, Style::forMemoryState(b.memory_state));
      if (b.pid > 0)
        head += "  pid " + std::to_string(b.pid) + "  up " + humanDuration(b.uptime_ms);
      head +=
          "  restarts " + std::to_string(b.restarts) + "  oom kills " + std::to_string(b.oom_kills);
      lines.push_back(head);
      std::string mem = "  " + (b.metric.empty() ? std::string("memory") : b.metric) + " " +
                        (b.metric_bytes ? humanSize(*b.metric_bytes) : "-") + " / " +
                        humanSize(b.limit_bytes);
      if (b.metric_bytes && b.limit_bytes > 0) {
        mem += "  " +
               std::to_string(static_cast<int>(100.0 * *b.metric_bytes / b.limit_bytes + 0.5)) +
               "%";
      }
      mem += "  " + thresholdBar(st, b, 30);
      if (!b.thresholds_bytes.empty()) {
        mem += "  thresholds";
        for (auto t : b.thresholds_bytes) mem += " " + humanSize(t);
      }
      if (b.memory_alert && *b.memory_alert) mem += "  " + st.paint("ALERT", Color::kRed);
      lines.push_back(mem);
      // The bot's own view: heap, external, lag, caches (absent until its first stats).
      std::string own = "  bot: heap " + heapCell(b) + "  lag " + lagCell(b);
      if (b.bot_stats && !b.bot_stats->stale) {
        const auto& bs = b.bot_stats->stats;
        if (bs.mem.external_bytes) own += "  external " + humanSize(*bs.mem.external_bytes);
        for (const auto& [name, n] : bs.caches) own += "  " + name + " " + std::to_string(n);
      }
      if (b.liveness) {
        own += "  liveness " + st.paint(*b.liveness, *b.liveness == "hung" ? Color::kRed : Color::kNone);
        if (b.ping_ms && *b.liveness != "hung") {
          char buf[32];
          std::snprintf(buf, sizeof buf, " (%.1f ms)", *b.ping_ms);
          own += buf;
        }
      }
      lines.push_back(truncateDisplay(own, static_cast<std::size_t>(std::max(20, cols))));
      const auto it = s.history.find(b.name);
      if (it != s.history.end()) {
        const std::size_t w = static_cast<std::size_t>(std::max(10, cols - 4));
        std::vector<std::int64_t> tail(
            it->second.end() - static_cast<std::ptrdiff_t>(std::min(w, it->second.size())),
            it->second.end());
        lines.push_back(
            "  " + st.paint(sparkline(tail, b.limit_bytes), Style::forMemoryState(b.memory_state)));
      }
      std::string last = "  last action: ";
      if (b.last_action) {
        const auto& a = *b.last_action;
        last += a.action + (a.ok ? "" : " FAILED");
        if (a.ok && a.action != "restart" && a.action != "alert")
          last += " freed " + humanSize(a.freed_bytes);
        last += ", " + humanDuration(now - a.at_ms) + " ago";
        if (!a.reason.empty()) last += " (" + a.reason + ")";
      } else {
        last += "none";
      }
      lines.push_back(last);
      lines.push_back("");
    }
  }
  lines.push_back(st.paint("Recent events", Color::kBold));
  const int room = rows - static_cast<int>(lines.size());
  const std::size_t n =
      room > 0 ? std::min<std::size_t>(static_cast<std::size_t>(room), s.recent.size()) : 0;
  for (std::size_t i = s.recent.size() - n; i < s.recent.size(); ++i) {
    const auto& e = s.recent[i];
    std::string l = timestamp(e.ts_ms, false).substr(11) + " " + (e.bot.empty() ? "-" : e.bot) +
                    " " + st.paint(e.kind, Color::kCyan) + " " + e.message;
    lines.push_back(st.paint(l, Style::forLevel(proto::toString(e.level))));
  }
  std::string out = "\x1b[H";
  for (std::size_t i = 0; i < lines.size() && static_cast<int>(i) < rows; ++i) {
    out += truncateDisplay(lines[i], static_cast<std::size_t>(cols)) + "\x1b[K";
    if (static_cast<int>(i) + 1 < rows) out += "\r\n";
  }
  return out + "\x1b[J";
}

void terminalSize(int& cols, int& rows) {
  winsize ws{};
  cols = 100;
  rows = 30;
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    cols = ws.ws_col;
    rows = ws.ws_row;
  }
}

int topJson(Context& ctx, const std::vector<std::string>& bots) {
  SignalGuard signals;
  int code = 0;
  auto c = connectOrReport(ctx, code);
  if (!c) return code;
  while (!g_stop) {
    proto::StatusRequest req;
    req.bots = bots;
    auto r = c->request(req, ctx.timeout());
    if (!r) return g_stop ? kExitOk : reportError(ctx, r.error());
    if (const auto* e = std::get_if<proto::ErrorMsg>(&*r))
      return reportError(ctx, {e->code, e->message});
    nlohmann::json j = nlohmann::json::parse(proto::encode(*r));
    j.erase("type");
    j.erase("id");
    j["ts_ms"] = nowMs();
    *ctx.out << j.dump() << "\n" << std::flush;
    ::poll(nullptr, 0, 1000);
  }
  return kExitOk;
}

}  // namespace

int runTop(Context& ctx, const Command& cmd, const Invocation& inv) {
  if (ctx.json) return topJson(ctx, inv.args);
  if (::isatty(STDOUT_FILENO) != 1 || ::isatty(STDIN_FILENO) != 1) {
    *ctx.err << "Error: top needs a terminal; for scripts use `memvisorctl top --json` or "
                "`memvisorctl status --json`\nUsage: memvisorctl "
             << cmd.usage << "\n";
    return kExitUsage;
  }
  TopState s;
  // Fail early and in words when memvisord is not there at all.
  {
    int code = 0;
    auto c = connectOrReport(ctx, code);
    if (!c) return code;
    s.status.emplace(std::move(*c));
  }
  SignalGuard signals;
  TerminalGuard term;
  auto next = Clock::now();
  while (!g_stop) {
    if (Clock::now() >= next) {
      refreshStatus(ctx, s, inv.args);
      ensureEvents(ctx, s);
      next += std::chrono::seconds(1);
      if (next < Clock::now()) next = Clock::now() + std::chrono::seconds(1);
      g_resized = 1;
    }
    drainEvents(s);
    if (g_resized) {
      g_resized = 0;
      int cols = 0, rows = 0;
      terminalSize(cols, rows);
      std::cout << render(ctx, s, cols, rows) << std::flush;
    }
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {s.events ? s.events->fd() : -1, POLLIN, 0}};
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
    const int pr = ::poll(fds, 2, static_cast<int>(std::max<std::int64_t>(0, wait.count())));
    if (pr > 0 && (fds[0].revents & POLLIN)) {
      char ch = 0;
      std::string keys;
      while (::read(STDIN_FILENO, &ch, 1) == 1) keys += ch;
      const auto page = static_cast<std::ptrdiff_t>(s.page);
      for (std::size_t i = 0; i < keys.size(); ++i) {
        const char k = keys[i];
        if (k == 'q' || k == 'Q' || k == 3) g_stop = 1;
        // Arrows and PgUp/PgDn arrive as ESC [ A, ESC [ B, ESC [ 5 ~, ESC [ 6 ~.
        const std::string_view rest = std::string_view(keys).substr(i);
        std::ptrdiff_t move = 0;
        if (k == 'j' || rest.rfind("\x1b[B", 0) == 0) move = 1;
        if (k == 'k' || rest.rfind("\x1b[A", 0) == 0) move = -1;
        if (k == ' ' || rest.rfind("\x1b[6~", 0) == 0) move = page;
        if (rest.rfind("\x1b[5~", 0) == 0) move = -page;
        if (k == 'g') s.scroll = 0;
        if (k == 'G') s.scroll = std::numeric_limits<std::ptrdiff_t>::max() / 2;
        if (move != 0) {
          s.scroll = std::max<std::ptrdiff_t>(0, s.scroll + move);
          g_resized = 1;
        }
        if (k == 'g' || k == 'G') g_resized = 1;
      }
    }
    if (pr > 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
      drainEvents(s);
      g_resized = 1;  // redraw with the new entries
    }
  }
  return kExitOk;
}

}  // namespace memvisor::ctl
