// Grafana cannot run here, so its dashboard is checked where it can fail for real: every
// panel's PromQL goes through a real Prometheus that scrapes a real memvisord supervising the
// reference bot through trim, sweep and compact, and each must return data.
//   node tests/deploy/dashboard_queries.mjs MEMVISORD MEMVISOR_BOT PROMETHEUS DASHBOARD_JSON
// Also checks that the dashboard's data source is the one deploy/grafana provisions.
// Exit 0: every panel has data; 1: a panel without data or a broken dashboard; 77: skipped
// (no prometheus binary).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const [memvisord, bot, prometheus, dashboardPath] = process.argv.slice(2);
if (!fs.existsSync(prometheus)) {
  console.log(`SKIPPED: ${prometheus} not found (Debian package prometheus)`);
  process.exit(77);
}
const dashboard = JSON.parse(fs.readFileSync(dashboardPath, 'utf8'));
const provisioned = fs.readFileSync(
  path.join(path.dirname(dashboardPath), '..', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
const problems = [];
const uid = /uid:\s*(\S+)/.exec(provisioned)?.[1];

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memvisor-dashboard-'));
const children = [];
function start(cmd, args, log) {
  const out = fs.openSync(path.join(dir, log), 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
  children.push(child);
  return child;
}
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('exit', () => {
  cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function query(promPort, expr) {
  const url = `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const body = await res.json();
    if (body.status !== 'success') return { error: body.error || `HTTP ${res.status}` };
    return { result: body.data.result };
  } catch (e) {
    return { error: e.message };
  }
}

const metricsPort = await freePort();
const promPort = await freePort();
fs.writeFileSync(path.join(dir, 'memvisord.yaml'), `daemon:
  bot_socket: ${dir}/bot.sock
  control_socket: ${dir}/ctl.sock
  metrics_listen: 127.0.0.1:${metricsPort}
bots:
  - name: refbot
    profile: prod
    limit: 96MiB
    startup_grace: 1s
    poll: {min: 100ms, max: 1s}
    thresholds:
      - {at: 70%, action: trim, for: 2 samples, cooldown: 3s}
      - {at: 80%, action: sweep, for: 2 samples, cooldown: 3s}
      - {at: 90%, action: compact, for: 2 samples, cooldown: 3s}
      - {at: 100%, action: restart, for: 10s}
    spawn:
      command: [${bot}, --bloat, --rate, "8000", --progress-interval, "0"]
`);
fs.writeFileSync(path.join(dir, 'prometheus.yml'), `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: memvisord
    static_configs: [{targets: ["127.0.0.1:${metricsPort}"]}]
`);
const daemon = start(memvisord, ['--config', path.join(dir, 'memvisord.yaml')], 'memvisord.log');
start(prometheus, [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/tsdb`,
  `--web.listen-address=127.0.0.1:${promPort}`], 'prometheus.log');

// Until an action has freed memory and Prometheus has seen it (its first sample is
// queryable ~5 s after start).
const deadline = Date.now() + 90_000;
let ready = false;
while (Date.now() < deadline && daemon.exitCode === null) {
  // Goal-directed sweeps (protocol 1.1) usually keep the bot below compact: any action
  // that freed memory will do, with the bot running and its memory series present.
  const freed = await query(promPort, 'memvisor_freed_bytes_total{bot="refbot"} > 0');
  const running = await query(promPort, 'memvisor_bot_memory_bytes{bot="refbot",figure="rss"}');
  if (freed.result && freed.result.length && running.result && running.result.length) {
    ready = true;
    break;
  }
  await sleep(1000);
}
if (!ready) {
  console.log('no action that freed memory seen through Prometheus within 90 s; memvisord log:');
  console.log(fs.readFileSync(path.join(dir, 'memvisord.log'), 'utf8').split('\n').slice(-30).join('\n'));
  process.exit(1);
}
await sleep(3000);  // one more scrape after the action, for the increase() windows

// Grafana's variables as a user with bot=All and a 30 s step would have them.
const substitute = (expr) => expr
  .replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '30s').replaceAll('$bot', '.*');

for (const v of dashboard.templating?.list ?? []) {
  const q = typeof v.query === 'string' ? v.query : v.query?.query;
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q ?? '');
  if (!m) {
    problems.push(`variable ${v.name}: expected label_values(metric, label), got ${q}`);
    continue;
  }
  const r = await query(promPort, m[1]);
  const values = new Set((r.result ?? []).map((s) => s.metric[m[2]]));
  if (!values.has('refbot')) problems.push(`variable ${v.name}: ${q} does not list refbot`);
  else console.log(`variable ${v.name}: ${q} -> ${[...values].join(', ')}`);
}
for (const panel of dashboard.panels) {
  if (panel.datasource?.uid !== uid) {
    problems.push(`panel "${panel.title}": data source uid ${panel.datasource?.uid}, provisioned is ${uid}`);
  }
  if (!panel.targets?.length) problems.push(`panel "${panel.title}": no queries`);
  for (const t of panel.targets ?? []) {
    const expr = substitute(t.expr);
    const r = await query(promPort, expr);
    if (r.error) {
      problems.push(`panel "${panel.title}" ${t.refId}: ${expr}: ${r.error}`);
    } else if (!r.result.length) {
      problems.push(`panel "${panel.title}" ${t.refId}: ${expr}: no data`);
    } else {
      const sample = r.result.slice(0, 3).map((s) => `${JSON.stringify(s.metric)}=${s.value[1]}`).join(' ');
      console.log(`ok  "${panel.title}" ${t.refId}: ${r.result.length} series  ${expr}\n      ${sample}`);
    }
  }
}
for (const p of problems) console.log(`FAIL ${p}`);
process.exit(problems.length ? 1 : 0);
