"""`make bench`: the service's hot webhooks against the bare-Flask floor (same gunicorn config, same
signed requests, same machine, same run), Redis cost per live escalation at 50/200/1,000 calls,
how late timers fire (bursts against the floor the Twilio stand-in sets) and how fast the dialler
dials under a CPS limit below and above its demand, and one gunicorn process against two. Loopback only; every load is bounded in
requests and seconds. Writes bench/RESULTS.md and a PNG per benchmark.

    python -m bench.run [--smoke]      # --smoke: tiny sizes, a few seconds (the test suite runs it)

The parts: bench/service.py (settings, gunicorn), bench/webhook_load.py (live calls, signed requests,
wrk), bench/scale.py (timers and the dialler), bench/profile.py (CPU per webhook), bench/report.py
(RESULTS.md and the plots).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import redis

from bench import report, round_trips, scale
from bench.profile import KINDS, profile
from bench.rig import loopback
from bench.scale import stop
from bench.service import BIN, ROOT, serve
from bench.webhook_load import Calls, Load, signed_requests, wrk

# BENCH_SIZE=full: the dialler and the 5,000 burst with 1, 2 and 4 workers too (about 5 minutes more)
FULL = os.environ.get("BENCH_SIZE", "").strip().lower() == "full"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the scripts work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench", help="where RESULTS.md and the plots go")
    args = parser.parse_args(argv)
    sizes = (
        {
            "seconds": 1,
            "connections": 4,
            "calls": (5,),
            "holds": (50,),
            "burst": 20,
            "big_burst": 40,
            "sample": 2,
            "workers": (2,),  # one timer run each, steady and burst: the scripts work (not figures)
            "dial_workers": (2,),
            "big_burst_workers": (2,),
            "callbacks": 40,
            "cps": (100,),
            "spread": 2,
        }
        if args.smoke
        else {
            "seconds": 5,
            "connections": 16,
            "calls": (50, 200, 1000),
            "holds": (1000, 5000),
            "burst": 1000,
            "big_burst": 5000,
            "sample": 15,
            "workers": (1, 2, 4),
            "dial_workers": (1, 2, 4) if FULL else (2,),
            "big_burst_workers": (1, 2, 4) if FULL else (2,),
            "callbacks": 10000,
            # 300: below the demand (333 a second), the limit holds the dials back; 400: above
            # it, so the lag a dialler adds itself shows (issue 19: p99 within 1 s of due)
            "cps": (300, 400),
            "spread": 30,
        }
    )
    if not shutil.which("wrk"):
        print("wrk is not installed: run `make bench` (it installs wrk with apt)", file=sys.stderr)
        return 2
    out_dir = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    with loopback("bench-") as rig:
        work, server, stub, log, env = rig.work, rig.server, rig.stub, rig.log, rig.env
        calls = Calls(server.url, stub.url)
        conn = redis.Redis.from_url(server.url)
        conn.flushdb()
        memory: list[tuple[int, float, float]] = []
        concurrent: dict[int, dict[int, tuple[float, float, float]]] = {}
        hold_file = work / "requests-hold-many.txt"
        service, service_port = serve("wsgi:app", env, log)
        made = 0
        try:
            for target in sizes["calls"]:
                before_mem, before_keys = conn.info("memory")["used_memory"], conn.dbsize()
                calls.make(target - made)
                added = target - made
                made = target
                memory.append(
                    (
                        target,
                        (conn.info("memory")["used_memory"] - before_mem) / added,
                        (conn.dbsize() - before_keys) / added,
                    )
                )
                hold_file.write_text(
                    "\n".join(signed_requests(calls, "/voice/hold", 4000 if not args.smoke else 50)) + "\n"
                )
                concurrent[target] = {
                    c: wrk(service_port, hold_file, c, sizes["seconds"]) for c in (2, sizes["connections"])
                }
        finally:
            stop(service)
        twiml = calls.hold_twiml()
        service, service_port = serve("wsgi:app", env, log)
        floor, floor_port = serve("bench.floor:app", env | {"FLOOR_TWIML": twiml}, log)
        paths = list(KINDS)
        results: list[tuple[str, Load, Load]] = []
        try:
            for kind in paths:
                file = work / f"requests-{kind.replace('/', '_').replace(' ', '')}.txt"
                file.write_text("\n".join(signed_requests(calls, kind, 2000 if not args.smoke else 50)) + "\n")
                s = wrk(service_port, file, sizes["connections"], sizes["seconds"])
                f = wrk(floor_port, file, sizes["connections"], sizes["seconds"])
                results.append((kind, Load(kind, *s), Load(kind, *f)))
                print(
                    f"{kind}: service {s[0]:.0f} req/s p99 {s[2]:.1f} ms; floor {f[0]:.0f} req/s p99 {f[2]:.1f} ms",
                    flush=True,
                )
        finally:
            stop(service)
            stop(floor)
        print("profile ...", flush=True)
        profiled = profile(calls, env, 100 if args.smoke else 400, dump=None if args.smoke else out_dir / "profiles")
        trips = round_trips.per_request(calls, tuple(paths), 10 if args.smoke else 50)
        status_file = work / "requests-_voice_status.txt"
        scale_out = {}
        for processes in (1, 2):
            one, one_port = serve("wsgi:app", env, log, workers=processes)
            try:
                scale_out[processes] = {
                    "/voice/hold": wrk(one_port, hold_file, sizes["connections"], sizes["seconds"]),
                    "/voice/status": wrk(one_port, status_file, sizes["connections"], sizes["seconds"]),
                }
            finally:
                stop(one)
        live_mem, live_keys = conn.info("memory")["used_memory"], conn.dbsize()
        ended = calls.finish_all()
        after_mem, after_keys = conn.info("memory")["used_memory"], conn.dbsize()
        # The stand-in's own capacity, measured once for the timers' bursts and the dialler: the
        # least time N REST calls can take here.
        stub_capacity = stub.capacity(1 if args.smoke else 4)
        print("timers ...", flush=True)
        lateness = [
            scale.timers(BIN, ROOT, env, holds, workers, "steady", log, sizes["sample"], stub)
            for holds in sizes["holds"]
            for workers in sizes["workers"]
        ]
        lateness += [
            scale.timers(BIN, ROOT, env, sizes["burst"], workers, "burst", log, 1, stub) for workers in sizes["workers"]
        ]
        lateness += [
            scale.timers(BIN, ROOT, env, sizes["big_burst"], workers, "burst", log, 1, stub)
            for workers in sizes["big_burst_workers"]
        ]
        print("dialler ...", flush=True)
        dial_env = env | {"POLICY_FILE": str(scale.bench_policy(ROOT, work))}
        dialling = [
            scale.dialler(BIN, ROOT, dial_env, stub, sizes["callbacks"], workers, cps, sizes["spread"], log)
            for cps in sizes["cps"]
            for workers in sizes["dial_workers"]
        ]

    figures = report.Figures(
        smoke=args.smoke,
        sizes=sizes,
        results=results,
        profiled=profiled,
        memory=memory,
        concurrent=concurrent,
        ended=ended,
        live_mem=live_mem,
        live_keys=live_keys,
        after_mem=after_mem,
        after_keys=after_keys,
        scale_out=scale_out,
        lateness=lateness,
        dialling=dialling,
        stub_capacity=stub_capacity,
        round_trips=trips,
        escalate_round_trips=calls.escalate_round_trips,
    )
    print(report.write(out_dir, figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
