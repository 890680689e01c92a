"""`python -m bench.quick`: only the webhooks against the floor and the in-process profile (a
minute or two), for measuring one change before and after; `make bench` runs everything. With
`--profiles DIR` the cProfile summary of each path is written there (bench/profiles/)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.profile import KINDS, profile
from bench.rig import loopback
from bench.scale import stop
from bench.service import serve
from bench.webhook_load import Calls, signed_requests, wrk

PATHS = list(KINDS)
FORKING = "bench.forking_worker.ForkingWorker"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quick")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--profiles", type=Path, default=None)
    parser.add_argument("--burst", type=int, nargs="*", default=None, help="only timer bursts of these sizes")
    parser.add_argument("--dialler", type=int, default=0, help="only the dialler, this many callbacks")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cps", type=int, nargs="+", default=[300, 400], help="the dialler's CPS limits, a run each")
    parser.add_argument(
        "--forking",
        action="store_true",
        help="each burst and dialler run again with a work-horse forked per job (bench/forking_worker.py) to compare",
    )
    args = parser.parse_args()
    if args.burst is not None or args.dialler:
        return scale_only(args)
    with loopback("bench-quick-", remove_work=True) as rig:
        work, log, env = rig.work, rig.log, rig.env
        calls = Calls(rig.server.url, rig.stub.url)
        calls.make(args.calls)
        twiml = calls.hold_twiml()
        service, sport = serve("wsgi:app", env, log)
        floor, fport = serve("bench.floor:app", env | {"FLOOR_TWIML": twiml}, log)
        try:
            print("| path | service req/s | floor req/s | service/floor | service p99 ms | floor p99 ms |")
            print("|---|---|---|---|---|---|")
            for kind in PATHS:
                file = work / f"requests-{kind.replace('/', '_').replace(' ', '')}.txt"
                file.write_text("\n".join(signed_requests(calls, kind, 2000)) + "\n")
                s = wrk(sport, file, args.connections, args.seconds)
                f = wrk(fport, file, args.connections, args.seconds)
                print(f"| {kind} | {s[0]:.0f} | {f[0]:.0f} | {s[0] / f[0]:.2f} | {s[2]:.1f} | {f[2]:.1f} |", flush=True)
        finally:
            stop(service)
            stop(floor)
        print()
        print("\n".join(profile(calls, env, 400, dump=args.profiles)))


def scale_only(args) -> None:
    """Timer bursts and/or the dialler alone, with the real scheduler and `rq worker` processes."""
    import sys

    from bench import scale
    from bench.service import ROOT, pct

    bin_dir = Path(sys.executable).parent
    with loopback("bench-quick-") as rig:
        work, stub, log, env = rig.work, rig.stub, rig.log, rig.env
        capacity = stub.capacity(4)
        print(f"stand-in capacity (wrk -t2 -c8 alone): {capacity:.0f} req/s", flush=True)
        classes = [("in process", scale.WORKER_CLASS)] + ([("forking", FORKING)] if args.forking else [])
        for n in args.burst or ():
            for how, worker_class in classes:
                late = scale.timers(
                    bin_dir, ROOT, env | {"BENCH_WORKER_CLASS": worker_class}, n, args.workers, "burst", log, 1, stub
                )
                v = late.values
                print(
                    f"burst {n}, {args.workers} workers ({how}): ran {len(v)}, p50 {pct(v, 50):.2f} s, p99 {pct(v, 99):.2f} s, max {max(v, default=float('nan')):.2f} s, stand-in floor {n / capacity:.2f} s",
                    flush=True,
                )
        for cps in args.cps if args.dialler else ():
            for how, worker_class in classes:
                dial_env = env | {
                    "POLICY_FILE": str(scale.bench_policy(ROOT, work)),
                    "BENCH_WORKER_CLASS": worker_class,
                }
                d = scale.dialler(bin_dir, ROOT, dial_env, stub, args.dialler, args.workers, cps, 30, log)
                print(
                    f"dialler {d.callbacks}, {d.workers} workers ({how}), CPS limit {d.cps}: dialled {len(d.lags)}, lag p50 {pct(d.lags, 50):.2f} s, p99 {pct(d.lags, 99):.2f} s, max {max(d.lags, default=float('nan')):.2f} s, {len(d.lags) / d.seconds:.0f} dials/s, most in a second {d.max_per_second}, workers' CPU {d.worker_cpu:.1f} s",
                    flush=True,
                )
        print(f"log: {log}")


if __name__ == "__main__":
    main()
