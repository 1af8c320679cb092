'use strict';
// memvisor-client/discord: one call wires a discord.js 14 Client to memvisord. It registers
// sweep and compact over discord.js's own caches (messages, threads, members, users,
// presences), reports their entry counts in every `stats`, and gives the seed's cache limits
// (users included) for the Client's constructor. Zero dependencies: the bot passes its own
// discord.js module where one is needed.
//
// Eviction is age-ordered: every cached entry gets an age (messages and threads by their
// snowflake time, members and users by when the bot last saw them act, presences oldest),
// and a goal-directed action (protocol 1.1 `target_bytes`) evicts the oldest entries across
// all caches until V8's own count of the heap shows the target freed, keeping the newest.

const { MemvisorClient, sweepLifetimeSeconds } = require('./client');
const { collectGarbage, gcAvailable, heapUsed } = require('./figures');

const envInt = (env, name, def) => {
  const v = Number(env[name]);
  return env[name] !== undefined && env[name] !== '' && Number.isFinite(v) ? v : def;
};

// The seed's limits, from memvisord's profile variables when set (CACHE_MESSAGES_LIMIT,
// CACHE_MEMBERS_LIMIT, CACHE_USERS_LIMIT, SWEEP_MESSAGES_*).
function seedLimits(env = process.env) {
  return {
    messages: envInt(env, 'CACHE_MESSAGES_LIMIT', 50),
    members: envInt(env, 'CACHE_MEMBERS_LIMIT', 100),
    // discord.js's users sweeper removes only bots (every 30 min): without a bound the users
    // cache grows with every author ever seen, and that alone ran a bot out of heap.
    users: envInt(env, 'CACHE_USERS_LIMIT', 1000),
    threads: 10,
    sweepIntervalSeconds: envInt(env, 'SWEEP_MESSAGES_INTERVAL_SECONDS', 300),
    messageLifetimeSeconds: envInt(env, 'SWEEP_MESSAGES_LIFETIME_SECONDS', 900),
  };
}

// { makeCache, sweepers } for `new Client({ intents, ...clientOptions(Discord) })`: the seed's
// cache limits (50 messages per channel, 100 members per guild, 1000 users, 10 threads,
// reactions, presences and invites off) and its periodic sweepers. `{ limits: false }`: every
// cache unbounded and no sweepers (a bot with its limits switched off; the long run's case).
function clientOptions(Discord, { limits = true, env = process.env } = {}) {
  const { Options } = Discord;
  const l = seedLimits(env);
  if (!limits) return { makeCache: Options.cacheEverything(), sweepers: {} };
  const notSelf = (x) => x.id !== x.client.user?.id;
  return {
    makeCache: Options.cacheWithLimits({
      ...Options.DefaultMakeCacheSettings,
      MessageManager: l.messages,
      GuildMemberManager: { maxSize: l.members, keepOverLimit: (m) => !notSelf(m) },
      UserManager: { maxSize: l.users, keepOverLimit: (u) => !notSelf(u) },
      ThreadManager: l.threads,
      ReactionManager: 0,
      PresenceManager: 0,
      GuildInviteManager: 0,
    }),
    sweepers: {
      ...Options.DefaultSweeperSettings,
      messages: { interval: l.sweepIntervalSeconds, lifetime: l.messageLifetimeSeconds },
      users: { interval: 1800, filter: () => (u) => u.bot && notSelf(u) },
    },
  };
}

// Entries per cache, as `stats` reports them.
function cacheCounts(client) {
  let messages = 0;
  let threads = 0;
  for (const c of client.channels.cache.values()) {
    messages += c.messages?.cache.size ?? 0;
    if (c.isThread?.()) threads++;
  }
  let members = 0;
  let presences = 0;
  for (const g of client.guilds.cache.values()) {
    members += g.members.cache.size;
    presences += g.presences?.cache.size ?? 0;
  }
  return { messages, members, users: client.users.cache.size, threads, presences, channels: client.channels.cache.size, guilds: client.guilds.cache.size };
}

