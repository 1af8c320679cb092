#include "bot_state.hpp"

namespace memvisor::bot {

CacheLimits CacheLimits::unlimited() {
  CacheLimits l;
  l.messages = l.members = l.threads = l.users = l.presences = l.reactions = l.invites = kUnlimited;
  return l;
}

BotState::BotState(std::size_t guilds, std::size_t channels_per_guild, CacheLimits limits, PayloadLayout layout)
    : arena_(layout), users_(limits.users), presences_(limits.presences), reactions_(limits.reactions), invites_(limits.invites) {
  messages_.reserve(guilds * channels_per_guild);
  for (std::size_t i = 0; i < guilds * channels_per_guild; ++i) messages_.emplace_back(limits.messages);
  for (std::size_t g = 0; g < guilds; ++g) {
    members_.emplace_back(limits.members);
    threads_.emplace_back(limits.threads);
  }
}

void BotState::addMessage(std::size_t channel, std::uint64_t id, MessageRecord m) {
  evictions_ += messages_[channel].set(id, std::move(m));
}
void BotState::upsertMember(std::size_t guild, std::uint64_t user_id, MemberRecord m) {
  evictions_ += members_[guild].set(user_id, std::move(m));
}
void BotState::upsertUser(std::uint64_t user_id, UserRecord u) { evictions_ += users_.set(user_id, std::move(u)); }
void BotState::addThread(std::size_t guild, std::uint64_t id, ThreadRecord t) {
  evictions_ += threads_[guild].set(id, std::move(t));
}
void BotState::setPresence(std::uint64_t user_id, SmallRecord p) { evictions_ += presences_.set(user_id, std::move(p)); }
void BotState::addReaction(std::uint64_t id, SmallRecord r) { evictions_ += reactions_.set(id, std::move(r)); }
void BotState::addInvite(std::uint64_t id, SmallRecord i) { evictions_ += invites_.set(id, std::move(i)); }

std::size_t BotState::sweepMessages(std::int64_t now_ms, std::int64_t lifetime_ms) {
  const std::int64_t cutoff = now_ms - lifetime_ms;
  std::size_t n = 0;
  for (auto& c : messages_) {
    n += c.sweep([cutoff](std::uint64_t, const MessageRecord& m) { return m.created_ms <= cutoff; });
  }
  return n;
}

std::size_t BotState::sweepBotUsers() {
  return users_.sweep([](std::uint64_t, const UserRecord& u) { return u.bot; });
}

std::size_t BotState::sweepArchivedThreads(std::int64_t now_ms, std::int64_t lifetime_ms) {
  const std::int64_t cutoff = now_ms - lifetime_ms;
  std::size_t n = 0;
  for (auto& c : threads_) {
    n += c.sweep([cutoff](std::uint64_t, const ThreadRecord& t) { return t.archived && t.created_ms <= cutoff; });
  }
  return n;
}

std::size_t BotState::sweepIdleMembers(std::int64_t now_ms, std::int64_t lifetime_ms) {
  const std::int64_t cutoff = now_ms - lifetime_ms;
  std::size_t n = 0;
  for (auto& c : members_) {
    n += c.sweep([cutoff](std::uint64_t, const MemberRecord& m) { return m.updated_ms <= cutoff; });
  }
  return n;
}

std::size_t BotState::sweepStaleSmall(const std::string& cache, std::int64_t now_ms, std::int64_t lifetime_ms) {
  const std::int64_t cutoff = now_ms - lifetime_ms;
  auto stale = [cutoff](std::uint64_t, const SmallRecord& r) { return r.at_ms <= cutoff; };
  if (cache == kPresences) return presences_.sweep(stale);
  if (cache == kReactions) return reactions_.sweep(stale);
  if (cache == kInvites) return invites_.sweep(stale);
  return 0;
}

namespace {
template <typename V>
std::size_t compactAll(std::vector<LimitedCache<V>>& caches, std::size_t keep) {
  std::size_t n = 0;
  for (auto& c : caches) {
    n += c.shrinkTo(keep);
    c.releaseCapacity();
  }
  return n;
}
template <typename V>
std::size_t compactOne(LimitedCache<V>& c, std::size_t keep) {
  const std::size_t n = c.shrinkTo(keep);
  c.releaseCapacity();
  return n;
}
template <typename V>
std::size_t total(const std::vector<LimitedCache<V>>& caches) {
  std::size_t n = 0;
  for (const auto& c : caches) n += c.size();
  return n;
}
}  // namespace

std::size_t BotState::compact(const std::string& cache, std::size_t keep) {
  if (cache == kMessages) return compactAll(messages_, keep);
  if (cache == kMembers) return compactAll(members_, keep);
  if (cache == kThreads) return compactAll(threads_, keep);
  if (cache == kUsers) return compactOne(users_, keep);
  if (cache == kPresences) return compactOne(presences_, keep);
  if (cache == kReactions) return compactOne(reactions_, keep);
  if (cache == kInvites) return compactOne(invites_, keep);
  return 0;
}

std::vector<std::int64_t> BotState::messageTimes() const {
  std::vector<std::int64_t> out;
  out.reserve(total(messages_));
  for (const auto& c : messages_) c.forEach([&](std::uint64_t, const MessageRecord& m) { out.push_back(m.created_ms); });
  return out;
}

std::size_t BotState::count(const std::string& cache) const {
  if (cache == kMessages) return total(messages_);
  if (cache == kMembers) return total(members_);
  if (cache == kThreads) return total(threads_);
  if (cache == kUsers) return users_.size();
  if (cache == kPresences) return presences_.size();
  if (cache == kReactions) return reactions_.size();
  if (cache == kInvites) return invites_.size();
  return 0;
}

std::map<std::string, std::int64_t> BotState::counts() const {
  std::map<std::string, std::int64_t> m;
  for (const auto& name : cacheNames()) m[name] = static_cast<std::int64_t>(count(name));
  return m;
}

const std::vector<std::string>& BotState::cacheNames() {
  static const std::vector<std::string> kNames = {kMessages, kMembers, kThreads, kUsers, kPresences, kReactions, kInvites};
  return kNames;
}

}  // namespace memvisor::bot
