"""`make bench`: the service's hot webhooks against the bare-Flask floor (same gunicorn config, same
signed requests, same machine, same run), Redis cost per live escalation at 50/200/1,000 calls,
and how late timers fire with 1, 2 and 4 RQ workers. Loopback only; every load is bounded in
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
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import redis
from twilio.request_validator import RequestValidator

from bench.twilio_stub import TwilioStub

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BASE = "https://bench.example.test"
AUTH = "bench-auth-token-0123456789abcdef"
AGENT_TOKEN = "bench-agent-token-000000"
GUNICORN = ["--workers", "2", "--timeout", "20", "--preload"]  # the README's production config
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "rq.worker.Worker")


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


def serve(app: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), *GUNICORN, "--bind", f"127.0.0.1:{port}", app],
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


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


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
        self.core = self.app.extensions["core"]
        runtime.use(self.core)
        self.client = self.app.test_client()
        self.sids: list[str] = []
        self.escalations: list[str] = []

    def make(self, count: int) -> None:
        from rq import SimpleWorker

        new = ["CA" + secrets.token_hex(16) for _ in range(count)]
        for sid in new:
            self.client.post("/voice/incoming", data={"CallSid": sid, "From": "+13125550142", "To": "+13125550100"})
            self.client.post("/voice/account?attempt=1", data={"CallSid": sid, "Digits": "448812"})
            self.core.ctx.store.set_presence("agent-avery", "available")
            SimpleWorker([self.core.ctx.timers.urgent], connection=self.core.ctx.store.r).work(burst=True)
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
        self.sids += new


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


def timers_lateness(
    redis_url: str, twilio_url: str, holds: int, workers: int, log: Path, worker_class: str = WORKER_CLASS
) -> list[float]:
    """`holds` check-ins due within one second, our scheduler and `workers` RQ workers: how late each ran."""
    from rq import Queue

    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    env = env_for(redis_url, twilio_url)
    queue = Queue("escalations", connection=conn)
    due_at = datetime.now(UTC) + timedelta(seconds=3)
    for i in range(holds):
        due = due_at + timedelta(seconds=i / holds)
        queue.enqueue_at(due, "bench.jobs.late", due.timestamp())
    processes = [
        subprocess.Popen(
            [str(BIN / "python"), "-m", "workers.scheduler"],
            cwd=ROOT,
            env=env,
            stdout=log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ]
    processes += [
        subprocess.Popen(
            [str(BIN / "rq"), "worker", "--url", redis_url, "-q", "escalations-urgent", "escalations"],
            cwd=ROOT,
            env=env,
            stdout=log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 60 + holds / 20
        while conn.llen("bench:lateness") < holds and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for process in processes:
            stop(process)
    return sorted(float(v) for v in conn.lrange("bench:lateness", 0, -1))


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the scripts work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench", help="where RESULTS.md and the plots go")
    args = parser.parse_args(argv)
    sizes = (
        {"seconds": 1, "connections": 4, "calls": (5,), "holds": (50,), "workers": (1, 2)}
        if args.smoke
        else {"seconds": 5, "connections": 16, "calls": (50, 200, 1000), "holds": (1000,), "workers": (1, 2, 4)}
    )
    if not shutil.which("wrk"):
        print("wrk is not installed: run `make bench` (it installs wrk with apt)", file=sys.stderr)
        return 2
    from telephony.local_redis import LocalRedis

    out_dir = args.out
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
        made = 0
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
        twiml = calls.client.post(
            f"/voice/hold?escalation={calls.escalations[0]}", data={"CallSid": calls.sids[0]}
        ).get_data(as_text=True)
        service, service_port = serve("wsgi:app", env, log)
        floor, floor_port = serve("bench.floor:app", env | {"FLOOR_TWIML": twiml}, log)
        paths = [
            "/voice/incoming",
            "/voice/account",
            "/voice/status",
            "/voice/conference",
            "/voice/hold",
            "POST /api/escalations",
        ]
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
            hold_file = work / "requests-hold-many.txt"
            hold_file.write_text(
                "\n".join(signed_requests(calls, "/voice/hold", 4000 if not args.smoke else 50)) + "\n"
            )
            concurrent = {}
            for target in sizes["calls"]:
                concurrent[target] = wrk(service_port, hold_file, sizes["connections"], sizes["seconds"])
        finally:
            stop(service)
            stop(floor)
        lateness = {
            (holds, workers): timers_lateness(server.url, stub.url, holds, workers, log)
            for holds in sizes["holds"]
            for workers in sizes["workers"]
        }
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
        "## Live escalations: the hold URL under load, and what each costs in Redis",
        "",
        "| calls in escalations | connections | req/s | p50 ms | p99 ms | Redis bytes per escalation | keys per escalation |",
        "|---|---|---|---|---|---|---|",
    ]
    for target, per_bytes, per_keys in memory:
        rps, p50, p99 = concurrent[target]
        report.append(
            f"| {target} | {sizes['connections']} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {per_bytes:.0f} | {per_keys:.1f} |"
        )
    report += [
        "",
        "Per escalation: the call, its escalation hash and timeline, legs, dedupe markers, RQ jobs "
        "(check-ins, limit, notes).",
        "",
        "## Timers: how late check-ins fire",
        "",
        "N check-ins due within one second, `python -m workers.scheduler` and W `rq worker` processes.",
        "",
        "| check-ins | workers | p50 s | p99 s | max s | ran |",
        "|---|---|---|---|---|---|",
    ]
    for (holds, workers), values in lateness.items():
        report.append(
            f"| {holds} | {workers} | {pct(values, 50):.2f} | {pct(values, 99):.2f} | {max(values, default=float('nan')):.2f} | {len(values)} |"
        )
    report += ["", "![webhooks](webhooks.png) ![timers](timers.png)", ""]
    (out_dir / "RESULTS.md").write_text("\n".join(report))
    plot(out_dir, results, lateness)
    print("\n".join(report))
    return 0


def plot(out_dir: Path, results, lateness) -> None:
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
    fig, ax = plt.subplots(figsize=(6, 4))
    keys = list(lateness)
    ax.bar([f"{h} / {w}w" for h, w in keys], [pct(lateness[k], 99) for k in keys])
    ax.set_ylabel("p99 lateness, s")
    ax.set_title("Check-ins: lateness by workers")
    fig.tight_layout()
    fig.savefig(out_dir / f"timers{suffix}.png")


if __name__ == "__main__":
    sys.exit(main())
