// The readers of a bot's policy sections (see sections.hpp).
#include "sections.hpp"

namespace memvisor::config::detail {

std::optional<Sustain> SectionReader::sustain(const PlainNode& n, const std::string& path) {
  auto s = v_.scalar(n, path);
  if (!s) return std::nullopt;
  static const std::regex kCount(R"(\s*(\d+)\s*(samples?|cycles?)\s*)");
  std::smatch m;
  if (std::regex_match(*s, m, kCount)) {
    int count = 0;
    const std::string digits = m[1].str();
    std::from_chars(digits.data(), digits.data() + digits.size(), count);
    if (count < 1 || count > 1000) {
      v_.error(n.pos, path, "sample count must be 1..1000, got " + digits);
      return std::nullopt;
    }
    return Sustain{Duration{0}, count};
  }
  auto d = parseDuration(*s);
  if (!d) {
    bool bare = !s->empty() && s->find_first_not_of("0123456789") == std::string::npos;
    v_.error(n.pos, path,
             bare ? "bare number " + *s + " is ambiguous: write '" + *s + " samples' or a duration like " + *s + "s"
                  : "expected a duration like 30s or a count like '2 samples', got '" + *s + "'");
    return std::nullopt;
  }
  if (*d > hours(1)) {
    v_.error(n.pos, path, "must be at most 1h, got " + *s);
    return std::nullopt;
  }
  return Sustain{*d, 0};
}

void SectionReader::thresholds(const PlainNode& n, const std::string& path, std::vector<Threshold>& out,
                               std::vector<Pos>& at_pos) {
  if (n.kind != Kind::kList) {
    v_.error(n.pos, path, std::string("expected a list of thresholds, got ") + n.kindName());
    return;
  }
  out.clear();
  at_pos.clear();
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const std::string tp = path + "[" + std::to_string(i) + "]";
    const PlainNode& tn = n.items[i];
    Threshold t;
    Pos apos = tn.pos;
    if (v_.checkMap(tn, tp, kThresholdKeys)) {
      if (!tn.find("at")) v_.error(tn.pos, tp + ".at", "missing: e.g. at: 80% or at: 300MiB");
      if (!tn.find("action")) {
        v_.error(tn.pos, tp + ".action", "missing: " + actionNames(ActionSet::kAll));
      }
      for (const auto& e : tn.entries) {
        const std::string p = Validator::join(tp, e.key);
        if (e.key == "at") {
          apos = e.value.pos;
          if (auto s = v_.size(e.value, p, true)) {
            if (s->is_percent && (s->percent < 1 || s->percent > 100)) {
              v_.error(e.value.pos, p, "must be 1%..100%, got " + s->toString());
            } else if (!s->is_percent && s->bytes <= 0) {
              v_.error(e.value.pos, p, "must be above 0");
            } else {
              t.at = *s;
            }
          }
        } else if (e.key == "action") {
          if (auto a = v_.action(e.value, p)) t.action = *a;
        } else if (e.key == "for") {
          if (auto s = sustain(e.value, p)) t.sustain = *s;
        } else if (e.key == "cooldown") {
          if (auto d = v_.duration(e.value, p, Duration{0}, hours(24))) t.cooldown = *d;
        } else if (e.key == "min_freed") {
          if (auto s = v_.size(e.value, p, false)) t.min_freed = s->bytes;
        }
      }
    }
    out.push_back(t);
    at_pos.push_back(apos);
  }
}

void SectionReader::periodic(const PlainNode& n, const std::string& path, std::vector<PeriodicAction>& out,
                             std::vector<Pos>& above_pos) {
  if (n.kind == Kind::kNull) {
    out.clear();
    return;
  }
  if (n.kind != Kind::kList) {
    v_.error(n.pos, path, std::string("expected a list like [{action: trim, every: 15m}], got ") +
                              n.kindName());
    return;
  }
  out.clear();
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const std::string pp = path + "[" + std::to_string(i) + "]";
    const PlainNode& pn = n.items[i];
    PeriodicAction a;
    Pos apos = pn.pos;
    if (v_.checkMap(pn, pp, kPeriodicKeys)) {
      if (!pn.find("every")) v_.error(pn.pos, pp + ".every", "missing: e.g. every: 15m");
      if (!pn.find("action")) v_.error(pn.pos, pp + ".action", "missing: e.g. action: trim");
      for (const auto& e : pn.entries) {
        const std::string p = Validator::join(pp, e.key);
        if (e.key == "action") {
          if (auto x = v_.action(e.value, p)) a.action = *x;
        } else if (e.key == "every") {
          if (auto d = v_.duration(e.value, p, seconds(1), hours(24 * 7))) a.every = *d;
        } else if (e.key == "above") {
          apos = e.value.pos;
          if (auto s = v_.size(e.value, p, true)) {
            if (s->is_percent && (s->percent < 0 || s->percent > 100)) {
              v_.error(e.value.pos, p, "must be 0%..100%, got " + s->toString());
            } else {
              a.above = *s;
            }
          }
        }
      }
    }
    out.push_back(a);
    above_pos.push_back(apos);
  }
}

