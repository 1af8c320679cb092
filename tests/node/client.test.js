'use strict';
// The client against a real Unix socket served by the test: handshake, stats, every command,
// late replies, a daemon going away and coming back, malformed frames from the daemon.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { FakeDaemon, tempDir } = require('./fixtures/fake_daemon');
const { loadClient, clientDir } = require('./fixtures/env');

const { MemvisorClient, backoffDelay } = loadClient();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A daemon and a client wired together; everything is torn down after the test.
async function setup(t, { clientOptions = {}, daemonOptions = {}, handlers = true } = {}) {
  const dir = tempDir('client');
  const socketPath = path.join(dir, 'bot.sock');
  const daemon = new FakeDaemon(socketPath, daemonOptions);
  await daemon.listen();
  const logs = [];
  const client = new MemvisorClient({
    socketPath, name: 'amayo', exitOnShutdown: false, settleMaxMs: 200, log: (l) => logs.push(l),
    cacheCounts: () => ({ messages: 42, members: 7 }), ...clientOptions,
  });
  if (handlers) {
    client.onSweep(async ({ urgency }) => ({ details: [{ name: 'messages', entries_before: 10, entries_after: urgency === 'high' ? 1 : 5 }] }));
    client.onCompact(() => ({ details: [{ name: 'members', entries_before: 7, entries_after: 0 }] }));
    client.onTrim(() => ({ details: [{ name: 'custom_trim', freed_bytes: 0 }] }));
  }
  client.start();
  t.after(async () => {
    client.stop();
    await daemon.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { daemon, client, logs, socketPath, dir };
}

let nextId = 100;
async function request(daemon, conn, msg) {
  const id = nextId++;
  daemon.send(conn, { ...msg, id });
  return daemon.frame(conn, (f) => f.id === id && f.type !== msg.type, 5000, `reply to ${msg.type} ${id}`);
}

test('handshake: hello says role bot, pid, name and the capabilities of the registered handlers', async (t) => {
  const { daemon } = await setup(t);
  const conn = await daemon.connection(0);
  const hello = conn.frames[0];
  assert.equal(hello.type, 'hello');
  assert.deepEqual(hello.version, { major: 1, minor: 1 });
  assert.equal(hello.role, 'bot');
  assert.equal(hello.pid, process.pid);
  assert.equal(hello.name, 'amayo');
  assert.deepEqual(hello.capabilities.sort(), ['compact', 'events', 'shutdown', 'stats', 'sweep', 'trim']);
});

test('stats: one right after welcome, then every stats_interval_ms, with figures and caches', async (t) => {
  const { daemon } = await setup(t, { daemonOptions: { statsIntervalMs: 100 } });
  const conn = await daemon.connection(0);
  const stats = await daemon.waitFor(() => {
    const s = conn.frames.filter((f) => f.type === 'stats');
    return s.length >= 3 && s;
  }, 3000, 'three stats');
  const s = stats[0];
  assert.ok(Number.isSafeInteger(s.rss_bytes) && s.rss_bytes > 1e6, `rss ${s.rss_bytes}`);
  assert.ok(s.heap_used_bytes > 0 && s.heap_total_bytes >= s.heap_used_bytes);
  assert.ok(Number.isSafeInteger(s.external_bytes));
  assert.ok(s.uptime_ms > 0);
  assert.deepEqual(s.caches, { messages: 42, members: 7 });
  assert.ok(stats.some((x) => typeof x.event_loop_lag_ms === 'number' && x.event_loop_lag_ms >= 0), 'event-loop lag reported');
});

test('ping is answered with pong and uptime', async (t) => {
  const { daemon } = await setup(t);
  const conn = await daemon.connection(0);
  const pong = await request(daemon, conn, { type: 'ping' });
  assert.equal(pong.type, 'pong');
  assert.ok(pong.uptime_ms > 0);
});

test('trim, sweep and compact are answered with measured action_results', async (t) => {
  const { daemon } = await setup(t);
  const conn = await daemon.connection(0);
  for (const type of ['trim', 'sweep', 'compact']) {
    const r = await request(daemon, conn, { type, urgency: 'high', deadline_ms: 5000 });
    assert.equal(r.type, 'action_result', JSON.stringify(r));
    assert.equal(r.action, type);
    assert.equal(r.ok, true);
    assert.ok(Number.isSafeInteger(r.freed_bytes));
    assert.equal(r.freed_bytes, r.before.rss_bytes - r.after.rss_bytes, 'freed = rss before - rss after');
    for (const k of ['rss_bytes', 'heap_used_bytes', 'heap_total_bytes', 'external_bytes']) {
      assert.ok(Number.isSafeInteger(r.before[k]) && Number.isSafeInteger(r.after[k]), k);
    }
    assert.ok(r.duration_ms >= 0 && r.duration_ms < 5000);
    assert.equal(r.late, undefined, 'not late');
  }
  const sweep = conn.frames.find((f) => f.action === 'sweep');
  assert.deepEqual(sweep.details[0], { name: 'messages', freed_bytes: 0, entries_before: 10, entries_after: 1 });
  const compact = conn.frames.find((f) => f.action === 'compact');
  assert.equal(compact.details[0].name, 'members');
});

test('a handler that overruns its deadline still gets a reply, marked late; pings are answered meanwhile', async (t) => {
  const { daemon, client } = await setup(t);
  client.onSweep(async () => {
    await sleep(400);
    return { details: [] };
  });
  const conn = await daemon.connection(0);
  daemon.send(conn, { type: 'sweep', id: 1, urgency: 'low', deadline_ms: 100 });
  daemon.send(conn, { type: 'ping', id: 2 });
  const result = await daemon.frame(conn, (f) => f.type === 'action_result' && f.id === 1);
  assert.equal(result.late, true);
  assert.ok(result.duration_ms >= 100, `duration ${result.duration_ms}`);
  const order = conn.frames.filter((f) => f.id === 1 || f.id === 2).map((f) => f.type);
  assert.deepEqual(order, ['pong', 'action_result'], 'ping answered while the action ran');
});

test('a second action while one runs is refused with busy; an action without handler with action_failed', async (t) => {
  const { daemon, client } = await setup(t, { handlers: false });
  client.onSweep(async () => sleep(300));
  const conn = await daemon.connection(0);
  assert.deepEqual(conn.frames[0].capabilities.filter((c) => c !== 'trim').sort(), ['events', 'shutdown', 'stats', 'sweep']);
  daemon.send(conn, { type: 'sweep', id: 1, urgency: 'low', deadline_ms: 5000 });
  const busy = await request(daemon, conn, { type: 'sweep', urgency: 'low', deadline_ms: 5000 });
  assert.equal(busy.type, 'error');
  assert.equal(busy.code, 'busy');
  const none = await request(daemon, conn, { type: 'compact', urgency: 'low', deadline_ms: 5000 });
  assert.equal(none.code, 'action_failed');
  await daemon.frame(conn, (f) => f.type === 'action_result' && f.id === 1);
});

test('a handler that throws yields ok=false with the error, and the bot goes on', async (t) => {
  const { daemon, client } = await setup(t);
  client.onCompact(() => {
    throw new TypeError('cache is frozen');
  });
  const conn = await daemon.connection(0);
  const r = await request(daemon, conn, { type: 'compact', urgency: 'critical', deadline_ms: 5000 });
  assert.equal(r.ok, false);
  assert.match(r.error, /compact handler threw: TypeError: cache is frozen/);
  const pong = await request(daemon, conn, { type: 'ping' });
  assert.equal(pong.type, 'pong');
});

test('shutdown: ack at once, then the bot handler runs', async (t) => {
  const { daemon, client } = await setup(t);
  let called = null;
  client.onShutdown(async (req) => {
    called = req;
  });
  const conn = await daemon.connection(0);
  const ack = await request(daemon, conn, { type: 'shutdown', deadline_ms: 3000, reason: 'limit' });
  assert.equal(ack.type, 'ack');
  await daemon.waitFor(() => called, 3000, 'shutdown handler');
  assert.deepEqual(called, { deadlineMs: 3000, reason: 'limit' });
});

test('event() sends a warning for the journal', async (t) => {
  const { daemon, client } = await setup(t);
  const conn = await daemon.connection(0);
  await daemon.waitFor(() => client.connected, 3000, 'connected');
  assert.equal(client.event('warn', 'sweep slow', { cache: 'messages', n: 3 }), true);
  const ev = await daemon.frame(conn, (f) => f.type === 'event');
  assert.deepEqual(ev, { type: 'event', level: 'warn', message: 'sweep slow', fields: { cache: 'messages', n: '3' } });
});

for (const [name, frame, code] of [
  ['not JSON', 'this is not json', 'bad_json'],
  ['a field out of range', '{"type":"trim","id":1,"urgency":"high","deadline_ms":0}', 'out_of_range'],
  ['a second welcome', '{"type":"welcome","version":{"major":1,"minor":0},"pid":1,"name":"x"}', 'unexpected_message'],
  ['an oversize line', 'x'.repeat(70000), 'frame_too_large'],
]) {
  test(`a malformed frame from the daemon (${name}) gets error ${code}, close, reconnect`, async (t) => {
    const { daemon, logs } = await setup(t);
    const conn = await daemon.connection(0);
    await daemon.frame(conn, (f) => f.type === 'stats');
    daemon.send(conn, frame);
    const err = await daemon.frame(conn, (f) => f.type === 'error');
    assert.equal(err.code, code, err.message);
    assert.equal(err.id, undefined);
    await daemon.waitFor(() => conn.closed, 3000, 'the client closes');
    const again = await daemon.connection(1, 5000);
    assert.equal(again.frames[0].type, 'hello');
    assert.ok(logs.some((l) => l.includes('event=memvisor_protocol_error') && l.includes(`code=${code}`)), logs.join('\n'));
  });
}

test('a welcome of another major version is refused with incompatible_version', async (t) => {
  const { daemon } = await setup(t, { daemonOptions: { welcome: false } });
  const conn = await daemon.connection(0);
  daemon.send(conn, { type: 'welcome', version: { major: 2, minor: 0 }, pid: 1, name: 'amayo' });
  const err = await daemon.frame(conn, (f) => f.type === 'error');
  assert.equal(err.code, 'incompatible_version');
  await daemon.waitFor(() => conn.closed, 3000, 'closed');
});

test('memvisord going away and coming back: the client reconnects and handshakes again', async (t) => {
  const { daemon, client, socketPath } = await setup(t);
  await daemon.connection(0);
  await daemon.waitFor(() => client.connected, 3000, 'connected');
  await daemon.close();
  fs.rmSync(socketPath, { force: true });
  await sleep(300); // a few refused attempts while memvisord is down
  assert.equal(client.connected, false);
  const second = new FakeDaemon(socketPath);
  await second.listen();
  t.after(() => second.close());
  const conn = await second.connection(0, 8000);
  assert.equal(conn.frames[0].type, 'hello');
  const pong = await request(second, conn, { type: 'ping' });
  assert.equal(pong.type, 'pong');
});

test('no memvisord at all: the client keeps retrying and never keeps the process alive', async () => {
  const dir = tempDir('absent');
  const script = `
    const { MemvisorClient } = require(${JSON.stringify(clientDir)});
    new MemvisorClient({ socketPath: ${JSON.stringify(path.join(dir, 'none.sock'))}, name: 'x' }).start();
    setTimeout(() => {}, 700); // the bot's own work: 0.7 s, then nothing is left
  `;
  const t0 = Date.now();
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, stderr);
  assert.ok(Date.now() - t0 < 5000, 'exited once the bot had nothing left to do');
  assert.match(stderr, /event=memvisor_connect_failed .*attempt=0/);
});

test('backoffDelay: capped exponential with jitter in the upper half, 100 ms .. 5 s', () => {
  assert.equal(backoffDelay(0, () => 0), 50);
  assert.equal(backoffDelay(0, () => 1), 100);
  assert.equal(backoffDelay(3, () => 1), 800);
  assert.equal(backoffDelay(6, () => 1), 5000);
  assert.equal(backoffDelay(1000, () => 0.999999), 5000);
  assert.equal(backoffDelay(1000, () => 0), 2500);
});

test('a daemon that never answers hello: the client gives up after the handshake timeout and retries', async (t) => {
  const { daemon, logs } = await setup(t, { daemonOptions: { welcome: false }, clientOptions: { handshakeTimeoutMs: 300 } });
  const first = await daemon.connection(0);
  await daemon.waitFor(() => first.closed, 3000, 'the client closes the silent connection');
  await daemon.connection(1, 5000);
  assert.ok(logs.some((l) => l.includes('reason=handshake_timeout')), logs.join('\n'));
});

test('sweepLifetimeSeconds scales the lifetime by urgency like the reference bot', () => {
  const { sweepLifetimeSeconds } = loadClient();
  assert.deepEqual(['low', 'normal', 'high', 'critical'].map((u) => sweepLifetimeSeconds(900, u)), [900, 450, 225, 0]);
});

test('the seed memory monitor line, and its helper printing every MEMORY_LOG_INTERVAL_SECONDS', async () => {
  const { formatMemLine, startMemoryMonitor } = loadClient();
  const MB = 1024 * 1024;
  assert.equal(
    formatMemLine({ rss: 156.2 * MB, heapUsed: 89.4 * MB, heapTotal: 112.1 * MB, external: 8.3 * MB }, 1.24),
    '[MEM] rss=156.2MB heapUsed=89.4MB heapTotal=112.1MB ext=8.3MB evLoopDelay=1.24ms',
  );
  const lines = [];
  const stop = startMemoryMonitor({ intervalSeconds: 0.05, log: (l) => lines.push(l) });
  await sleep(300);
  stop();
  assert.ok(lines.length >= 2, `${lines.length} lines`);
  assert.match(lines[0], /^\[MEM\] rss=\d+\.\dMB heapUsed=\d+\.\dMB heapTotal=\d+\.\dMB ext=\d+\.\dMB evLoopDelay=\d+\.\d\dms$/);
  assert.equal(startMemoryMonitor({ intervalSeconds: 0 })(), undefined, 'off when 0');
});

test('shutdown in a real bot process: ack, the bot handler runs, the process exits 0', async (t) => {
  const dir = tempDir('shutdown');
  const socketPath = path.join(dir, 'bot.sock');
  const daemon = new FakeDaemon(socketPath);
  await daemon.listen();
  t.after(async () => {
    await daemon.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const script = `
    const { MemvisorClient } = require(${JSON.stringify(clientDir)});
    const keepAlive = setInterval(() => {}, 1000); // the bot's gateway connection
    new MemvisorClient({ socketPath: ${JSON.stringify(socketPath)} })
      .onShutdown(async ({ reason }) => { clearInterval(keepAlive); process.stdout.write('destroyed: ' + reason + '\\n'); })
      .start();
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const conn = await daemon.connection(0);
  daemon.send(conn, { type: 'shutdown', id: 9, deadline_ms: 5000, reason: 'limit exceeded' });
  const code = await exited;
  assert.equal(code, 0, out);
  assert.ok(conn.frames.some((f) => f.type === 'ack' && f.id === 9), 'ack sent before exiting');
  assert.match(out, /destroyed: limit exceeded/);
});

test('the package loads from ESM with named exports', async () => {
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    `import { MemvisorClient, connect } from ${JSON.stringify(path.join(clientDir, 'index.js'))}; process.stdout.write(typeof MemvisorClient + typeof connect);`],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  assert.equal(await new Promise((r) => child.on('exit', r)), 0);
  assert.equal(out, 'functionfunction');
});

test('a throwing listener or log sink never takes the bot down', async (t) => {
  const { daemon, client } = await setup(t, { clientOptions: { log: () => { throw new Error('sink down'); } } });
  client.on('connected', () => {
    throw new Error('listener bug');
  });
  client.on('action', () => {
    throw new Error('listener bug');
  });
  const conn = await daemon.connection(0);
  const r = await request(daemon, conn, { type: 'sweep', urgency: 'low', deadline_ms: 5000 });
  assert.equal(r.ok, true);
  const pong = await request(daemon, conn, { type: 'ping' });
  assert.equal(pong.type, 'pong');
  assert.equal(daemon.conns.length, 1, 'still the first connection');
});