// The caches an action may evict from, each with the age of every entry (ms since epoch; lower
// is older) and a way to evict all entries at or before a cut-off. `seen` maps a user or member
// id to when the bot last saw it act (a message); entries never seen count from `since`.
function evictable(client, seen, since, { people }) {
  const self = client.user?.id;
  const lastSeen = (id) => seen.get(id) ?? since;
  const sources = [
    {
      name: 'messages',
      ages(push) {
        for (const c of client.channels.cache.values()) for (const m of c.messages?.cache.values() ?? []) push(m.createdTimestamp);
      },
      evict: (cut) => client.sweepers.sweepMessages((m) => m.createdTimestamp <= cut),
    },
    {
      name: 'threads',
      ages(push) {
        for (const c of client.channels.cache.values()) if (c.isThread?.() && c.archived) push(c.createdTimestamp ?? 0);
      },
      evict: (cut) => client.sweepers.sweepThreads((t) => t.archived && (t.createdTimestamp ?? 0) <= cut),
    },
    {
      name: 'presences',
      ages(push) {
        for (const g of client.guilds.cache.values()) for (let i = g.presences?.cache.size ?? 0; i > 0; i--) push(0);
      },
      evict: () => client.sweepers.sweepPresences(() => true),
    },
  ];
  if (people) {
    sources.push(
      {
        name: 'members',
        ages(push) {
          for (const g of client.guilds.cache.values()) for (const id of g.members.cache.keys()) if (id !== self) push(lastSeen(id));
        },
        evict: (cut) => client.sweepers.sweepGuildMembers((m) => m.id !== self && lastSeen(m.id) <= cut),
      },
      {
        name: 'users',
        ages(push) {
          for (const id of client.users.cache.keys()) if (id !== self) push(lastSeen(id));
        },
        evict: (cut) => client.sweepers.sweepUsers((u) => u.id !== self && lastSeen(u.id) <= cut),
      },
    );
  }
  return sources;
}

// Evicts the oldest entries across `sources` until V8's heap shows `targetBytes` freed (a
// full GC after each round), or until only `keepFraction` of the entries is left. The first
// round's size comes from the heap's mean bytes per entry; later rounds from what the rounds
// so far really freed per entry. `heapBefore` is where freeing is counted from (the client's
// baseline when the request arrived; default: now). Returns { details, heapFreed, rounds }.
function evictOldest(sources, targetBytes, { keepFraction = 0, maxRounds = 8, heapBefore } = {}) {
  const before = {};
  const ages = [];
  for (const s of sources) {
    let n = 0;
    s.ages((t) => {
      ages.push(t);
      n++;
    });
    before[s.name] = n;
  }
  const total = ages.length;
  const sorted = Float64Array.from(ages).sort();
  const floor = Math.ceil(total * keepFraction); // entries that always stay (the newest)
  // Aim a little past the target: the bot keeps allocating (traffic, the reply itself) between
  // this count and the client's final one (once seen 300 KiB short of a 500 KiB target, with
  // 256 KiB of margin: ctest's node_readme_example on a loaded machine).
  const goal = targetBytes * 1.05 + 512 * 1024;
  const heap0 = heapBefore ?? heapUsed();
  let evicted = 0;
  let freed = 0;
  let rounds = 0;
  // No collection up front (a full GC of a few hundred MiB costs 0.5-1.5 s on a busy machine,
  // and the bot's event loop waits): the first round's size comes from the heap in use per
  // entry, garbage included, which errs on the side of evicting a little too little.
  const base = heapUsed();
  const garbage = 0; // what a collection alone would have freed: unknown without one
  let perEntry = total > 0 ? Math.max(64, base / total) : 0;
  while (freed < goal && evicted < total - floor && rounds < maxRounds) {
    // Ask for a little more than the estimate: a round that falls short costs a full GC.
    // At least as many as evicted so far: a round that fell short (an estimate thrown off by
    // garbage the first collection also freed) doubles, so a few rounds always get there.
    const want = Math.max(Math.ceil(((goal - freed) / perEntry) * 1.15), evicted);
    const upTo = Math.min(total - floor, evicted + Math.max(1, want));
    const cut = sorted[upTo - 1];
    for (const s of sources) s.evict(cut);
    // Ties at the cut-off go too: count what really left.
    const left = sources.reduce((n, s) => {
      let c = 0;
      s.ages(() => c++);
      return n + c;
    }, 0);
    const now = total - left;
    rounds++;
    if (now === evicted) break;
    if (gcAvailable()) collectGarbage();
    const f = heap0 - heapUsed();
    perEntry = f > freed ? Math.max(64, (f - garbage) / now) : perEntry * 2;
    evicted = now;
    freed = f;
    if (!gcAvailable()) break; // no exact measure: one estimated round only
  }
  const details = sources.map((s) => {
    let c = 0;
    s.ages(() => c++);
    return { name: s.name, entries_before: before[s.name], entries_after: c };
  });
  return { details, heapFreed: freed, rounds, collected: rounds > 0 && gcAvailable() };
}