void SectionReader::predictive(const PlainNode& n, const std::string& path, std::optional<Predictive>& out) {
  if (isNone(n)) {
    out.reset();
    return;
  }
  if (!v_.checkMap(n, path, kPredictiveKeys)) return;
  Predictive p = out.value_or(Predictive{});
  bool enabled = true;
  for (const auto& e : n.entries) {
    const std::string kp = Validator::join(path, e.key);
    if (e.key == "enabled") {
      if (auto b = v_.boolean(e.value, kp)) enabled = *b;
    } else if (e.key == "horizon") {
      if (auto d = v_.duration(e.value, kp, seconds(1), hours(1))) p.horizon = *d;
    } else if (e.key == "window") {
      if (auto d = v_.duration(e.value, kp, seconds(2), hours(1))) p.window = *d;
    } else if (e.key == "action") {
      if (auto a = v_.action(e.value, kp)) {
        if (*a == ActionKind::kRestart) {
          v_.error(e.value.pos, kp, "a prediction alone never restarts: use trim, sweep, compact or alert");
        } else {
          p.action = *a;
        }
      }
    } else if (e.key == "cooldown") {
      if (auto d = v_.duration(e.value, kp, seconds(1), hours(24))) p.cooldown = *d;
    }
  }
  if (enabled) {
    out = p;
  } else {
    out.reset();
  }
}

void SectionReader::escalation(const PlainNode& n, const std::string& path, Escalation& out) {
  if (n.kind == Kind::kScalar) {
    if (auto b = v_.boolean(n, path)) out.enabled = *b;
    return;
  }
  if (!v_.checkMap(n, path, kEscalationKeys)) return;
  for (const auto& e : n.entries) {
    const std::string p = Validator::join(path, e.key);
    if (e.key == "enabled") {
      if (auto b = v_.boolean(e.value, p)) out.enabled = *b;
    } else if (e.key == "max") {
      if (auto a = v_.action(e.value, p)) {
        if (*a == ActionKind::kAlert) {
          v_.error(e.value.pos, p, "must be " + actionNames(ActionSet::kLadder) + " (use enabled: false to turn escalation off)");
        } else {
          out.max_action = *a;
        }
      }
    }
  }
}

void SectionReader::deadlines(const PlainNode& n, const std::string& path, Deadlines& out) {
  if (!v_.checkMap(n, path, kDeadlineKeys)) return;
  for (const auto& e : n.entries) {
    const std::string p = Validator::join(path, e.key);
    // The protocol accepts deadlines of 1 ms .. 600 s.
    auto d = v_.duration(e.value, p, milliseconds(1), seconds(600));
    if (!d) continue;
    for (const auto& a : kActions) {
      if (a.deadline_key == e.key) out[a.kind] = *d;
    }
  }
}

void SectionReader::restart(const PlainNode& n, const std::string& path, RestartPolicy& out) {
  if (!v_.checkMap(n, path, kRestartKeys)) return;
  for (const auto& e : n.entries) {
    const std::string p = Validator::join(path, e.key);
    if (e.key == "backoff_initial") {
      if (auto d = v_.duration(e.value, p, milliseconds(10), hours(1))) out.backoff_initial = *d;
    } else if (e.key == "backoff_max") {
      if (auto d = v_.duration(e.value, p, milliseconds(10), hours(24))) out.backoff_max = *d;
    } else if (e.key == "start_retries") {
      if (auto v = v_.integer(e.value, p, 0, 1000)) out.start_retries = static_cast<int>(*v);
    } else if (e.key == "start_seconds") {
      if (auto d = v_.duration(e.value, p, Duration{0}, hours(1))) out.start_seconds = *d;
    }
  }
}

std::optional<Bytes> SectionReader::rate(const PlainNode& n, const std::string& path) {
  if (n.kind != Kind::kScalar) {
    v_.error(n.pos, path, "expected a rate like 1GiB/s");
    return std::nullopt;
  }
  std::string_view text = n.scalar;
  constexpr std::string_view kPerSecond = "/s";
  if (text.size() <= kPerSecond.size() ||
      text.substr(text.size() - kPerSecond.size()) != kPerSecond) {
    v_.error(n.pos, path, "expected a rate like 1GiB/s, got " + n.scalar);
    return std::nullopt;
  }
  auto size = parseSize(text.substr(0, text.size() - kPerSecond.size()), false);
  if (!size) {
    v_.error(n.pos, path, size.error().message);
    return std::nullopt;
  }
  const Bytes b = size->resolve(0);
  if (b < kMiB || b > 1024 * 1024 * kMiB) {
    v_.error(n.pos, path, "must be 1MiB/s..1TiB/s, got " + n.scalar);
    return std::nullopt;
  }
  return b;
}

