// A synthetic Discord gateway: no network, a seeded stream of events (message creates with
// varied bodies, attachments and embeds; member joins and updates; threads; presences;
// reactions; invites) applied to a BotState. Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "bot_state.hpp"
#include "config.hpp"

namespace memvisor::bot {

enum class EventKind { kMessageCreate, kPresenceUpdate, kMemberUpdate, kMemberJoin, kTyping, kReactionAdd,
                       kThreadCreate, kThreadUpdate, kInviteCreate };

class SyntheticGateway {
 public:
  SyntheticGateway(const WorkloadConfig& w, std::uint64_t seed);

  // Generates one event at `now_ms` and applies it to `state`.
  EventKind step(BotState& state, std::int64_t now_ms);
  std::uint64_t events() const { return events_; }
  std::uint64_t messages() const { return messages_; }

  // Users per guild the generator draws from; member caches cannot grow past this.
  static constexpr std::uint64_t kUsersPerGuild = 5000;

 private:
  std::string payload(std::size_t bytes);
  std::string_view text(std::size_t bytes);
  std::size_t logUniform(std::size_t lo, std::size_t hi);
  std::uint64_t userId(std::size_t guild);
  void messageCreate(BotState& s, std::int64_t now_ms);

  WorkloadConfig w_;
  std::mt19937_64 rng_;
  std::uint64_t next_id_ = 1;
  std::uint64_t events_ = 0;
  std::uint64_t messages_ = 0;
};

}  // namespace memvisor::bot
