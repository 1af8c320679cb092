'use strict';
// A real discord.js 14 bot fed synthetic gateway traffic through discord.js's own handlers
// (no network, no token): guilds, channels and members enter its caches through
// `client.guilds._add(raw)`, messages through `client.actions.MessageCreate.handle(raw)`,
// which fire the same events a gateway would. Wired to memvisord exactly as bot/node/README.md
// shows (memvisor-client/discord). The test suite (tests/node/discord_scenario.test.js) and the
// long run (bench/discord_long_run.sh) run it under memvisord.
//
// Environment (all optional): SCENARIO_RATE messages/s (3000), SCENARIO_GUILDS (20),
// SCENARIO_CHANNELS per guild (10), SCENARIO_AUTHORS distinct authors (20000),
// SCENARIO_CONTENT_BYTES per message (200), SCENARIO_CACHES `unlimited` (cache limits off, as
// the reference bot's --bloat) or `seed` (the seed's limits), SCENARIO_PROGRESS_SECONDS (10).

const Discord = require('discord.js');
const memvisor = require('../lib/discord');

const env = (name, def) => (process.env[name] ? Number(process.env[name]) : def);
const RATE = env('SCENARIO_RATE', 3000);
const GUILDS = env('SCENARIO_GUILDS', 20);
const CHANNELS = env('SCENARIO_CHANNELS', 10);
const AUTHORS = env('SCENARIO_AUTHORS', 20000);
const CONTENT = env('SCENARIO_CONTENT_BYTES', 200);
const PROGRESS = env('SCENARIO_PROGRESS_SECONDS', 10);
const unlimited = (process.env.SCENARIO_CACHES ?? 'unlimited') === 'unlimited';

const client = new Discord.Client({
  intents: [Discord.GatewayIntentBits.Guilds, Discord.GatewayIntentBits.GuildMessages, Discord.GatewayIntentBits.GuildMembers],
  ...memvisor.clientOptions(Discord, { limits: !unlimited }),
});
const mv = memvisor.attach(client, { onShutdown: async () => { stop(); await client.destroy(); } });

const { SnowflakeUtil } = Discord;
const selfId = '100000000000000001';
client.user = new Discord.ClientUser(client, { id: selfId, username: 'scenario', discriminator: '0', bot: true });

// Guilds with their text channels, roles and the bot's own member, as GUILD_CREATE carries them.
const channels = [];
for (let g = 0; g < GUILDS; g++) {
  const gid = String(200000000000000000n + BigInt(g));
  const chans = [];
  for (let c = 0; c < CHANNELS; c++) {
    const id = String(300000000000000000n + BigInt(g * 1000 + c));
    chans.push({ id, type: 0, name: `chan-${c}`, guild_id: gid, position: c, permission_overwrites: [] });
    channels.push({ id, gid });
  }
  client.guilds._add({
    id: gid, name: `guild-${g}`, owner_id: selfId, channels: chans, members: [{ user: { id: selfId, username: 'scenario', discriminator: '0', bot: true }, roles: [], joined_at: new Date().toISOString() }],
    roles: [{ id: gid, name: '@everyone', permissions: '0', position: 0, color: 0, hoist: false, managed: false, mentionable: false }],
    member_count: 1000, features: [], emojis: [], stickers: [],
  });
}

// Authors are drawn so that some talk a lot and most rarely (the square skews towards low
// ids), and new ones keep appearing: the users and members caches grow as in a real guild.
let seq = 0;
const words = 'the quick brown fox jumps over a lazy dog while memvisor keeps the bot alive'.split(' ');
function message() {
  const ch = channels[seq % channels.length];
  const a = Math.floor(AUTHORS * Math.random() ** 2);
  const author = { id: String(400000000000000000n + BigInt(a)), username: `user${a}`, discriminator: '0', global_name: `User ${a}`, avatar: null };
  let content = '';
  while (content.length < CONTENT) content += words[(seq + content.length) % words.length] + ' ';
  seq++;
  return {
    id: SnowflakeUtil.generate({ timestamp: Date.now() }).toString(), channel_id: ch.id, guild_id: ch.gid, author,
    member: { roles: [], joined_at: '2024-01-01T00:00:00.000Z', nick: null }, content: `${seq} ${content}`,
    timestamp: new Date().toISOString(), edited_timestamp: null, type: 0, tts: false, pinned: false,
    mention_everyone: false, mentions: [], mention_roles: [], attachments: [], embeds: [], components: [],
  };
}

let fed = 0;
let handled = 0;
client.on('messageCreate', () => handled++);
const t0 = Date.now();
const feeder = setInterval(() => {
  // Catch up to RATE messages per second since the start, at most 0.2 s worth at once.
  const due = Math.min(Math.floor(((Date.now() - t0) / 1000) * RATE) - fed, RATE / 5);
  for (let i = 0; i < due; i++) client.actions.MessageCreate.handle(message());
  if (due > 0) fed += due;
}, 20);
const progress = setInterval(() => {
  const m = process.memoryUsage();
  const c = memvisor.cacheCounts(client);
  const mib = (b) => (b / 1048576).toFixed(1);
  console.log(`[scenario] t=${Math.round((Date.now() - t0) / 1000)}s fed=${fed} handled=${handled} rss=${mib(m.rss)}MiB heapUsed=${mib(m.heapUsed)}MiB ` +
    `heapLimit=${mib(require('node:v8').getHeapStatistics().heap_size_limit)}MiB messages=${c.messages} members=${c.members} users=${c.users}`);
}, PROGRESS * 1000);
mv.on('action', (r) => {
  const d = Object.fromEntries((r.details ?? []).filter((x) => x.entries_before !== undefined).map((x) => [x.name, `${x.entries_before}->${x.entries_after}`]));
  console.log(`[scenario] action=${r.action} ok=${r.ok} freed=${r.freed_bytes} heap_freed=${r.heap_freed_bytes} target_met=${r.target_met} ${JSON.stringify(d)}`);
});
function stop() {
  clearInterval(feeder);
  clearInterval(progress);
}
process.on('SIGTERM', () => { stop(); process.exit(0); });
