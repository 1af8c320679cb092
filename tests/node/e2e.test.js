'use strict';
// End to end: memvisord spawns a Node.js bot that uses memvisor-client; memvisorctl's sweep
// (or, without memvisorctl, the journal) shows the action reached the bot's JS handler and
// came back measured; memvisord's SIGTERM reaches the bot as shutdown and it exits 0.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFile } = require('node:child_process');
const { tempDir } = require('./fixtures/fake_daemon');
const { clientDir } = require('./fixtures/env');

const memvisord = process.env.MEMVISORD_BIN;
const memvisorctl = process.env.MEMVISORCTL_BIN;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function journal(logPath) {
  return fs
    .readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return null;
      }
    })
    .filter((e) => e && e.kind);
}

async function waitFor(fn, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function ctl(args) {
  return new Promise((resolve) => {
    execFile(memvisorctl, args, { timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, out: stdout + stderr });
    });
  });
}

// Writes a memvisord config (the sockets in `dir`, `daemonLines` after them, one bot named
// `name` running fixtures/bloat_bot.js with `botLines` and BLOAT_MIB), starts memvisord on it
// with a JSON journal in dir/memvisord.log, and registers the cleanup: SIGKILL to memvisord
// and to every bot it spawned if the test left them running, then the temp dir goes.
// Returns { daemon, log, exited() }.
function startMemvisord(t, dir, { name, bloatMib, daemonLines = [], botLines = [] }) {
  const log = path.join(dir, 'memvisord.log');
  const q = JSON.stringify;
  fs.writeFileSync(path.join(dir, 'memvisord.yaml'), [
    'daemon:',
    `  bot_socket: ${q(path.join(dir, 'bot.sock'))}`,
    `  control_socket: ${q(path.join(dir, 'ctl.sock'))}`,
    ...daemonLines,
    'bots:',
    `  - name: ${name}`,
    '    limit: 512MiB',
    ...botLines,
    '    spawn:',
    `      command: [${q(process.execPath)}, --expose-gc, ${q(path.join(__dirname, 'fixtures/bloat_bot.js'))}]`,
    '      env:',
    `        MEMVISOR_NODE_CLIENT_DIR: ${q(clientDir)}`,
    `        BLOAT_MIB: "${bloatMib}"`,
    '',
  ].join('\n'));
  const out = fs.openSync(log, 'w');
  const daemon = spawn(memvisord, ['--config', path.join(dir, 'memvisord.yaml'), '--log-format', 'json'], {
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  let exited = false;
  daemon.on('exit', () => (exited = true));
  t.after(async () => {
    if (!exited) {
      daemon.kill('SIGKILL');
      for (const e of journal(log).filter((x) => x.kind === 'spawn')) {
        try {
          process.kill(-Number(e.pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { daemon, log, exited: () => exited };
}

test('memvisord drives a Node.js bot: sweep reaches the JS handler, shutdown exits 0', {
  skip: !memvisord && 'MEMVISORD_BIN not set (memvisord is not built)', timeout: 60000,
}, async (t) => {
  const dir = tempDir('e2e');
  const { daemon, log, exited } = startMemvisord(t, dir, { name: 'nodebot', bloatMib: 40 });

  const session = await waitFor(() => journal(log).find((e) => e.kind === 'session' && /connected/.test(e.msg)), 30000, 'the bot session');
  assert.equal(session.capabilities, 'trim,sweep,compact,stats,events,shutdown');

  if (memvisorctl) {
    const r = await ctl(['--socket', path.join(dir, 'ctl.sock'), 'sweep', 'nodebot']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^nodebot: swept /m);
    const tr = await ctl(['--socket', path.join(dir, 'ctl.sock'), 'trim', 'nodebot']);
    assert.equal(tr.code, 0, tr.out);
    assert.match(tr.out, /^nodebot: trimmed /m);
  } else {
    t.diagnostic('MEMVISORCTL_BIN not set: checking the journal only after memvisord acts on its own');
  }
  const text = () => fs.readFileSync(log, 'utf8');
  if (memvisorctl) {
    await waitFor(() => /sweep-handler urgency=normal entries_before=\d+ entries_after=\d+/.test(text()), 5000, 'the JS sweep handler');
    const action = journal(log).find((e) => e.kind === 'action' && e.action === 'sweep');
    assert.ok(action, text());
    assert.equal(action.result, 'ok');
    assert.match(action.freed, /^-?\d+$/);
    const trim = journal(log).find((e) => e.kind === 'action' && e.action === 'trim');
    assert.equal(trim.result, 'ok');
  }

  daemon.kill('SIGTERM');
  await waitFor(exited, 30000, 'memvisord to exit');
  const exit = journal(log).find((e) => e.kind === 'exit');
  assert.ok(exit, text());
  assert.equal(exit.status, 'exit 0', 'the bot obeyed shutdown and exited 0');
  assert.match(text(), /event=memvisor_shutdown /);
});

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = require('node:net').createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function httpGet(port, urlPath) {
  return new Promise((resolve) => {
    require('node:http')
      .get({ host: '127.0.0.1', port, path: urlPath, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', () => resolve(''));
  });
}

// The value of the exposed sample `series value` (series exactly as Prometheus prints it).
function metric(body, series) {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('status --json and /metrics carry a Node.js bot\'s heap, event-loop lag and caches', {
  skip: (!memvisord && 'MEMVISORD_BIN not set (memvisord is not built)') ||
    (!memvisorctl && 'MEMVISORCTL_BIN not set (memvisorctl is not built)'),
  timeout: 60000,
}, async (t) => {
  const dir = tempDir('e2e-figures');
  const port = await freePort();
  const { daemon, log, exited } = startMemvisord(t, dir, {
    name: 'nodefigs',
    bloatMib: 20,
    daemonLines: [`  metrics_listen: 127.0.0.1:${port}`],
    botLines: ['    stats_interval: 200ms', '    liveness: {every: 500ms, deadline: 500ms, misses: 3}'],
  });
  await waitFor(() => journal(log).find((e) => e.kind === 'session'), 30000, 'the bot session');

  const ctlSock = path.join(dir, 'ctl.sock');
  let bot;
  const end = Date.now() + 20000;
  for (;;) {
    const r = await ctl(['--socket', ctlSock, 'status', 'nodefigs', '--json']);
    if (r.code === 0) {
      bot = JSON.parse(r.out).bots[0];
      const bs = bot.bot_stats;
      if (bs && bs.caches && bs.caches.messages > 0 && bs.event_loop_lag_ms !== undefined && bot.liveness === 'ok') break;
    }
    if (Date.now() > end) assert.fail(`no figures from the Node.js bot in status: ${JSON.stringify(bot)}`);
    await sleep(200);
  }
  const bs = bot.bot_stats;
  assert.equal(bs.stale, false);
  assert.ok(bs.age_ms < 2000, `age ${bs.age_ms}`);
  assert.ok(bs.heap_used_bytes >= 20 * 1024 * 1024, `heapUsed ${bs.heap_used_bytes}`);
  assert.ok(bs.heap_total_bytes >= bs.heap_used_bytes);
  assert.ok(bs.external_bytes > 0);
  assert.ok(bs.event_loop_lag_ms >= 0);
  assert.ok(typeof bot.ping_ms === 'number');

  const body = await httpGet(port, '/metrics');
  assert.ok(metric(body, 'memvisor_bot_heap_used_bytes{bot="nodefigs"}') >= 20 * 1024 * 1024, body);
  assert.ok(metric(body, 'memvisor_bot_heap_total_bytes{bot="nodefigs"}') > 0, body);
  assert.ok(metric(body, 'memvisor_bot_external_bytes{bot="nodefigs"}') > 0, body);
  assert.ok(metric(body, 'memvisor_bot_event_loop_lag_seconds{bot="nodefigs"}') >= 0, body);
  assert.ok(metric(body, 'memvisor_bot_cache_entries{bot="nodefigs",cache="messages"}') > 0, body);
  assert.equal(metric(body, 'memvisor_bot_hung{bot="nodefigs"}'), 0, body);

  const table = await ctl(['--socket', ctlSock, 'status', 'nodefigs']);
  assert.match(table.out, /HEAP/);
  assert.match(table.out, /\d+\.\d\/\d+\.\d MiB/);

  daemon.kill('SIGTERM');
  await waitFor(exited, 30000, 'memvisord to exit');
});
