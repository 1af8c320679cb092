'use strict';
// Runs the discord.js example of bot/node/README.md as a real bot process on the real
// discord.js 14 from npm (bot/node/node_modules, installed by `npm ci`), its caches filled
// through discord.js's own handlers (fixtures/discord_offline.js), driven over a real socket:
// the documented wiring must give counts and heap figures, goal-directed sweeps that evict
// oldest first and keep the rest, the 1.0 sweeps by urgency, compact, and shutdown.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { FakeDaemon, tempDir } = require('./fixtures/fake_daemon');
const { clientDir } = require('./fixtures/env');

const discordDir = path.join(clientDir, 'node_modules', 'discord.js');
const skip = fs.existsSync(path.join(discordDir, 'package.json')) ? false
  : `discord.js is not installed in ${clientDir}/node_modules (run: npm ci --prefix bot/node; bash .ci/bootstrap does)`;

function exampleFromReadme() {
  const readme = fs.readFileSync(path.join(clientDir, 'README.md'), 'utf8');
  const start = readme.indexOf('## A discord.js bot');
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(start));
  assert.ok(start >= 0 && m, 'README has the discord.js example');
  return m[1];
}

test('the README discord.js example on the real discord.js: counts, goal-directed sweep and compact, 1.0 sweeps, shutdown', { timeout: 60000, skip }, async (t) => {
  const dir = tempDir('readme');
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules, { recursive: true });
  fs.symlinkSync(discordDir, path.join(modules, 'discord.js'), 'dir');
  fs.symlinkSync(clientDir, path.join(modules, 'memvisor-client'), 'dir');
  fs.writeFileSync(path.join(dir, 'bot.js'), exampleFromReadme());
  const socketPath = path.join(dir, 'bot.sock');
  const daemon = new FakeDaemon(socketPath, { statsIntervalMs: 200 });
  await daemon.listen();
  const bot = spawn(process.execPath, ['--expose-gc', '--require', path.join(__dirname, 'fixtures/discord_offline.js'), path.join(dir, 'bot.js')], {
    cwd: dir,
    env: { ...process.env, MEMVISOR_SOCKET: socketPath, MEMVISOR_BOT_NAME: 'amayo' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  bot.stdout.on('data', (b) => (out += b));
  bot.stderr.on('data', (b) => (out += b));
  const exited = new Promise((resolve) => bot.on('exit', resolve));
  t.after(async () => {
    bot.kill('SIGKILL');
    await daemon.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const oldestAge = async () => {
    const mark = out.length;
    bot.kill('SIGUSR2');
    for (let i = 0; i < 100 && !/OLDEST_AGE_S=(-?\d+)/.test(out.slice(mark)); i++) await new Promise((r) => setTimeout(r, 50));
    return Number(/OLDEST_AGE_S=(-?\d+)/.exec(out.slice(mark))[1]);
  };

  const conn = await daemon.connection(0, 20000);
  assert.deepEqual(conn.frames[0].capabilities, ['trim', 'sweep', 'compact', 'stats', 'events', 'shutdown']);
  let lastStats = null;
  const stats = await daemon.frame(conn, (f) => f.type === "stats" && (lastStats = f).caches?.messages === 1500, 10000, "stats").catch((e) => { throw new Error(`${e.message}: last ${JSON.stringify(lastStats)} frames ${conn.frames.map((f) => f.type)}\n${out}`); });
  // The seed's limits: 50 per channel keep 1500 of 1500 (30 channels); users 100 + the bot;
  // every user writes in all 3 guilds: 100 members a guild (+ the bot).
  assert.equal(stats.caches.users, 101);
  assert.ok(stats.caches.members >= 300 && stats.caches.members <= 303, `members per guild bounded by the seed: ${stats.caches.members}`);
  assert.ok(stats.heap_limit_bytes > stats.heap_used_bytes, `heap_limit_bytes in stats: ${JSON.stringify(stats)}`);

  let id = 1;
  const run = async (type, urgency, extra = {}) => {
    const rid = id++;
    daemon.send(conn, { type, id: rid, urgency, deadline_ms: 10000, ...extra });
    const r = await daemon.frame(conn, (f) => f.id === rid, 15000, `${type} ${urgency}`);
    assert.equal(r.type, 'action_result', JSON.stringify(r));
    assert.equal(r.ok, true, `${r.error}\n${out}`);
    r.counts = Object.fromEntries(r.details.filter((d) => d.entries_before !== undefined).map((d) => [d.name, [d.entries_before, d.entries_after]]));
    return r;
  };

  // Goal-directed (1.1): a target worth some hundreds of messages evicts the oldest first,
  // and no more than the target needs.
  // A trim first, so that the garbage of start-up does not meet the target by itself.
  await run('trim', 'normal');
  const goal = await run('sweep', 'normal', { target_bytes: 500 * 1024 });
  assert.equal(goal.target_met, true, `${JSON.stringify(goal)}\n${out.split('\n').filter((l) => l.includes('memvisor_evict')).join('\n')}`);
  assert.ok(goal.heap_freed_bytes >= 500 * 1024, JSON.stringify(goal));
  const [mb, ma] = goal.counts.messages;
  assert.equal(mb, 1500);
  assert.ok(ma < 1500 && ma >= 500, `kept most messages: ${ma}`);
  assert.ok(goal.freed_bytes >= 0, 'never "grown" when the heap shrank');
  // Oldest first: the oldest message left is as old as the (1500 - ma)-th message's slot.
  const age = await oldestAge();
  const expected = (ma - 1) * 2;
  assert.ok(Math.abs(age - expected) <= 6, `oldest kept message ${age} s old, expected about ${expected} s`);

  // A target the caches cannot meet: compact keeps the newest half.
  const compactGoal = await run('compact', 'high', { target_bytes: 1024 * 1024 * 1024 });
  assert.equal(compactGoal.target_met, false);
  const kept = Object.values(compactGoal.counts).reduce((n, [, a]) => n + a, 0);
  const had = Object.values(compactGoal.counts).reduce((n, [b]) => n + b, 0);
  assert.ok(kept >= had / 2 - 1 && kept < had, `compact with a target kept ${kept} of ${had}`);

  // 1.0 requests (no target): lifetimes by urgency, then compact to the minimum.
  const critical = await run('sweep', 'critical');
  assert.equal(critical.counts.messages[1], 0, 'critical: every message is stale');
  assert.equal(critical.target_met, undefined);
  const compact = await run('compact', 'critical');
  assert.equal(compact.counts.members[1], 3, 'only the bot itself stays, once per guild');
  assert.equal(compact.counts.users[1], 1);

  daemon.send(conn, { type: 'shutdown', id: 99, deadline_ms: 5000, reason: 'restart' });
  assert.equal(await exited, 0, out);
  assert.match(out, /memvisord asked to stop: restart/);
  assert.match(out, /discord client destroyed/);
});
