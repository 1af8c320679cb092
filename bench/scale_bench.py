#!/usr/bin/env python3
"""One memvisord, many bots: what a bot costs memvisord, measured on a real daemon.

For each scenario (10, 100, 1,000 idle bots; 1,000 bots of which 5 % grow), starts a real
memvisord in a temp dir with that many spawned bots and reports:

  start_s         memvisord launched -> every bot has a pid in `memvisorctl status --json`
  start_journal_ms  memvisord's own "started N bot(s) in X ms" (first bot to last spawn)
  cpu_pct         memvisord's CPU (user+sys, % of one core) over --duration s once all run
  rss_mib         memvisord's VmRSS, median of one reading a second (and the max)
  fds             memvisord's open files once all run (and per bot)
  status_ms       wall time of a whole `memvisorctl status` run (connect, handshake,
                  answer, table), median and p90 of --repeat runs; same for `status --json`
  scrape_ms       wall time of one GET /metrics (the endpoint is on, as in production),
                  median of --repeat scrapes taken after the steady state; scrape_kib and
                  series: the size of one answer and its samples

Idle bots are `/bin/sleep`; growing bots are the reference bot leaking --grow-rate a second
under a 64 MiB limit, so they cross thresholds, get actions and restarts during the run.
Numbers are reported, never asserted (the machine may be shared: the load average is
printed with them). Usage:

  bench/scale_bench.py --build build/ci [--scenarios 10,100,1000,1000g] [--duration 60]
"""
import argparse
import json
import os
import socket
import urllib.request
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(d, n, growing, bot_bin, grow_rate, port):
    lines = ["daemon:", f"  bot_socket: {d}/bot.sock", f"  control_socket: {d}/ctl.sock",
             f"  metrics_listen: 127.0.0.1:{port}", "bots:"]
    for i in range(1, n + 1):
        lines.append(f"  - name: b{i:04d}")
        if i <= growing:
            lines += ["    limit: 64MiB", "    spawn:",
                      f"      command: [{bot_bin}, --rate, \"0\", --leak, {grow_rate},"
                      " --progress-interval, \"0\"]"]
        else:
            lines += ["    limit: 384MiB", "    spawn:", "      command: [/bin/sleep, \"86400\"]"]
    path = os.path.join(d, "memvisord.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def ctl(ctl_bin, d, *args, timeout=30):
    t0 = time.monotonic()
    r = subprocess.run([ctl_bin, "--socket", f"{d}/ctl.sock", *args], capture_output=True,
                       text=True, timeout=timeout)
    return r, (time.monotonic() - t0) * 1000.0


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run_scenario(name, n, growing, args):
    d = tempfile.mkdtemp(prefix=f"memvisor-scale-{name}-")
    port = free_port()
    cfg = write_config(d, n, growing, args.bot, args.grow_rate, port)
    log = open(os.path.join(d, "memvisord.log"), "w")
    t0 = time.monotonic()
    daemon = subprocess.Popen([args.memvisord, "--config", cfg, "--log-format", "json"],
                              stdout=log, stderr=log, start_new_session=True)
    out = {"scenario": name, "bots": n, "growing": growing, "load_before": loadavg()}
    try:
        # Up: every bot has a pid (the control socket appears after the bot socket).
        start_s = None
        while time.monotonic() - t0 < args.start_timeout:
            if daemon.poll() is not None:
                raise RuntimeError(f"memvisord exited: see {d}/memvisord.log")
            if os.path.exists(f"{d}/ctl.sock"):
                r, _ = ctl(args.memvisorctl, d, "status", "--json")
                if r.returncode == 0:
                    bots = json.loads(r.stdout)["bots"]
                    if len(bots) == n and all(b.get("pid", 0) > 0 for b in bots):
                        start_s = time.monotonic() - t0
                        break
            time.sleep(0.1)
        out["start_s"] = round(start_s, 2) if start_s is not None else None
        out["start_journal_ms"] = None
        with open(os.path.join(d, "memvisord.log")) as f:
            for line in f:
                if '"kind":"start"' in line and "start_ms" in line:
                    out["start_journal_ms"] = int(json.loads(line)["start_ms"])
        time.sleep(args.settle)
        # Steady state.
        pid = daemon.pid
        c0, w0 = cpu_ticks(pid), time.monotonic()
        rss = []
        while time.monotonic() - w0 < args.duration:
            rss.append(rss_kib(pid))
            time.sleep(1.0)
        c1, w1 = cpu_ticks(pid), time.monotonic()
        out["cpu_pct"] = round(100.0 * (c1 - c0) / HZ / (w1 - w0), 2)
        out["rss_mib_median"] = round(statistics.median(rss) / 1024.0, 1)
        out["rss_mib_max"] = round(max(rss) / 1024.0, 1)
        out["fds"] = fd_count(pid)
        out["fds_per_bot"] = round(out["fds"] / n, 2)
        for label, extra in (("status", []), ("status_json", ["--json"])):
            times = []
            for _ in range(args.repeat):
                r, ms = ctl(args.memvisorctl, d, "status", *extra)
                if r.returncode != 0:
                    raise RuntimeError(f"memvisorctl status {extra}: {r.stderr.strip()}")
                times.append(ms)
            out[f"{label}_ms_median"] = round(statistics.median(times), 1)
            out[f"{label}_ms_p90"] = round(pct(times, 0.9), 1)
        times = []
        for _ in range(args.repeat):
            t0 = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
                body = resp.read()
            times.append((time.monotonic() - t0) * 1000.0)
        out["scrape_ms_median"] = round(statistics.median(times), 1)
        out["scrape_kib"] = round(len(body) / 1024.0)
        out["series"] = sum(1 for line in body.decode().splitlines()
                            if line.startswith("memvisor_"))
        r, _ = ctl(args.memvisorctl, d, "status", "--json")
        bots = json.loads(r.stdout)["bots"]
        out["listed"] = len(bots)
        out["restarts"] = sum(b.get("restarts", 0) for b in bots)
        out["actions"] = sum(1 for b in bots if b.get("last_action"))
        out["load_after"] = loadavg()
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
        log.close()
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build/ci", help="CMake build dir with the binaries")
    p.add_argument("--scenarios", default="10,100,1000,1000g",
                   help="comma-separated bot counts; suffix g: 5%% of them grow")
    p.add_argument("--duration", type=float, default=60, help="seconds of steady state")
    p.add_argument("--settle", type=float, default=5, help="seconds after all bots are up")
    p.add_argument("--repeat", type=int, default=15, help="memvisorctl status runs")
    p.add_argument("--grow-rate", default="1MiB", help="leak per second of a growing bot")
    p.add_argument("--start-timeout", type=float, default=300)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--keep", action="store_true", help="keep the temp dirs (logs)")
    args = p.parse_args()
    args.memvisord = os.path.join(args.build, "supervisor/memvisord/memvisord")
    args.memvisorctl = os.path.join(args.build, "supervisor/memvisorctl/memvisorctl")
    args.bot = os.path.abspath(os.path.join(args.build, "bot/reference/memvisor-bot"))
    results = []
    for s in args.scenarios.split(","):
        grow = s.endswith("g")
        n = int(s.rstrip("g"))
        growing = max(1, n * 5 // 100) if grow else 0
        print(f"# {s}: {n} bots, {growing} growing (load {loadavg()})", file=sys.stderr)
        results.append(run_scenario(s, n, growing, args))
        print(json.dumps(results[-1]), file=sys.stderr)
    cols = ["scenario", "start_s", "start_journal_ms", "cpu_pct", "rss_mib_median", "rss_mib_max",
            "fds", "fds_per_bot", "status_ms_median", "status_ms_p90", "status_json_ms_median",
            "status_json_ms_p90", "scrape_ms_median", "scrape_kib", "series", "listed", "restarts", "load_before", "load_after"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        print("| " + " | ".join(str(r.get(c)) for c in cols) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
