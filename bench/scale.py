"""The timers and the dialler at scale, with real `rq worker` processes and the real scheduler
(`python -m workers.scheduler`) on one Redis, the REST calls answered by bench/twilio_stub.py.

- Timers: N callers on hold at once, each with two check-ins and a limit in its 5 minutes, put
  due as they would fall over a sample of real seconds (steady), or all N check-ins due in the
  same second (burst). Each job is the real check-in or limit (Redis, the Twilio REST call, the
  timeline), and records how late it started against its due time.
- Dialler: callbacks whose windows open across a span of seconds; how long after its window
  opened each lead's dial request reached Twilio, dials per second, and the most dial requests
  Twilio saw in any second against OUTBOUND_CALLS_PER_SECOND. The bench plays the leads: each
  one takes the call the moment it is placed and is free again (their own time on the phone is
  the organisation's staffing, not the dialler's speed).

Loopback only; every run is bounded in count and seconds."""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import redis

from telephony.adapters.timers import TIMER_CALLS, TIMERS
from telephony.commands import Command, DialCallback, HoldCheckIn, HoldLimit
from telephony.handlers import DRAIN_KEY

BENCH_LEADS = 20
# The worker class the runs start (`rq worker -w`); BENCH_WORKER_CLASS in their env picks another.
WORKER_CLASS = "workers.worker.Worker"


@dataclass
class Lateness:
    label: str
    workers: int
    values: list[float]
    expected: int


@dataclass
class Dialling:
    callbacks: int
    workers: int
    cps: int
    lags: list[float]
    seconds: float
    max_per_second: int
    worker_cpu: float = float("nan")  # CPU seconds of the workers and the scheduler over the run


def bench_policy(root: Path, work: Path) -> Path:
    """The default policy with BENCH_LEADS more leads (client: endpoints), so dials never wait
    for a free lead."""
    text = (root / "policies" / "default.toml").read_text()
    for n in range(BENCH_LEADS):
        text += (
            f'\n[[people]]\nid = "bench-lead-{n}"\nname = "Bench lead {n}"\nrole = "lead"\n'
            f'endpoint = "client:bench-lead-{n}"\nteam = "escalations"\nleader = "supervisor-sam"\n'
        )
    path = work / "bench-policy.toml"
    path.write_text(text)
    return path


