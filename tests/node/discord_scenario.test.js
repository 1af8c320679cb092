'use strict';
// Issue 9's scenario, short: a real memvisord spawns a real discord.js 14 bot (fed synthetic
// gateway traffic through discord.js's own handlers, caches unlimited) in a real memory cgroup
// under the prod profile with a 192 MiB limit, so that it acts within seconds. The bot must
// survive (no crash, no restart, no OOM kill), goal-directed actions must keep at least half
// of the cached entries, and memvisord must journal its own freed figure beside the bot's.
// The 10-minute run at 3,000 messages/s is bench/discord_long_run.sh.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { clientDir } = require('./fixtures/env');
const { run, print, memoryCgroupProblem } = require('../../bench/discord_scenario');

const memvisord = process.env.MEMVISORD_BIN;
const skip = !memvisord ? 'MEMVISORD_BIN not set (memvisord is not built)'
  : !fs.existsSync(path.join(clientDir, 'node_modules/discord.js/package.json'))
    ? 'discord.js is not installed in bot/node/node_modules (npm ci --prefix bot/node; bash .ci/bootstrap does)'
    : memoryCgroupProblem() || false;

test('a discord.js bot survives under memvisord: goal-directed actions, entries kept, memvisord measures', { skip, timeout: 120000 }, async (t) => {
  const r = await run({ memvisord, seconds: 45, rate: 1500, limit: '192MiB', progress: 5 });
  t.diagnostic(print(r));
  const text = fs.readFileSync(r.log, 'utf8');
  assert.match(r.cgroup, / in \//, `the bot runs in a memory cgroup memvisord created: ${r.cgroup}`);
  assert.equal(r.heap_crashes, 0, 'no "JavaScript heap out of memory"');
  assert.equal(r.crashes, 0, text.slice(-4000));
  assert.equal(r.oom_kills, 0);
  assert.equal(r.restarts, 0, text.slice(-4000));
  assert.ok(r.freed.length >= 1, `memvisord acted and journalled its own before/after:\n${text.slice(-4000)}`);
  assert.ok(r.freed.some((f) => f.target !== null), 'actions carried a target');
  assert.ok(r.kept.length >= 1, 'the bot reported its caches after each action');
  for (const k of r.kept.filter((x) => x.target_met !== 'undefined')) {
    assert.ok(k.fraction >= 0.5, `a goal-directed ${k.action} kept ${k.after} of ${k.before} entries`);
  }
  fs.rmSync(r.dir, { recursive: true, force: true });
});
