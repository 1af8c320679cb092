'use strict';
// Runs the discord.js example of bot/node/README.md as a real bot process (against a
// stand-in for discord.js with the same sweep contracts), driven over a real socket: the
// documented wiring must work for every urgency, compact, and shutdown.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { FakeDaemon, tempDir } = require('./fixtures/fake_daemon');
const { clientDir } = require('./fixtures/env');

function exampleFromReadme() {
  const readme = fs.readFileSync(path.join(clientDir, 'README.md'), 'utf8');
  const start = readme.indexOf('## A discord.js bot');
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(start));
  assert.ok(start >= 0 && m, 'README has the discord.js example');
  return m[1];
}

test('the README discord.js example obeys sweep (all urgencies), compact and shutdown', { timeout: 30000 }, async (t) => {
  const dir = tempDir('readme');
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(modules, 'discord.js'), { recursive: true });
  fs.copyFileSync(path.join(__dirname, 'fixtures/fake_discordjs.js'), path.join(modules, 'discord.js/index.js'));
  fs.symlinkSync(clientDir, path.join(modules, 'memvisor-client'), 'dir');
  fs.writeFileSync(path.join(dir, 'bot.js'), exampleFromReadme());
  const socketPath = path.join(dir, 'bot.sock');
  const daemon = new FakeDaemon(socketPath);
  await daemon.listen();
  const bot = spawn(process.execPath, ['--expose-gc', path.join(dir, 'bot.js')], {
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

  const conn = await daemon.connection(0, 10000);
  assert.deepEqual(conn.frames[0].capabilities, ['trim', 'sweep', 'compact', 'stats', 'events', 'shutdown']);
  const stats = await daemon.frame(conn, (f) => f.type === 'stats');
  assert.deepEqual(stats.caches, { messages: 1500, members: 63, users: 101, channels: 30 });

  let id = 1;
  const run = async (type, urgency) => {
    const rid = id++;
    daemon.send(conn, { type, id: rid, urgency, deadline_ms: 5000 });
    const r = await daemon.frame(conn, (f) => f.id === rid, 5000, `${type} ${urgency}`);
    assert.equal(r.type, 'action_result', JSON.stringify(r));
    assert.equal(r.ok, true, `${r.error}\n${out}`);
    return Object.fromEntries(r.details.filter((d) => d.entries_before !== undefined).map((d) => [d.name, [d.entries_before, d.entries_after]]));
  };
  // Messages are 0..49 minutes old; the lifetime is 900 s scaled by urgency.
  assert.deepEqual((await run('sweep', 'low')).messages, [1500, 450], 'low: older than 15 min');
  assert.deepEqual((await run('sweep', 'normal')).messages, [450, 240], 'normal: older than 7.5 min');
  assert.deepEqual((await run('sweep', 'high')).messages, [240, 120], 'high: older than 3.75 min');
  const critical = await run('sweep', 'critical');
  assert.deepEqual(critical.messages, [120, 0], 'critical: everything');
  assert.deepEqual(critical.users, [91, 91], 'bot users went at the first sweep');
  const compact = await run('compact', 'critical');
  assert.deepEqual(compact.members, [63, 3], 'only the bot itself stays, once per guild');
  assert.deepEqual(compact.users, [91, 1]);

  daemon.send(conn, { type: 'shutdown', id: 99, deadline_ms: 5000, reason: 'restart' });
  assert.equal(await exited, 0, out);
  assert.match(out, /memvisord asked to stop: restart/);
  assert.match(out, /discord client destroyed/);
});