// Wires `client` (a discord.js Client) to memvisord and starts the memvisor client. Options:
// everything MemvisorClient takes, plus `messageLifetimeSeconds` (the seed's 900 s) for sweeps
// without a target, and `compactKeepFraction` (0.55: a compact keeps more than the newest half
// of the entries unless its target needs more; the margin over 0.5 is there because evicting
// a member can take its user with it, and exactly half fell to 49.9% in a test run). Returns
// the MemvisorClient.
function attach(client, options = {}) {
  const limits = seedLimits(options.env ?? process.env);
  const lifetime = options.messageLifetimeSeconds ?? limits.messageLifetimeSeconds;
  const compactKeep = options.compactKeepFraction ?? 0.55;
  const seen = new Map();
  const since = Date.now();
  const saw = (id) => {
    // Re-inserting keeps the Map in last-seen order; bounded by the users the caches hold.
    seen.delete(id);
    seen.set(id, Date.now());
  };
  client.on('messageCreate', (m) => saw(m.author.id));
  // Forget who is no longer cached, so that `seen` stays as small as the caches.
  const prune = () => {
    for (const id of seen.keys()) if (!client.users.cache.has(id)) seen.delete(id);
  };

  const mv = new MemvisorClient({ ...options, cacheCounts: () => cacheCounts(client) });
  const self = () => client.user?.id;

  // sweep: with a target (memvisord 1.1), the oldest messages, archived threads and presences
  // across all channels until that much heap is free; without one, the seed's sweepers now,
  // lifetimes shortened by urgency.
  mv.onSweep(({ urgency, targetBytes, heapBefore }) => {
    if (Number.isSafeInteger(targetBytes)) {
      const people = { members: cacheCounts(client).members, users: client.users.cache.size };
      const r = evictOldest(evictable(client, seen, since, { people: false }), targetBytes, { keepFraction: 0, heapBefore });
      mv.log({ event: 'memvisor_evict', action: 'sweep', target_bytes: targetBytes, heap_freed_bytes: r.heapFreed, rounds: r.rounds });
      prune();
      // Members and users are not swept, but they are cached entries: report them too, so
      // that "entries kept" covers every cache.
      const now = cacheCounts(client);
      const details = [...r.details, { name: 'members', entries_before: people.members, entries_after: now.members },
        { name: 'users', entries_before: people.users, entries_after: now.users }];
      return { details, collected: r.collected };
    }
    const before = cacheCounts(client);
    const cut = Date.now() - sweepLifetimeSeconds(lifetime, urgency) * 1000;
    client.sweepers.sweepMessages((m) => m.createdTimestamp <= cut);
    client.sweepers.sweepThreads((t) => t.archived && (t.archiveTimestamp ?? 0) <= cut);
    client.sweepers.sweepUsers((u) => u.bot && u.id !== self());
    prune();
    return { details: countDetails(before, cacheCounts(client)) };
  });

  // compact: with a target, the oldest entries of every cache (members and users too) until
  // that much heap is free, keeping at least the newest `compactKeepFraction`; without one,
  // every cache to its minimum (the 1.0 meaning).
  mv.onCompact(({ targetBytes, heapBefore }) => {
    if (Number.isSafeInteger(targetBytes)) {
      const r = evictOldest(evictable(client, seen, since, { people: true }), targetBytes, { keepFraction: compactKeep, heapBefore });
      mv.log({ event: 'memvisor_evict', action: 'compact', target_bytes: targetBytes, heap_freed_bytes: r.heapFreed, rounds: r.rounds });
      prune();
      return { details: r.details, collected: r.collected };
    }
    const before = cacheCounts(client);
    client.sweepers.sweepMessages(() => true);
    client.sweepers.sweepGuildMembers((m) => m.id !== self());
    client.sweepers.sweepUsers((u) => u.id !== self());
    client.sweepers.sweepPresences(() => true);
    prune();
    return { details: countDetails(before, cacheCounts(client)) };
  });

  mv.onShutdown(options.onShutdown ?? (async () => client.destroy()));
  return mv.start();
}

function countDetails(before, after) {
  return ['messages', 'threads', 'members', 'users', 'presences'].map((name) => ({ name, entries_before: before[name], entries_after: after[name] }));
}

module.exports = { attach, clientOptions, seedLimits, cacheCounts, evictOldest, evictable };
