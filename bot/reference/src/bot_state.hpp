// The reference bot's state: discord.js-like caches (messages per channel, members and
// threads per guild, users, presences, reactions, invites) with the seed's limits, and the
// sweepers and compaction that memvisord's commands trigger. No clock, no I/O: callers pass
// the time, so lifetimes are tested without sleeping.
//
// Memory layout, chosen so that evicted entries can really go back to the OS: a message's
// variable data (body, attachment metadata, embeds, author snapshot) is ONE payload of
// 0.4-24 KiB in a PayloadArena (mmap'd segments in arrival order, unmapped when empty), so
// evicting by age returns whole segments at once. The other caches' entries are one heap
// block each (0.2-1 KiB), never many ~256-byte pieces, which malloc_trim could not return
// (MACHINE-FACTS).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "limited_cache.hpp"
#include "payload_arena.hpp"

namespace memvisor::bot {

struct MessageRecord {
  std::uint64_t author_id = 0;
  std::int64_t created_ms = 0;
  std::uint32_t body_bytes = 0;
  std::uint16_t attachments = 0;
  std::uint16_t embeds = 0;
  Payload payload;  // body + attachment metadata + embeds + author snapshot
};

struct MemberRecord {
  std::int64_t joined_ms = 0;
  std::int64_t updated_ms = 0;
  std::string payload;  // nick, roles, avatar, flags
};

struct UserRecord {
  bool bot = false;
  std::int64_t seen_ms = 0;
  std::string payload;
};

struct ThreadRecord {
  bool archived = false;
  std::int64_t created_ms = 0;
  std::string payload;
};

struct SmallRecord {  // presences, reactions, invites
  std::int64_t at_ms = 0;
  std::string payload;
};

struct CacheLimits {
  static constexpr std::size_t kUnlimited = LimitedCache<int>::kUnlimited;
  std::size_t messages = 50;  // per channel
  std::size_t members = 100;  // per guild
  std::size_t threads = 10;   // per guild
  std::size_t users = kUnlimited;
  std::size_t presences = 0;
  std::size_t reactions = 0;
  std::size_t invites = 0;
  static CacheLimits unlimited();
};

// Cache names as reported in stats and action details.
inline constexpr const char* kMessages = "messages";
inline constexpr const char* kMembers = "members";
inline constexpr const char* kThreads = "threads";
inline constexpr const char* kUsers = "users";
inline constexpr const char* kPresences = "presences";
inline constexpr const char* kReactions = "reactions";
inline constexpr const char* kInvites = "invites";

class BotState {
 public:
  BotState(std::size_t guilds, std::size_t channels_per_guild, CacheLimits limits,
           PayloadLayout layout = PayloadLayout::kSegments);

  PayloadArena& arena() { return arena_; }
  const PayloadArena& arena() const { return arena_; }

  std::size_t guilds() const { return members_.size(); }
  std::size_t channels() const { return messages_.size(); }

  void addMessage(std::size_t channel, std::uint64_t id, MessageRecord m);
  void upsertMember(std::size_t guild, std::uint64_t user_id, MemberRecord m);
  MemberRecord* member(std::size_t guild, std::uint64_t user_id) { return members_[guild].get(user_id); }
  void upsertUser(std::uint64_t user_id, UserRecord u);
  void addThread(std::size_t guild, std::uint64_t id, ThreadRecord t);
  ThreadRecord* thread(std::size_t guild, std::uint64_t id) { return threads_[guild].get(id); }
  void setPresence(std::uint64_t user_id, SmallRecord p);
  void addReaction(std::uint64_t id, SmallRecord r);
  void addInvite(std::uint64_t id, SmallRecord i);

  // Sweepers (discord.js semantics). Each returns the number of entries removed.
  // Messages created at or before now - lifetime; lifetime 0 removes every message.
  std::size_t sweepMessages(std::int64_t now_ms, std::int64_t lifetime_ms);
  std::size_t sweepBotUsers();
  // Archived threads created at or before now - lifetime.
  std::size_t sweepArchivedThreads(std::int64_t now_ms, std::int64_t lifetime_ms);
  // "Offline" members: not updated since now - lifetime.
  std::size_t sweepIdleMembers(std::int64_t now_ms, std::int64_t lifetime_ms);
  // Presences, reactions and invites (when enabled) older than now - lifetime.
  std::size_t sweepStaleSmall(const std::string& cache, std::int64_t now_ms, std::int64_t lifetime_ms);

  // Compaction: shrink one cache to `keep` entries per container (oldest go first) and
  // release the containers' spare capacity. Returns entries removed.
  std::size_t compact(const std::string& cache, std::size_t keep);

  // Creation times of every cached message (any order): the ages a goal-directed sweep ranks.
  std::vector<std::int64_t> messageTimes() const;

  std::size_t count(const std::string& cache) const;
  std::map<std::string, std::int64_t> counts() const;
  std::uint64_t evictions() const { return evictions_; }

  // Cache names in the order sweeps and compaction visit them.
  static const std::vector<std::string>& cacheNames();

 private:
  PayloadArena arena_;  // before the caches: destroyed after them
  std::vector<LimitedCache<MessageRecord>> messages_;  // per channel (guild-major)
  std::vector<LimitedCache<MemberRecord>> members_;    // per guild
  std::vector<LimitedCache<ThreadRecord>> threads_;    // per guild
  LimitedCache<UserRecord> users_;
  LimitedCache<SmallRecord> presences_;
  LimitedCache<SmallRecord> reactions_;
  LimitedCache<SmallRecord> invites_;
  std::uint64_t evictions_ = 0;
};

}  // namespace memvisor::bot
