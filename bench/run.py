"""`make bench`: the service's hot webhooks against the bare-Flask floor (same gunicorn config, same
signed requests, same machine, same run), Redis cost per live escalation at 50/200/1,000 calls,
how late timers fire and how fast the dialler dials with 1, 2 and 4 RQ workers, and one gunicorn process against two. Loopback only; every load is bounded in
requests and seconds. Writes bench/RESULTS.md and a PNG per benchmark.

    python -m bench.run [--smoke]      # --smoke: tiny sizes, a few seconds (the test suite runs it)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import redis
from twilio.request_validator import RequestValidator

from bench import scale
from bench.profile import KINDS, profile
from bench.scale import stop
from bench.twilio_stub import TwilioStub

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BASE = "https://bench.example.test"
AUTH = "bench-auth-token-0123456789abcdef"
AGENT_TOKEN = "bench-agent-token-000000"
GUNICORN = ["--workers", "2", "--timeout", "20", "--preload"]  # the README's production config
# BENCH_SIZE=full: the dialler and the 5,000 burst with 1, 2 and 4 workers too (about 5 minutes more)
FULL = os.environ.get("BENCH_SIZE", "").strip().lower() == "full"


@dataclass
class Load:
    path: str
    rps: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(redis_url: str, twilio_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": AUTH,
        "TWILIO_CALLER_ID": "+13125550100",
        "PUBLIC_BASE_URL": BASE,
        "POLICY_FILE": str(ROOT / "policies" / "default.toml"),
        "API_TOKENS": f"{AGENT_TOKEN}:agent-avery:agent",
        "TWILIO_API_BASE_URL": twilio_url,
        "OUTBOUND_CALLS_PER_SECOND": "1000",
        "CLOCK": "system",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(ROOT),
    }


def serve(app: str, env: dict[str, str], log: Path, workers: int = 2) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = [*GUNICORN]
    config[config.index("--workers") + 1] = str(workers)
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), *config, "--bind", f"127.0.0.1:{port}", app],
        cwd=ROOT,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{app} did not start: {log.read_text()[-2000:]}")


class Calls:
    """Live calls in the middle of escalations, made through the real webhooks and API (in
    process, on the benchmark's Redis), for the load to hit."""

    def __init__(self, redis_url: str, twilio_url: str):
        from routes import create_app
        from telephony.config import Settings
        from workers import runtime

        settings = Settings.from_env(
            env_for(redis_url, twilio_url)
            | {"TWILIO_SIGNATURE_CHECK": "off-for-local-development", "PUBLIC_BASE_URL": "http://127.0.0.1"}
        )
        self.app = create_app(settings)
        served = self.app.extensions["organisations"]
        self.core = served.all()[0]  # POLICY_FILE: the one organisation
        runtime.use(served)
        self.client = self.app.test_client()
        self.sids: list[str] = []
        self.escalations: list[str] = []

    def make(self, count: int) -> None:
        from rq import SimpleWorker

        worker = SimpleWorker(self.core.ctx.timers.queues(), connection=self.core.ctx.store.r)
        new = ["CA" + secrets.token_hex(16) for _ in range(count)]
        for sid in new:
            self.client.post("/voice/incoming", data={"CallSid": sid, "From": "+13125550142", "To": "+13125550100"})
            self.client.post("/voice/account?attempt=1", data={"CallSid": sid, "Digits": "448812"})
            self.core.ctx.store.set_presence("agent-avery", "available")
            self.core.ctx.timers.release_due()  # the ring, left by the webhook as a timer due now
            worker.work(burst=True, logging_level="WARNING")
            call = self.core.ctx.store.call(sid)
            self.client.post(
                "/voice/conference",
                data={
                    "ConferenceSid": call["conference_sid"],
                    "FriendlyName": f"call-{sid}",
                    "CallSid": sid,
                    "StatusCallbackEvent": "participant-join",
                    "ParticipantLabel": "caller",
                    "SequenceNumber": "1",
                },
            )
            escalated = self.client.post(
                "/api/escalations",
                json={
                    "call_sid": sid,
                    "kind": "manager_request",
                    "reason": "billed twice",
                    "client": {"name": "Pat Doe"},
                    "caller_agreed_to_hold": True,
                },
                headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
            )
            if escalated.status_code == 201:
                self.escalations.append(escalated.json["id"])
            self.core.ctx.store.set_presence("lead-lee", "available")
            self.core.ctx.store.set_presence("lead-morgan", "available")
        worker.work(burst=True, logging_level="WARNING")  # what a worker does at once: post the notes
        self.sids += new

    def finish_all(self) -> int:
        """Every caller hangs up; the purge then runs with nothing kept (FINISHED_KEEP_SECONDS = 0)."""
        from rq import SimpleWorker

        from telephony.records import retention

        for sid in self.sids:
            self.client.post("/voice/status", data={"CallSid": sid, "CallStatus": "completed"})
        SimpleWorker(self.core.ctx.timers.queues(), connection=self.core.ctx.store.r).work(
            burst=True, logging_level="WARNING"
        )
        store = self.core.ctx.store
        ended = len(store.finished_before(float("inf"), count=1_000_000))
        store.keep_seconds = 0
        retention.purge(self.core.ctx)
        return ended


def signed_requests(calls: Calls, kind: str, count: int) -> list[str]:
    validator = RequestValidator(AUTH)
    lines = []
    for i in range(count):
        sid = calls.sids[i % len(calls.sids)]
        if kind == "POST /api/escalations":
            body = json.dumps(
                {"call_sid": sid, "kind": "manager_request", "reason": "again", "caller_agreed_to_hold": True},
                separators=(",", ":"),
            )
            lines.append(f"POST\t/api/escalations\t{body}\tAuthorization\tBearer {AGENT_TOKEN}\tapplication/json")
            continue
        path, form = {
            "/voice/incoming": (
                "/voice/incoming",
                {"CallSid": "CA" + secrets.token_hex(16), "From": "+13125550142", "To": "+13125550100"},
            ),
            "/voice/account": ("/voice/account?attempt=1", {"CallSid": sid, "Digits": "448812"}),
            "/voice/status": ("/voice/status", {"CallSid": sid, "CallStatus": "in-progress"}),
            "/voice/conference": (
                "/voice/conference",
                {
                    "ConferenceSid": "CF" + "0" * 32,
                    "FriendlyName": f"call-{sid}",
                    "CallSid": sid,
                    "StatusCallbackEvent": "participant-hold",
                    "SequenceNumber": str(10 + i),
                },
            ),
            "/voice/hold": (
                f"/voice/hold?escalation={calls.escalations[i % len(calls.escalations)]}",
                {"CallSid": sid},
            ),
        }[kind]
        body = urlencode(form)
        signature = validator.compute_signature(BASE + path, form)
        lines.append(f"POST\t{path}\t{body}\tX-Twilio-Signature\t{signature}\tapplication/x-www-form-urlencoded")
    return lines


def wrk(port: int, requests_file: Path, connections: int, seconds: int) -> tuple[float, float, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "webhooks.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env={**os.environ, "REQUESTS_FILE": str(requests_file)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def percentile(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    if errors and kind_expects_2xx(requests_file):
        print(f"  note: {errors.group(1)} non-2xx responses", flush=True)
    return rps, percentile("50"), percentile("99")


def kind_expects_2xx(requests_file: Path) -> bool:
    return "escalations" not in requests_file.name


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


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
            "workers": (1, 2),
            "dial_workers": (2,),
            "big_burst_workers": (2,),
            "callbacks": 40,
            "cps": 100,
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
            "cps": 300,
            "spread": 30,
        }
    )
    if not shutil.which("wrk"):
        print("wrk is not installed: run `make bench` (it installs wrk with apt)", file=sys.stderr)
        return 2
    from telephony.adapters.local_redis import LocalRedis

    out_dir = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    server = LocalRedis.start(work / "redis", appendonly=True)
    stub = TwilioStub()
    log = work / "processes.log"
    report: list[str] = []
    try:
        env = env_for(server.url, stub.url)
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
        twiml = calls.client.post(
            f"/voice/hold?escalation={calls.escalations[0]}", data={"CallSid": calls.sids[0]}
        ).get_data(as_text=True)
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
        print("timers ...", flush=True)
        lateness = [
            scale.timers(BIN, ROOT, env, holds, workers, "steady", log, sizes["sample"])
            for holds in sizes["holds"]
            for workers in sizes["workers"]
        ]
        lateness += [
            scale.timers(BIN, ROOT, env, sizes["burst"], workers, "burst", log, 1) for workers in sizes["workers"]
        ]
        lateness += [
            scale.timers(BIN, ROOT, env, sizes["big_burst"], workers, "burst", log, 1)
            for workers in sizes["big_burst_workers"]
        ]
        print("dialler ...", flush=True)
        dial_env = env | {"POLICY_FILE": str(scale.bench_policy(ROOT, work))}
        stub_capacity = stub.capacity(1 if args.smoke else 4)
        dialling = [
            scale.dialler(BIN, ROOT, dial_env, stub, sizes["callbacks"], workers, sizes["cps"], sizes["spread"], log)
            for workers in sizes["dial_workers"]
        ]
    finally:
        stub.close()
        server.stop()

    report += [
        "# Benchmarks",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores"
        + (" (smoke sizes: not figures to quote)" if args.smoke else "")
        + ". `make bench` (`python -m bench.run`). Loopback only; Twilio's REST API answered by a stand-in"
        " (`bench/twilio_stub.py`) that replies at once; Redis append-only.",
        "",
        "## Webhooks against the floor",
        f"gunicorn `{' '.join(GUNICORN)}` for both; `wrk -t2 -c{sizes['connections']} -d{sizes['seconds']}s` per path, signed "
        "requests (signature checking on in both). The floor checks the signature and returns constant TwiML of the "
        "hold URL's size.",
        "",
        "| path | service req/s | floor req/s | service/floor | service p50 ms | service p99 ms | floor p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, s, f in results:
        report.append(
            f"| {kind} | {s.rps:.0f} | {f.rps:.0f} | {s.rps / f.rps:.2f} | {s.p50_ms:.1f} | {s.p99_ms:.1f} | {f.p99_ms:.1f} |"
        )
    report += [
        "",
        "`POST /api/escalations` on calls already escalated: the 409 `escalation_open` path.",
        "",
        "## Where a webhook's CPU goes",
        "",
        "Each path answered in process (Flask's test client, signatures on, the same Redis) by the service and the "
        "floor: CPU time per request (`time.process_time`), and the service's time in the Redis client, in building "
        "TwiML and in its request hooks (logging context, metrics), from `cProfile` scaled to the unprofiled time. "
        "The rest (Flask, the signature check, parsing the form) the floor pays too.",
        "",
        *profiled,
        "",
        "## Live escalations: the hold URL under load, and what each costs in Redis",
        "",
        "The hold URL (what Twilio fetches while a caller holds) with N escalations live in Redis: at light load "
        "(2 connections) and saturated (all connections); Redis memory (`INFO memory`) and keys added per "
        "escalation while it is live.",
        "",
        "| calls in escalations | req/s (2 conn) | p50 ms | p99 ms | req/s (saturated) | p50 ms | p99 ms | Redis bytes per escalation | keys per escalation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for target, per_bytes, per_keys in memory:
        light, full = concurrent[target][2], concurrent[target][sizes["connections"]]
        report.append(
            f"| {target} | {light[0]:.0f} | {light[1]:.1f} | {light[2]:.1f} | {full[0]:.0f} | {full[1]:.1f} | "
            f"{full[2]:.1f} | {per_bytes:.0f} | {per_keys:.1f} |"
        )
    report += [
        "",
        f"When every call has ended ({ended} escalations resolved or abandoned) and the purge has run "
        "(`FINISHED_KEEP_SECONDS`, here 0), Redis went from "
        f"{live_mem / 1e6:.1f} MB and {live_keys} keys to {after_mem / 1e6:.1f} MB and {after_keys} keys: "
        "finished escalations leave live state (what is left: per-person presence, the capped change stream, "
        "dedupe markers and legs that expire on their own within 2 days).",
        "",
        "Per escalation: the call, its escalation hash and timeline, legs, dedupe markers, RQ jobs "
        "(check-ins, limit, notes).",
        "",
        "## Scale-out: one gunicorn process against two",
        "",
        f"The same service and requests with `--workers 1` and `--workers 2` on {os.cpu_count()} cores.",
        "",
        "| path | 1 process req/s | 2 processes req/s | 2/1 | p99 ms (1) | p99 ms (2) |",
        "|---|---|---|---|---|---|",
    ]
    for path in ("/voice/hold", "/voice/status"):
        a, b = scale_out[1][path], scale_out[2][path]
        report.append(f"| {path} | {a[0]:.0f} | {b[0]:.0f} | {b[0] / a[0]:.2f} | {a[2]:.1f} | {b[2]:.1f} |")
    report += [
        "",
        "## Timers: how late check-ins and hold limits start",
        "",
        "The real check-in and hold-limit jobs (Redis, the Twilio REST call, the timeline), released by "
        "`python -m workers.scheduler` (a tick every 0.2 s; what is due in a tick in about 8 jobs, at least 20 timers each) to W `rq worker` processes. "
        f"*Steady*: N callers on hold at once make N/100 timers a second (two check-ins and a limit in each "
        f"5-minute hold), sampled over {sizes['sample']} s. *Burst*: all N callers' check-ins due in one second.",
        "",
        "| callers | workers | timers | p50 s | p99 s | max s | ran |",
        "|---|---|---|---|---|---|---|",
    ]
    for late in lateness:
        v = late.values
        report.append(
            f"| {late.label} | {late.workers} | {late.expected} | {pct(v, 50):.2f} | {pct(v, 99):.2f} | "
            f"{max(v, default=float('nan')):.2f} | {len(v)} |"
        )
    report += [
        "",
        "## Dialler: callbacks at scale",
        "",
        f"{sizes['callbacks']} callbacks whose windows open evenly over {sizes['spread']} s, "
        f"`OUTBOUND_CALLS_PER_SECOND={sizes['cps']}`. Lag: from the window opening to the lead's dial request "
        "reaching Twilio. The bench plays the leads (each takes the call at once and is free again).",
        "",
        "| callbacks | workers | dialled | lag p50 s | lag p99 s | lag max s | dials/s | most in one second | CPS limit | stand-in capacity req/s | dials/s / capacity |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in dialling:
        rate = len(d.lags) / d.seconds if d.seconds == d.seconds and d.seconds > 0 else float("nan")
        report.append(
            f"| {d.callbacks} | {d.workers} | {len(d.lags)} | {pct(d.lags, 50):.2f} | {pct(d.lags, 99):.2f} | "
            f"{max(d.lags, default=float('nan')):.2f} | {rate:.0f} | {d.max_per_second} | {d.cps} | "
            f"{stub_capacity:.0f} | {rate / stub_capacity:.2f} |"
        )
    report += [
        "",
        "The stand-in's own capacity: `wrk -t2 -c8` against it alone in the same run (no service, no workers). "
        "The demand, {:.0f} dials/s, is above the CPS limit, so even a dialler with no cost of its own finishes "
        "{:.1f} s after the last window opens: the p99 lag it cannot go below here.".format(
            sizes["callbacks"] / sizes["spread"], max(0.0, sizes["callbacks"] / sizes["cps"] - sizes["spread"])
        ),
    ]
    report += ["", "![webhooks](webhooks.png) ![timers](timers.png) ![dialler](dialler.png)", ""]
    (out_dir / "RESULTS.md").write_text("\n".join(report))
    plot(out_dir, results, lateness, dialling)
    print("\n".join(report))
    return 0


def plot(out_dir: Path, results, lateness, dialling) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suffix = ""
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [k.replace("POST ", "") for k, _, _ in results]
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], [s.rps for _, s, _ in results], width=0.4, label="service")
    ax.bar([i + 0.2 for i in x], [f.rps for _, _, f in results], width=0.4, label="floor")
    ax.set_xticks(list(x), labels, rotation=20, fontsize=8)
    ax.set_ylabel("requests/s")
    ax.set_title("Webhooks: service against the bare-Flask floor")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / f"webhooks{suffix}.png")
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar([f"{late.label}\n{late.workers}w" for late in lateness], [pct(late.values, 99) for late in lateness])
    ax.set_ylabel("p99 lateness, s")
    ax.set_title("Check-ins and hold limits: p99 lateness by workers")
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / f"timers{suffix}.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    for d in dialling:
        ax.plot([pct(d.lags, p) for p in range(0, 101, 5)], list(range(0, 101, 5)), label=f"{d.workers} workers")
    ax.set_xlabel("lag from window start to dial request, s")
    ax.set_ylabel("percent of callbacks")
    ax.set_title(f"Dialler: {dialling[0].callbacks if dialling else 0} callbacks")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / f"dialler{suffix}.png")


if __name__ == "__main__":
    sys.exit(main())
