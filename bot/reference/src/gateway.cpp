#include "gateway.hpp"

#include <algorithm>
#include <cmath>

namespace memvisor::bot {

namespace {

// Text the payloads are cut from: copying it touches every byte, as parsing JSON would.
const std::string& textPool() {
  static const std::string kPool = [] {
    std::string s;
    s.reserve(1 << 18);
    std::mt19937 r(7);
    static const char* kWords[] = {"the ", "raid ", "tonight ", "gg ", "anyone ", "up ", "for ", "ranked ",
                                   "lol ", "check ", "this ", "clip ", "https://cdn.discordapp.com/x ",
                                   "patch ", "notes ", "are ", "out ", "!play ", "ok ", "brb ", "\n"};
    while (s.size() < (1 << 18)) s += kWords[r() % (sizeof kWords / sizeof *kWords)];
    s.resize(1 << 18);
    return s;
  }();
  return kPool;
}

}  // namespace

SyntheticGateway::SyntheticGateway(const WorkloadConfig& w, std::uint64_t seed) : w_(w), rng_(seed) {}

std::string_view SyntheticGateway::text(std::size_t bytes) {
  const std::string& pool = textPool();
  bytes = std::min(bytes, pool.size() / 2);
  const std::size_t off = rng_() % (pool.size() - bytes);
  return std::string_view(pool).substr(off, bytes);
}

std::string SyntheticGateway::payload(std::size_t bytes) { return std::string(text(bytes)); }

std::size_t SyntheticGateway::logUniform(std::size_t lo, std::size_t hi) {
  if (hi <= lo) return lo;
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  const double v = std::exp(std::log(static_cast<double>(lo)) + u * (std::log(static_cast<double>(hi)) -
                                                                     std::log(static_cast<double>(lo))));
  return std::clamp(static_cast<std::size_t>(v), lo, hi);
}

std::uint64_t SyntheticGateway::userId(std::size_t guild) {
  return (static_cast<std::uint64_t>(guild) + 1) * 1000000ULL + rng_() % kUsersPerGuild;
}

void SyntheticGateway::messageCreate(BotState& s, std::int64_t now_ms) {
  // Skewed towards low channel indices: a few busy channels, a long quiet tail.
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  const std::size_t channel = std::min(s.channels() - 1, static_cast<std::size_t>(u * u * static_cast<double>(s.channels())));
  const std::size_t guild = channel / static_cast<std::size_t>(w_.channels_per_guild);
  MessageRecord m;
  m.author_id = userId(guild);
  m.created_ms = now_ms;
  m.body_bytes = static_cast<std::uint32_t>(logUniform(static_cast<std::size_t>(std::max<std::int64_t>(1, w_.body_min)),
                                                       static_cast<std::size_t>(std::max<std::int64_t>(1, w_.body_max))));
  std::size_t bytes = 384 + m.body_bytes;  // author/member snapshot, flags, ids
  if (rng_() % 100 < 20) {
    m.attachments = static_cast<std::uint16_t>(1 + rng_() % 3);
    bytes += 280u * m.attachments;  // filename, url, proxy_url, size, content type
  }
  if (rng_() % 100 < 10) {
    m.embeds = static_cast<std::uint16_t>(1 + rng_() % 2);
    for (int i = 0; i < m.embeds; ++i) bytes += logUniform(200, 3000);
  }
  m.payload = s.arena().allocate(text(bytes));
  s.addMessage(channel, next_id_++, std::move(m));
  // The author rides along in the users cache (discord.js caches every author it sees).
  UserRecord user;
  user.bot = rng_() % 100 < 5;
  user.seen_ms = now_ms;
  user.payload = payload(240);
  s.upsertUser(userId(guild), std::move(user));
  ++messages_;
}

EventKind SyntheticGateway::step(BotState& s, std::int64_t now_ms) {
  ++events_;
  const auto roll = rng_() % 1000;
  const std::size_t guild = rng_() % s.guilds();
  if (roll < 700) {
    messageCreate(s, now_ms);
    return EventKind::kMessageCreate;
  }
  if (roll < 800) {
    s.setPresence(userId(guild), SmallRecord{now_ms, payload(320)});
    return EventKind::kPresenceUpdate;
  }
  if (roll < 860) {
    const auto uid = userId(guild);
    if (auto* m = s.member(guild, uid)) {
      m->updated_ms = now_ms;
      m->payload = payload(logUniform(300, 900));
    } else {
      s.upsertMember(guild, uid, MemberRecord{now_ms, now_ms, payload(logUniform(300, 900))});
    }
    return EventKind::kMemberUpdate;
  }
  if (roll < 900) {
    s.upsertMember(guild, userId(guild), MemberRecord{now_ms, now_ms, payload(logUniform(300, 900))});
    return EventKind::kMemberJoin;
  }
  if (roll < 940) return EventKind::kTyping;  // no state: typing is never cached
  if (roll < 970) {
    s.addReaction(next_id_++, SmallRecord{now_ms, payload(160)});
    return EventKind::kReactionAdd;
  }
  if (roll < 985) {
    s.addThread(guild, next_id_++, ThreadRecord{false, now_ms, payload(logUniform(400, 1200))});
    return EventKind::kThreadCreate;
  }
  if (roll < 995) {
    // Archive the newest thread we can find cheaply: ids are sequential, try a few.
    for (std::uint64_t id = next_id_ - 1, i = 0; i < 64 && id > 0; --id, ++i) {
      if (auto* t = s.thread(guild, id)) {
        t->archived = true;
        break;
      }
    }
    return EventKind::kThreadUpdate;
  }
  s.addInvite(next_id_++, SmallRecord{now_ms, payload(400)});
  return EventKind::kInviteCreate;
}

}  // namespace memvisor::bot