void SectionReader::liveness(const PlainNode& n, const std::string& path, Liveness& out) {
  if (isNone(n)) {
    out.enabled = false;
    return;
  }
  if (!v_.checkMap(n, path, kLivenessKeys)) return;
  out.enabled = true;
  for (const auto& e : n.entries) {
    const std::string p = Validator::join(path, e.key);
    if (e.key == "enabled") {
      if (auto b = v_.boolean(e.value, p)) out.enabled = *b;
    } else if (e.key == "every") {
      if (auto d = v_.duration(e.value, p, milliseconds(100), hours(1))) out.every = *d;
    } else if (e.key == "deadline") {
      // The protocol's request deadlines are 1 ms .. 600 s.
      if (auto d = v_.duration(e.value, p, milliseconds(10), seconds(600))) out.deadline = *d;
    } else if (e.key == "misses") {
      if (auto v = v_.integer(e.value, p, 1, 100)) out.misses = static_cast<int>(*v);
    } else if (e.key == "on_hung") {
      if (auto str = v_.scalar(e.value, p)) {
        if (*str == "journal") {
          out.on_hung = OnHung::kJournal;
        } else if (*str == "restart") {
          out.on_hung = OnHung::kRestart;
        } else {
          v_.error(e.value.pos, p, "expected journal|restart, got '" + *str + "'" +
                                       didYouMean(*str, {"journal", "restart"}));
        }
      }
    } else if (e.key == "max_lag") {
      if (isNone(e.value)) {
        out.max_lag.reset();
      } else if (auto d = v_.duration(e.value, p, milliseconds(1), hours(1))) {
        out.max_lag = *d;
      }
    } else if (e.key == "lag_for") {
      if (auto d = v_.duration(e.value, p, Duration{0}, hours(1))) out.lag_for = *d;
    }
  }
  if (out.deadline > out.every) {
    v_.error(n.pos, path + ".deadline",
             "must not exceed every (" + formatDuration(out.every) + "), got " +
                 formatDuration(out.deadline) + ": one ping at a time is outstanding");
  }
}

bool SectionReader::monitor(const PlainNode& n, const std::string& path, Monitor& out) {
  if (!v_.checkMap(n, path, kMonitorKeys)) return false;
  bool log_every_given = false;
  for (const auto& e : n.entries) {
    const std::string p = Validator::join(path, e.key);
    if (e.key == "log_every") {
      log_every_given = true;
      if (isNone(e.value)) {
        out.log_every = Duration{0};
      } else if (auto d = v_.duration(e.value, p, seconds(1), hours(24))) {
        out.log_every = *d;
      }
    } else if (e.key == "alert_at") {
      if (isNone(e.value)) {
        out.alert_at.reset();
      } else if (auto sz = v_.size(e.value, p, true)) {
        if (sz->is_percent && (sz->percent < 1 || sz->percent > 100)) {
          v_.error(e.value.pos, p, "must be 1%..100% of the limit, got " + sz->toString());
        } else {
          out.alert_at = *sz;
        }
      }
    } else if (e.key == "alert_hysteresis") {
      if (auto sz = v_.size(e.value, p, true)) {
        if (sz->is_percent && (sz->percent < 0 || sz->percent > 50)) {
          v_.error(e.value.pos, p, "must be 0%..50%, got " + sz->toString());
        } else {
          out.alert_hysteresis = *sz;
        }
      }
    } else if (e.key == "stale_after") {
      if (auto v = v_.integer(e.value, p, 1, 100)) out.stale_after = static_cast<int>(*v);
    }
  }
  return log_every_given;
}

void SectionReader::poll(const PlainNode& n, const std::string& path, PolicyConfig& out) {
  if (!v_.checkMap(n, path, kPollKeys)) return;
  for (const auto& e : n.entries) {
    const std::string p = Validator::join(path, e.key);
    if (e.key == "max_growth") {
      if (auto g = rate(e.value, p)) out.max_growth = *g;
      continue;
    }
    auto d = v_.duration(e.value, p, milliseconds(1), minutes(10));
    if (!d) continue;
    if (e.key == "min") out.poll_min = *d;
    if (e.key == "max") out.poll_max = *d;
  }
}

}  // namespace memvisor::config::detail
