#!/usr/bin/env python3
"""Reaction benchmark: how long memvisord takes to act on a process that crosses its limit.

For each mode x growth rate x (protocol or not), runs memvisor-grower N times under a fresh
memvisord: the grower idles for a random phase, then grows at the rate from --base past the
limit; it records the crossing (its own RSS reaching the limit) and the first reaction (an
action request over the bot socket with the protocol, the stop signal without). Reports
reaction p50/p99/max and overshoot (RSS over the limit at the reaction), and memvisord's own
CPU and RSS with 1, 100 and 1000 idle attached processes. Numbers, not pass/fail.

  python3 bench/reaction.py --build build/ci [--runs 20] [--modes ...] [--rates 50,200,1000]

Modes: spawn_owned (spawn mode, an own memory cgroup: v1 threshold eventfds), spawn_plain
(spawn mode, spawn.cgroup: false: headroom-scheduled poll), attach_pidfile (attach mode by
pidfile, the process in the benchmark's own cgroup, shared with memvisord: poll).
"""
import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

LIMIT_MIB = 96
BASE_MIB = 16
CEILING_MIB = 200   # the grower stops here (the "kernel limit" stand-in)
HARD_CEILING = "150%"  # memvisord's hard-ceiling restart: 144 MiB


def bot_yaml(mode, protocol, grower, result, idle_ms, rate, pidfile, name):
    argv = [grower, "--rate", str(rate), "--limit", str(LIMIT_MIB), "--ceiling", str(CEILING_MIB),
            "--base", str(BASE_MIB), "--idle-ms", str(idle_ms), "--result", result, "--name", name]
    if protocol:
        argv.append("--protocol")
    action = "compact" if protocol else "restart"
    lines = [
        "  - name: %s" % name,
        "    limit: %dMiB" % LIMIT_MIB,
        "    startup_grace: 0s",
        "    hard_ceiling: %s" % HARD_CEILING,
        "    thresholds:",
        "      - {at: 100%%, action: %s, for: 1 samples}" % action,
    ]
    if mode == "attach_pidfile":
        lines += ["    attach: {pidfile: %s, allow_shutdown: true}" % pidfile]
    else:
        lines += ["    spawn:", "      command: %s" % json.dumps(argv)]
        if mode == "spawn_plain":
            lines += ["      cgroup: false"]
    return "\n".join(lines) + "\n", argv


def start_daemon(memvisord, tmp, bots_yaml):
    cfg = os.path.join(tmp, "memvisord.yaml")
    with open(cfg, "w") as f:
        f.write("daemon:\n  bot_socket: %s/bot.sock\n  control_socket: %s/ctl.sock\nbots:\n%s"
                % (tmp, tmp, bots_yaml))
    log = open(os.path.join(tmp, "memvisord.log"), "w")
    return subprocess.Popen([memvisord, "--config", cfg, "--log-format", "json"], stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=os.setpgrp)


