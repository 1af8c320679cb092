#!/usr/bin/env python3
"""Drive memvisor-bot from a minimal stand-in for memvisord, to measure its modes by hand.

Listens on a temporary bot socket, starts the bot with MEMVISOR_SOCKET pointing at it, and at
the given times sends trim/sweep/compact/ping/shutdown, printing the bot's RSS (from
/proc/<pid>/statm) around each command and the bot's reply. Example:

  bot/reference/tools/drive.py --at 4:trim --at 6:sweep:high --at 8:compact --stop 10 -- \
      build/release/bot/reference/memvisor-bot --fragment --rate 500
"""
import argparse, json, os, socket, subprocess, sys, tempfile, time

def rss_mib(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--at", action="append", default=[], help="SECONDS:ACTION[:URGENCY]")
    ap.add_argument("--stop", type=float, default=10.0, help="seconds before shutdown")
    ap.add_argument("--sample", type=float, default=1.0, help="RSS sample period, s")
    ap.add_argument("--reply-timeout", type=float, default=10.0, help="seconds to wait for a reply")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    d = tempfile.mkdtemp(prefix="memvisor-drive-")
    path = os.path.join(d, "bot.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path); srv.listen(1)
    env = dict(os.environ, MEMVISOR_SOCKET=path)
    log = open(os.path.join(d, "bot.log"), "w")
    p = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    srv.settimeout(10)
    conn, _ = srv.accept()
    f = conn.makefile("rwb")
    hello = json.loads(f.readline())
    f.write((json.dumps({"type": "welcome", "version": {"major": 1, "minor": 0}, "pid": os.getpid(),
                         "name": hello["name"], "stats_interval_ms": 600000}) + "\n").encode()); f.flush()
    t0 = time.monotonic()
    steps = sorted((float(s.split(":")[0]), s.split(":")[1], (s.split(":") + ["normal"])[2]) for s in a.at)
    next_sample, nid = 0.0, 1
    print(f"cmd: {' '.join(cmd)}")
    while True:
        t = time.monotonic() - t0
        if steps and t >= steps[0][0]:
            at, action, urgency = steps.pop(0)
            before = rss_mib(p.pid)
            msg = {"type": action, "id": nid}
            if action in ("trim", "sweep", "compact"):
                msg.update(urgency=urgency, deadline_ms=60000)
            f.write((json.dumps(msg) + "\n").encode()); f.flush()
            conn.settimeout(a.reply_timeout)
            try:
                while True:
                    r = json.loads(f.readline())
                    if r.get("id") == nid: break
            except (socket.timeout, OSError):
                print(f"t={t:5.1f}s {action}: no reply within {a.reply_timeout}s"); nid += 1
                f = conn.makefile("rwb"); continue
            after = rss_mib(p.pid)
            det = " ".join(f"{x['name']}={x['freed_bytes']/2**20:.1f}MiB" for x in r.get("details", []))
            print(f"t={t:5.1f}s {action}:{urgency} rss {before:.1f} -> {after:.1f} MiB | reply freed="
                  f"{r.get('freed_bytes', 0)/2**20:.1f}MiB duration={r.get('duration_ms', 0):.1f}ms "
                  f"late={r.get('late', False)} {det}")
            nid += 1
            continue
        if t >= a.stop:
            break
        if t >= next_sample:
            print(f"t={t:5.1f}s rss={rss_mib(p.pid):.1f} MiB")
            next_sample += a.sample
        time.sleep(0.05)
    f.write((json.dumps({"type": "shutdown", "id": nid, "deadline_ms": 5000, "reason": "drive.py done"}) + "\n").encode())
    f.flush()
    try:
        f.flush()
    except OSError:
        pass
    try:
        print(f"exit={p.wait(timeout=5)} (log: {log.name})")
    except subprocess.TimeoutExpired:
        p.kill(); print(f"killed (no exit after shutdown; log: {log.name})")
    os.unlink(path)

if __name__ == "__main__":
    sys.exit(main())
