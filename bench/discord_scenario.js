'use strict';
// The discord.js scenario of issue 9, end to end: memvisord (a real one) spawns a real
// discord.js 14 bot (bot/node/scenario/discord_bot.js) fed synthetic gateway traffic through
// discord.js's own handlers, in the memory cgroup memvisord creates, under the `prod` profile.
// Samples the bot's RSS every second from /proc, follows memvisord's journal, and reports:
// peak RSS, seconds above the limit, crashes, restarts, OOM kills, entries kept after each
// action, and memvisord's freed figures (its own samples) against the bot's.
//
//   node bench/discord_scenario.js --memvisord build/ci/supervisor/memvisord/memvisord \
//        [--seconds 600] [--rate 3000] [--limit 384MiB] [--caches unlimited] [--json FILE]
//
// Used by bench/discord_long_run.sh (10 min) and tests/node/discord_scenario.test.js (short).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const repo = path.resolve(__dirname, '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MiB = 1048576;

// Where the bot's memory cgroup would go: under this process's own v1 memory cgroup.
function memoryCgroupProblem() {
  let line;
  try {
    line = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  } catch (e) {
    return `cannot read /proc/self/cgroup: ${e.message}`;
  }
  if (!line) return 'no cgroup v1 memory controller (the bot would run without a kernel limit)';
  const dir = path.join('/sys/fs/cgroup/memory', line.split(':')[2]);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    return `memory cgroup ${dir} is not writable`;
  }
  return '';
}

function journal(text) {
  const out = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      const e = JSON.parse(l);
      if (e.kind) out.push(e);
    } catch {
      // a bot's own output line
    }
  }
  return out;
}

function rssOf(pid) {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return null;
  }
}