def stop(proc, timeout=10):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def journal(tmp):
    out = []
    with open(os.path.join(tmp, "memvisord.log")) as f:
        for line in f:
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def one_run(build, mode, rate, protocol):
    memvisord = os.path.join(build, "supervisor/memvisord/memvisord")
    grower = os.path.join(build, "bench/grower/memvisor-grower")
    with tempfile.TemporaryDirectory(prefix="memvisor-reaction-") as tmp:
        result = os.path.join(tmp, "result.json")
        pidfile = os.path.join(tmp, "g.pid")
        idle_ms = 500 + random.randint(0, 1000)  # connect, then a random phase of the schedule
        # A name of its own per run: its owned cgroup (memvisor-<name>-<tag>) is never a previous run's.
        name = "g%d-%d" % (os.getpid(), random.randint(0, 1 << 30))
        bots, argv = bot_yaml(mode, protocol, grower, result, idle_ms, rate, pidfile, name)
        child = None
        if mode == "attach_pidfile":
            child = subprocess.Popen(argv, env=dict(os.environ, MEMVISOR_SOCKET=tmp + "/bot.sock"))
            with open(pidfile, "w") as f:
                f.write("%d\n" % child.pid)
        d = start_daemon(memvisord, tmp, bots)
        deadline = time.time() + 30
        while time.time() < deadline and not os.path.exists(result):
            time.sleep(0.02)
        time.sleep(0.05)
        res = None
        if os.path.exists(result):
            with open(result) as f:
                res = json.loads(f.read())
        j = journal(tmp)
        stop(d)
        # Every grower this run started (memvisord may have respawned one), if still there: a
        # survivor would keep its cgroup busy and skew the next runs.
        pids = {int(e["pid"]) for e in j if e.get("kind") == "spawn" and e.get("pid")}
        if res and res.get("pid"):
            pids.add(res["pid"])
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL) if mode != "attach_pidfile" else os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if child:
            if child.poll() is None:
                child.kill()
            child.wait()
        det = [e for e in j if e.get("kind") == "detection"]
        first = next((e for e in j if e.get("kind") in ("action", "restart")), None)
        return res, (det[0].get("path") if det else "?"), first


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def idle_cost(build, n, seconds):
    memvisord = os.path.join(build, "supervisor/memvisord/memvisord")
    with tempfile.TemporaryDirectory(prefix="memvisor-idle-") as tmp:
        sleepers = [subprocess.Popen(["sleep", "3600"]) for _ in range(n)]
        bots = ""
        for i, s in enumerate(sleepers):
            pf = os.path.join(tmp, "p%d.pid" % i)
            with open(pf, "w") as f:
                f.write("%d\n" % s.pid)
            bots += "  - name: idle%d\n    limit: 384MiB\n    attach: {pidfile: %s}\n" % (i, pf)
        d = start_daemon(memvisord, tmp, bots)
        time.sleep(10)  # every bot attached and on its schedule
        tck = os.sysconf("SC_CLK_TCK")

        def cpu():
            with open("/proc/%d/stat" % d.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tck
        c0, t0 = cpu(), time.time()
        time.sleep(seconds)
        c1, t1 = cpu(), time.time()
        rss = 0
        with open("/proc/%d/status" % d.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024.0
        attached = sum(1 for e in journal(tmp) if e.get("kind") == "attach")
        stop(d)
        for s in sleepers:
            s.kill()
            s.wait()
        return 100.0 * (c1 - c0) / (t1 - t0), rss, attached


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/ci")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--modes", default="spawn_owned,spawn_plain,attach_pidfile")
    ap.add_argument("--rates", default="50,200,1000")
    ap.add_argument("--protocol", default="yes,no")
    ap.add_argument("--idle", default="1,100,1000")
    ap.add_argument("--idle-seconds", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    random.seed(a.seed)
    print("load average at start: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print("| mode | protocol | MiB/s | runs | path | first action | reaction p50 / p99 / max (ms) "
          "| overshoot p50 / max (MiB) | hard-ceiling restarts |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in [m for m in a.modes.split(",") if m]:
        for proto in a.protocol.split(","):
            for rate in [int(r) for r in a.rates.split(",") if r]:
                reacts, overs, kinds, paths, ceilings = [], [], {}, set(), 0
                for _ in range(a.runs):
                    res, path, first = one_run(a.build, mode, rate, proto == "yes")
                    paths.add(path)
                    if first and first.get("trigger") == "hard_ceiling":
                        ceilings += 1
                    if not res or res["cross_ns"] == 0:
                        kinds["none"] = kinds.get("none", 0) + 1
                        continue
                    kinds[res["kind"]] = kinds.get(res["kind"], 0) + 1
                    reacts.append((res["react_ns"] - res["cross_ns"]) / 1e6)
                    overs.append(max(0, res["rss_at_react"] - res["limit"]) / 1048576.0)
                kind = ", ".join("%s %d" % kv for kv in sorted(kinds.items()))
                print("| %s | %s | %d | %d | %s | %s | %.1f / %.1f / %.1f | %.1f / %.1f | %d |" % (
                    mode, proto, rate, a.runs, "/".join(sorted(paths)), kind, pct(reacts, 50),
                    pct(reacts, 99), max(reacts) if reacts else float("nan"), pct(overs, 50),
                    max(overs) if overs else float("nan"), ceilings), flush=True)
    print()
    print("| idle attached processes | memvisord CPU (%% of a core over %d s) | RSS (MiB) | attached |"
          % a.idle_seconds)
    print("|---|---|---|---|")
    for n in [int(x) for x in a.idle.split(",") if x]:
        c, r, att = idle_cost(a.build, n, a.idle_seconds)
        print("| %d | %.3f | %.1f | %d |" % (n, c, r, att), flush=True)
    print("load average at end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    sys.exit(main())
