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

test('memvisord drives a Node.js bot: sweep reaches the JS handler, shutdown exits 0', {
  skip: !memvisord && 'MEMVISORD_BIN not set (memvisord is not built)', timeout: 60000,
}, async (t) => {
  const dir = tempDir('e2e');
  const log = path.join(dir, 'memvisord.log');
  const q = JSON.stringify;
  fs.writeFileSync(path.join(dir, 'memvisord.yaml'), [
    'daemon:',
    `  bot_socket: ${q(path.join(dir, 'bot.sock'))}`,
    `  control_socket: ${q(path.join(dir, 'ctl.sock'))}`,
    'bots:',
    '  - name: nodebot',
    '    limit: 512MiB',
    '    spawn:',
    `      command: [${q(process.execPath)}, --expose-gc, ${q(path.join(__dirname, 'fixtures/bloat_bot.js'))}]`,
    '      env:',
    `        MEMVISOR_NODE_CLIENT_DIR: ${q(clientDir)}`,
    '        BLOAT_MIB: "40"',
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
  await waitFor(() => exited, 30000, 'memvisord to exit');
  const exit = journal(log).find((e) => e.kind === 'exit');
  assert.ok(exit, text());
  assert.equal(exit.status, 'exit 0', 'the bot obeyed shutdown and exited 0');
  assert.match(text(), /event=memvisor_shutdown /);
});