async function run(opts) {
  const o = { seconds: 600, rate: 3000, limit: '', caches: 'unlimited', profile: 'prod', progress: 10, ...opts };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memvisor-discord-'));
  const log = path.join(dir, 'memvisord.log');
  const q = JSON.stringify;
  const limitLine = o.limit ? [`    limit: ${o.limit}`] : [];
  fs.writeFileSync(path.join(dir, 'memvisord.yaml'), [
    'daemon:',
    `  bot_socket: ${q(path.join(dir, 'bot.sock'))}`,
    `  control_socket: ${q(path.join(dir, 'ctl.sock'))}`,
    'bots:',
    '  - name: discordbot',
    `    profile: ${o.profile}`,
    ...limitLine,
    '    spawn:',
    `      command: [${q(process.execPath)}, --expose-gc, ${q(path.join(repo, 'bot/node/scenario/discord_bot.js'))}]`,
    '      env:',
    `        SCENARIO_RATE: "${o.rate}"`,
    `        SCENARIO_CACHES: ${o.caches}`,
    `        SCENARIO_PROGRESS_SECONDS: "${o.progress}"`,
    '',
  ].join('\n'));
  const fd = fs.openSync(log, 'w');
  const daemon = spawn(o.memvisord, ['--config', path.join(dir, 'memvisord.yaml'), '--log-format', 'json'], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  let exited = false;
  daemon.on('exit', () => (exited = true));
  const text = () => fs.readFileSync(log, 'utf8');

  const samples = []; // [t, pid, rss]
  const t0 = Date.now();
  let limitBytes = null;
  try {
    while (Date.now() - t0 < o.seconds * 1000 && !exited) {
      await sleep(1000);
      const j = journal(text());
      const spawns = j.filter((e) => e.kind === 'spawn');
      const pid = spawns.length ? Number(spawns[spawns.length - 1].pid) : null;
      if (pid) samples.push([(Date.now() - t0) / 1000, pid, rssOf(pid)]);
    }
  } finally {
    daemon.kill('SIGTERM');
    for (let i = 0; i < 300 && !exited; i++) await sleep(100);
    if (!exited) daemon.kill('SIGKILL');
  }
  const all = text();
  const j = journal(all);
  const cfg = j.find((e) => e.kind === 'config' || e.limit);
  limitBytes = Number((j.find((e) => e.limit) || {}).limit) || (o.limit ? parseSize(o.limit) : 384 * MiB);
  const rss = samples.map((s) => s[2]).filter((v) => v !== null);
  const actions = j.filter((e) => e.kind === 'action' && e.result);
  // Entries kept after each action: the bot prints `[scenario] action=... {"messages":"b->a",...}`.
  const kept = [];
  for (const m of all.matchAll(/\[scenario\] action=(\w+) ok=(\w+) freed=(-?\d+) heap_freed=(-?\d+|undefined) target_met=(\w+) (\{.*\})/g)) {
    const counts = JSON.parse(m[6]);
    let before = 0;
    let after = 0;
    for (const v of Object.values(counts)) {
      const [b, a] = v.split('->').map(Number);
      before += b;
      after += a;
    }
    kept.push({ action: m[1], before, after, fraction: before ? after / before : 1, target_met: m[5] });
  }
  const freed = actions.filter((e) => e.after !== undefined).map((e) => {
    const daemonFreed = Number(e.freed);
    const botFreed = Number(e.bot_freed);
    return { action: e.action, daemon: daemonFreed, bot: botFreed, heap: e.heap_freed !== undefined ? Number(e.heap_freed) : null,
      target: e.target_bytes !== undefined ? Number(e.target_bytes) : null,
      within10: Math.abs(botFreed - daemonFreed) <= 0.1 * Math.max(Math.abs(daemonFreed), 1),
      // Below the settle rules' quiet step (256 KiB, in memvisord and in the client) the two
      // readings of RSS differ by noise: the kernel batches a thread's RSS counter updates.
      withinNoise: Math.abs(botFreed - daemonFreed) <= Math.max(0.1 * Math.abs(daemonFreed), 256 * 1024) };
  });
  const exits = j.filter((e) => e.kind === 'exit');
  const crashes = exits.filter((e) => e.status !== 'exit 0');
  const heapCrashes = (all.match(/FATAL ERROR:[^\n]*JavaScript heap out of memory/g) || []).length;
  const report = {
    seconds: Math.round((Date.now() - t0) / 1000), rate: o.rate, caches: o.caches, profile: o.profile, limit_bytes: limitBytes,
    samples: samples.length, peak_rss_bytes: rss.length ? Math.max(...rss) : null,
    seconds_above_limit: rss.filter((v) => v > limitBytes).length,
    crashes: crashes.length, heap_crashes: heapCrashes, restarts: j.filter((e) => e.kind === 'restart').length,
    oom_kills: j.filter((e) => e.kind === 'oom_kill').reduce((n, e) => n + Number(e.count || 1), 0),
    actions: actions.map((e) => `${e.action}:${e.result}`), kept, freed,
    min_kept_fraction: kept.length ? Math.min(...kept.map((k) => k.fraction)) : null,
    freed_within_10pct: freed.filter((f) => f.within10).length,
    freed_within_10pct_or_256k: freed.filter((f) => f.withinNoise).length,
    cgroup: (j.find((e) => e.kind === 'spawn') || {}).msg || '',
    dir, log,
  };
  void cfg;
  return report;
}

function parseSize(s) {
  const m = /^(\d+)(MiB|M)$/.exec(s);
  return m ? Number(m[1]) * MiB : 0;
}

function print(r) {
  const mib = (b) => (b === null ? '-' : `${(b / MiB).toFixed(1)} MiB`);
  const lines = [
    `duration ${r.seconds} s, ${r.rate} msg/s, caches ${r.caches}, profile ${r.profile}, limit ${mib(r.limit_bytes)}, ${r.samples} RSS samples (1/s)`,
    `peak RSS ${mib(r.peak_rss_bytes)}; seconds above the limit ${r.seconds_above_limit}`,
    `crashes ${r.crashes} (heap out of memory: ${r.heap_crashes}); restarts ${r.restarts}; OOM kills ${r.oom_kills}`,
    `actions (${r.actions.length}): ${r.actions.join(' ')}`,
    'entries kept after each action (bot):',
    ...r.kept.map((k) => `  ${k.action}: ${k.after}/${k.before} (${(100 * k.fraction).toFixed(0)}%) target_met=${k.target_met}`),
    "freed: memvisord's samples vs the bot's figure (heap):",
    ...r.freed.map((f) => `  ${f.action}: memvisord ${mib(f.daemon)}, bot ${mib(f.bot)}, heap ${mib(f.heap)}, target ${mib(f.target)} ${f.within10 ? 'within 10%' : f.withinNoise ? 'within 256 KiB' : 'OFF by >10%'}`),
    `min kept fraction ${r.min_kept_fraction === null ? '-' : r.min_kept_fraction.toFixed(2)}; freed figures within 10%: ${r.freed_within_10pct}/${r.freed.length}, within 10% or 256 KiB: ${r.freed_within_10pct_or_256k}/${r.freed.length}`,
    `journal: ${r.log}`,
  ];
  return lines.join('\n');
}

module.exports = { run, print, memoryCgroupProblem };

if (require.main === module) {
  const args = process.argv.slice(2);
  const opts = {};
  for (let i = 0; i < args.length; i += 2) opts[args[i].replace(/^--/, '')] = args[i + 1];
  for (const k of ['seconds', 'rate', 'progress']) if (opts[k]) opts[k] = Number(opts[k]);
  if (!opts.memvisord) {
    console.error('usage: node bench/discord_scenario.js --memvisord PATH [--seconds 600] [--rate 3000] [--limit 384MiB] [--caches unlimited] [--json FILE]');
    process.exit(2);
  }
  const problem = memoryCgroupProblem();
  if (problem) console.error(`note: ${problem}`);
  run(opts).then((r) => {
    console.log(print(r));
    if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(r, null, 2));
  });
}