def _processes(bin_dir: Path, root: Path, env: dict[str, str], workers: int, log: Path) -> list[subprocess.Popen]:
    def spawn(args):
        return subprocess.Popen(
            args, cwd=root, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True
        )

    started = [spawn([str(bin_dir / "python"), "-m", "workers.scheduler"])]
    started += [
        spawn(
            [
                str(bin_dir / "rq"),
                "worker",
                "-w",
                env.get("BENCH_WORKER_CLASS", WORKER_CLASS),
                "--url",
                env["REDIS_URL"],
                "-q",
                "escalations-urgent",
                "escalations",
            ]
        )
        for _ in range(workers)
    ]
    from rq import Worker

    from workers.scheduler import LEASE_KEY

    conn = redis.Redis.from_url(env["REDIS_URL"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (len(Worker.all(connection=conn)) >= workers and conn.get(LEASE_KEY)):
        time.sleep(0.1)
    return started


def _core(env: dict[str, str]):
    from telephony.config import Settings
    from telephony.core import build_core

    settings = Settings.from_env(env)
    return build_core(settings, redis.Redis.from_url(settings.redis_url))


def _holding(core, n: int) -> list[tuple[str, str]]:
    """n escalations of callers on hold (dialing a lead), written straight into the store."""
    store, made = core.ctx.store, []
    now = core.ctx.clock.now()
    for i in range(n):
        esc_id, call_sid = f"esc_bench{i:08d}", f"CA{i:032x}"
        store.save_call(call_sid, {"from": "+13125550142", "role": "caller", "arrived_at": now.isoformat()})
        store.create_escalation(
            esc_id,
            call_sid,
            {
                "kind": "manager_request",
                "state": "dialing_lead",
                "reason": "billed twice",
                "client": {"name": "Pat Doe"},
                "conference_sid": "CF" + f"{i:032x}",
                "caller_placement": "conference",
                "created_at": now.isoformat(),
                "hold_round": 1,
                "hold_round_started_at": now.isoformat(timespec="seconds"),
            },
            None,
            now.timestamp(),
        )
        made.append((esc_id, call_sid))
    _handled_long_ago(core)
    return made


def _handled_long_ago(core) -> None:
    """The bench's callers were escalated before the timers it measures: what followed from each
    escalation (its channel post, the managers' email: the outbox's events, issue 29) was done
    then, not in the burst. Written straight into the store, their events are still waiting, so
    they go, with the timer that would drain them."""
    store, timers = core.ctx.store, core.ctx.timers
    store.r.delete(store.k.OUTBOX)
    member = f"{timers.organisation}/{DRAIN_KEY}"
    timers.conn.zrem(TIMERS, member)
    timers.conn.hdel(TIMER_CALLS, member)


def timers(
    bin_dir: Path,
    root: Path,
    env: dict[str, str],
    holds: int,
    workers: int,
    mode: str,
    log: Path,
    sample: float,
    stub,
) -> Lateness:
    """mode "steady": the check-ins and limits of `holds` callers on hold at once as they fall due
    over `sample` seconds (3 timers per 300 s hold: holds/100 a second). "burst": every one of
    the `holds` callers' first check-in due in the same second. Each is the real timer
    (HoldCheckIn, HoldLimit: telephony/commands.py); how late it was is measured where the caller would
    hear it: when its REST request (the check-in's hold, the limit's redirect) reaches `stub`."""
    conn = redis.Redis.from_url(env["REDIS_URL"])
    conn.flushdb()
    core = _core(env)
    escalations = _holding(core, holds)
    processes = _processes(bin_dir, root, env, workers, log)
    start = datetime.now(UTC) + timedelta(seconds=2)
    rng = random.Random(holds * 10 + workers)
    due = []
    if mode == "burst":
        due = [(start + timedelta(seconds=i / holds), "check_in", esc) for i, esc in enumerate(escalations)]
    else:
        count = min(holds, max(1, int(holds / 100 * sample)))
        for esc in rng.sample(escalations, count):
            kind = "check_in" if rng.random() < 2 / 3 else "hold_limit"
            due.append((start + timedelta(seconds=rng.uniform(0, sample)), kind, esc))
    expected = {(kind, call_sid): when.timestamp() for when, kind, (_, call_sid) in due}
    values: list[float] = []
    lock = threading.Lock()

    def arrived(path: str, form: dict[str, str], at: float) -> None:
        call_sid = path.rsplit("/", 1)[-1].removesuffix(".json")
        kind = "check_in" if "check_in=" in form.get("HoldUrl", "") else "hold_limit" if form.get("Url") else ""
        with lock:
            when = expected.pop((kind, call_sid), None)
            if when is not None:
                values.append(at - when)

    stub.on_update = arrived
    timers: list[tuple[datetime, Command, str]] = []
    for n, (when, kind, (esc_id, _)) in enumerate(due):
        command = HoldCheckIn(esc_id, 1, 1) if kind == "check_in" else HoldLimit(esc_id, 1)
        timers.append((when, command, f"bench-{n}"))
    for i in range(0, len(timers), 1000):
        core.ctx.timers.at_many(timers[i : i + 1000])
    try:
        deadline = time.monotonic() + 5 + sample + len(due) / 20
        while time.monotonic() < deadline and len(values) < len(due):
            time.sleep(0.2)
    finally:
        for process in processes:
            stop(process)
        stub.on_update = None
    label = f"{holds} on hold, {mode}"
    return Lateness(label, workers, sorted(values), len(due))


def callbacks_due(core, callbacks: int) -> list[str]:
    """`callbacks` scheduled callbacks (their windows a day off: the bench sets the dial timers)."""
    store = core.ctx.store
    far = datetime.now(UTC) + timedelta(days=1)
    made = []
    for i in range(callbacks):
        cb_id, esc_id = f"cb_bench{i:08d}", f"esc_bench{i:08d}"
        store.create_escalation(
            esc_id,
            f"CA{i:032x}",
            {"kind": "manager_request", "state": "callback_scheduled", "reason": "billed twice", "client": {}},
            None,
            far.timestamp(),
        )
        fields = {
            "id": cb_id,
            "escalation_id": esc_id,
            "number": "+13125550142",
            "window_start": far.isoformat(),
            "window_end": (far + timedelta(hours=2)).isoformat(),
            "status": "scheduled",
            "attempts": 0,
            "window_attempts": 0,
            "kind": "manager_request",
            "client": "{}",
            "reason": "billed twice",
        }
        store.save_callback(cb_id, fields, far.timestamp())
        made.append(cb_id)
    _handled_long_ago(core)
    return made


def dialler(
    bin_dir: Path,
    root: Path,
    env: dict[str, str],
    stub,
    callbacks: int,
    workers: int,
    cps: int,
    spread: float,
    log: Path,
) -> Dialling:
    """`callbacks` callbacks whose windows open evenly over `spread` seconds, dialled by
    `workers` workers under a `cps` calls-per-second limit."""
    env = env | {"OUTBOUND_CALLS_PER_SECOND": str(cps)}
    conn = redis.Redis.from_url(env["REDIS_URL"])
    conn.flushdb()
    core = _core(env)
    store = core.ctx.store
    callbacks_due(core, callbacks)

    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()
    leads = {p.endpoint: p.id for p in core.ctx.policy.people}

    def dialled(path: str, form: dict[str, str], arrived: float) -> None:
        """A lead's phone rings: they take the call at once and are free again."""
        query = parse_qs(urlparse(form.get("Url", "")).query)
        cb_id = (query.get("callback") or [""])[0]
        if "/voice/callback/lead/" not in form.get("Url", "") or not cb_id:
            return
        with lock:
            arrivals.append((arrived, cb_id))
        store.update_callback(cb_id, status="completed")
        store.release_person(leads.get(form.get("To", ""), ""), cb_id)

    stub.on_create_call = dialled
    cpu_before = _children_cpu()
    processes = _processes(bin_dir, root, env, workers, log)
    # The windows open from 2 s after the workers are ready: the dial timers, a thousand a round trip.
    start = datetime.now(UTC) + timedelta(seconds=2)
    opens: dict[str, float] = {}
    timers: list[tuple[datetime, Command, str]] = []
    for i in range(callbacks):
        cb_id, window = f"cb_bench{i:08d}", start + timedelta(seconds=spread * i / callbacks)
        timers.append((window, DialCallback(cb_id, 1), f"dial-{cb_id}-1"))
        opens[cb_id] = window.timestamp()
    for i in range(0, len(timers), 1000):
        core.ctx.timers.at_many(timers[i : i + 1000])
    try:
        deadline = time.monotonic() + 10 + spread + callbacks / max(1, min(cps, 50))
        while time.monotonic() < deadline and len(arrivals) < callbacks:
            time.sleep(0.2)
    finally:
        for process in processes:
            stop(process)
        stub.on_create_call = None
    first = {}
    for at, cb_id in arrivals:
        first.setdefault(cb_id, at)
    lags = sorted(at - opens[cb_id] for cb_id, at in first.items())
    per_second = Counter(int(at) for at, _ in arrivals)
    seconds = (max(first.values()) - min(opens.values())) if first else float("nan")
    return Dialling(
        callbacks, workers, cps, lags, seconds, max(per_second.values(), default=0), _children_cpu() - cpu_before
    )


def _children_cpu() -> float:
    """CPU seconds (user and system) of the bench's child processes that have ended: the
    workers and the scheduler of a run, once stopped (Redis runs on, and is not counted)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def stop(process: subprocess.Popen) -> None:
    """Stop a process group started by the bench: TERM, then KILL after 15 s."""
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def dumps(obj) -> str:
    return json.dumps(obj, default=lambda o: o.__dict__)
