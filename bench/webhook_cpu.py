"""`python -m bench.webhook_cpu [PATH ...]`: the webhooks against the floor under gunicorn and wrk,
as CPU per request rather than requests per second. On a shared machine req/s moves with whatever
else runs (one path's ratio read 0.45 to 0.69 on unchanged code); the CPU each request cost the
gunicorn workers, Redis and wrk (from /proc and rusage) moves far less. floor/service of those is
the throughput ratio the two would have on cores of their own."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

from bench.profile import KINDS
from bench.rig import loopback
from bench.scale import stop
from bench.service import ROOT, serve
from bench.webhook_load import Calls, signed_requests

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children now (a gunicorn master and its workers)."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    total = 0.0
    for p in [pid, *map(int, children)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def load(port: int, requests: Path, pids: list[int], connections: int = 16, seconds: int = 4):
    """req/s, CPU ms per request of each of `pids`, and of wrk itself."""
    before = [cpu_seconds(p) for p in pids]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(ROOT / "bench" / "webhooks.lua")]
        + [f"http://127.0.0.1:{port}"],
        env={**os.environ, "REQUESTS_FILE": str(requests)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = [cpu_seconds(p) for p in pids]
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    wrk_ms = ((r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)) / n * 1000
    return rps, [(a - b) / n * 1000 for a, b in zip(after, before, strict=True)], wrk_ms


def main(only: list[str]) -> None:
    with loopback("bench-cpu-", remove_work=True) as rig:
        work, server, log, env = rig.work, rig.server, rig.log, rig.env
        calls = Calls(server.url, rig.stub.url)
        calls.make(50)
        twiml = calls.hold_twiml()
        redis_pid = server.process.pid
        service, sport = serve("wsgi:app", env, log)
        floor, fport = serve("bench.floor:app", env | {"FLOOR_TWIML": twiml}, log)
        try:
            print(
                "| path | service req/s | floor req/s | service CPU ms (gunicorn + Redis + wrk) | floor CPU ms | floor/service CPU |"
            )
            print("|---|---|---|---|---|---|")
            for kind in KINDS:
                if only and not any(o in kind for o in only):
                    continue
                file = work / f"requests-{kind.replace('/', '_').replace(' ', '')}.txt"
                file.write_text("\n".join(signed_requests(calls, kind, 2000)) + "\n")
                s_rps, (s_app, s_redis), s_wrk = load(sport, file, [service.pid, redis_pid])
                f_rps, (f_app, f_redis), f_wrk = load(fport, file, [floor.pid, redis_pid])
                s_all, f_all = s_app + s_redis + s_wrk, f_app + f_redis + f_wrk
                print(
                    f"| {kind} | {s_rps:.0f} | {f_rps:.0f} | {s_all:.3f} ({s_app:.3f} + {s_redis:.3f} + {s_wrk:.3f}) "
                    f"| {f_all:.3f} | {f_all / s_all:.2f} |",
                    flush=True,
                )
        finally:
            stop(service)
            stop(floor)


if __name__ == "__main__":
    main(sys.argv[1:])
