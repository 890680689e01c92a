"""The service as separate processes on loopback, laid out as on several machines (issue 11, more
than one machine): gunicorn web processes, `rq worker` processes and the scheduler, all on one
Redis (a plain URL or through Sentinel), Twilio's REST API served by TwilioStandIn (every request
still judged by Twilio's OpenAPI file), time on the shared virtual clock (CLOCK=virtual).

`FleetHarness` plays Twilio and the agents like tests.support.Harness, but over HTTP, sending each
request to the next web process in turn (round-robin, as a load balancer would), and leaves every
job to the real workers: after each request it waits until the queues are empty and nothing is
running (a give-up limit, never a timing assertion)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis
import requests
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from twilio.request_validator import RequestValidator

from telephony.adapters.local_redis import free_port
from telephony.adapters.redis_clock import RedisClock
from telephony.adapters.timers import RELEASING as TIMERS_RELEASING
from telephony.adapters.timers import TIMERS
from telephony.core import build_core
from tests.processes import BIN, service_env, spawn
from tests.support import AUTH_TOKEN, TOKENS, Harness, settings_for


@dataclass
class Fleet:
    """`web` gunicorn processes, `workers` RQ workers and one scheduler, on one Redis."""

    env: dict[str, str]
    log_dir: Path
    web: int = 2
    workers: int = 2
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)
    restarts: int = 0

    @property
    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self) -> Fleet:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for n in range(self.web):
            port = free_port()
            self.ports.append(port)
            args = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "30"]
            self.processes.append(spawn([*args, "wsgi:app"], self.env, self.log(f"web-{n}")))
        for n in range(self.workers):
            self.processes.append(self.worker(n))
        self.processes.append(spawn([str(BIN / "python"), "-m", "workers.scheduler"], self.env, self.log("scheduler")))
        deadline = time.monotonic() + 60
        for base in self.bases:
            while not _answers(base + "/health"):
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                    self.stop()
                    raise AssertionError("the fleet did not start:\n" + self.logs())
                time.sleep(0.1)
        return self

    def worker(self, n: int) -> subprocess.Popen:
        queues = ("escalations-urgent", "escalations")
        return spawn(
            [str(BIN / "rq"), "worker", "-c", "workers.rq_settings", "--name", f"worker-{n}-{os.getpid()}", *queues],
            self.env,
            self.log(f"worker-{n}"),
        )

    def supervise(self) -> None:
        """What supervisord does in `make run`: a worker or the scheduler that exited is started
        again (RQ's worker quits on some Redis errors during a fail-over)."""
        for i, process in enumerate(self.processes):
            if process.poll() is not None and i >= self.web:
                self.restarts += 1
                n = i - self.web
                if n < self.workers:
                    self.processes[i] = self.worker(n)
                else:
                    self.processes[i] = spawn(
                        [str(BIN / "python"), "-m", "workers.scheduler"], self.env, self.log("scheduler")
                    )

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(self.log_dir.glob("*.log")))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def fleet_env(redis_env: dict[str, str], twilio_url: str, **extra: str) -> dict[str, str]:
    env = service_env("", **redis_env, **extra)
    if "REDIS_URL" not in redis_env:
        env.pop("REDIS_URL")
    env.update(
        TWILIO_API_BASE_URL=twilio_url,
        CLOCK="virtual",
        OUTBOUND_CALLS_PER_SECOND="1000",
        SCHEDULER_TICK_SECONDS="0.02",
        LOG_LEVEL="WARNING",
        WEB_THREADS="8",
    )
    return env


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


class Answer:
    """A requests response shaped like Flask's test response (what Harness reads)."""

    def __init__(self, response: requests.Response, base: str):
        self.status_code = response.status_code
        self.headers = response.headers
        self.data = response.content
        self.mimetype = response.headers.get("Content-Type", "").split(";")[0].strip()
        self.base = base

    def get_data(self, as_text: bool = False):
        return self.data.decode() if as_text else self.data

    @property
    def json(self):
        return json.loads(self.data) if self.mimetype == "application/json" else None


class RoundRobin:
    """Each request to the next web process; every answer counted by process and status. A
    request that cannot reach any process (a web process restarting) is tried on the next."""

    def __init__(self, bases: list[str]):
        self.bases = bases
        self._next = itertools.cycle(range(len(bases)))
        self._lock = threading.Lock()
        self.served: dict[str, int] = {b: 0 for b in bases}
        self.statuses: dict[int, int] = {}
        self.server_errors: list[str] = []
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        """One session per thread: a test may play two calls at once."""
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def open(self, path: str, method: str = "GET", data=None, json=None, headers=None, content_type=None):
        headers = dict(headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        with self._lock:
            first = next(self._next)
        order = [(first + k) % len(self.bases) for k in range(len(self.bases))]
        for attempt, i in enumerate(order):
            base = self.bases[i]
            try:
                response = self.http.request(method, base + path, data=data, json=json, headers=headers, timeout=30)
            except requests.ConnectionError:
                if attempt == len(order) - 1:
                    raise
                continue
            with self._lock:
                self.served[base] += 1
                self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    self.server_errors.append(f"{method} {path} -> {response.status_code} {response.text[:200]}")
            return Answer(response, base)
        raise AssertionError("unreachable")

    def post(self, path: str, data=None, headers=None):
        return self.open(path, "POST", data=data, headers=headers)

    def get(self, path: str, headers=None):
        return self.open(path, "GET", headers=headers)


class FleetHarness(Harness):
    """Harness's call stories against the fleet: webhooks and API over HTTP, round-robin; jobs run
    by the fleet's workers; the clock in Redis, moved by the test."""

    def __init__(self, conn: redis.Redis, twilio_rest, bases: list[str], fleet: Fleet | None = None):
        self.tokens = TOKENS
        self.settings = settings_for(redis_url="redis://unused", virtual_clock=True)
        self.clock = RedisClock(conn)
        self.core = build_core(self.settings, conn, clock=self.clock)
        self.app = None
        self.client = RoundRobin(bases)
        self.twilio = self.client  # Twilio's webhooks too, over HTTP round robin
        self.rest = twilio_rest
        self.validator = RequestValidator(AUTH_TOKEN)
        self.work_after_requests = True
        self.fleet = fleet
        self.quiet_limit = 60.0
        self._events = threading.Lock()

    def conference_event(self, *args, **kwargs):
        """Harness numbers conference events from one counter: taken one at a time, so two calls
        played at once never send the same SequenceNumber (which Twilio never does)."""
        with self._events:
            return super().conference_event(*args, **kwargs)

    def timer_times(self) -> list[float]:
        """When the waiting timers fall due: the service's own (`esc:timers`, where every timer has
        lived since the scheduler moved off RQ's registry) and RQ's retries of failed jobs, read in
        one transaction (the scheduler moves them meanwhile). Reading only RQ's registry let
        advance() skip every timer on the way and quiet() pass while one was due but the scheduler
        had not ticked yet: the two-of-each day then went on (or was checked) before a callback was
        dialled, now and then on a loaded machine."""
        registry = ScheduledJobRegistry(queue=self.core.ctx.timers.queue).key
        with self.core.ctx.store.r.pipeline(transaction=True) as pipe:
            pipe.zrange(TIMERS, 0, -1, withscores=True)
            pipe.zrange(registry, 0, -1, withscores=True)
            ours, retries = pipe.execute()
        return [score for _, score in (*ours, *retries)]

    def quiet(self) -> bool:
        timers = self.core.ctx.timers
        now = self.clock.now().timestamp()
        if any(when <= now for when in self.timer_times()):
            return False
        conn = self.core.ctx.store.r
        if conn.hlen(TIMERS_RELEASING):
            return False  # taken by the scheduler, its batch job not yet queued
        for queue in timers.queues():
            if queue.count or conn.llen(queue.key + ":intermediate") or StartedJobRegistry(queue=queue).count:
                return False
        return True

    def run_jobs(self) -> int:
        """Wait until the scheduler has moved every due timer and the workers have run every job:
        quiet three times in a row, 10 ms apart (a job passing from one list to the next)."""
        deadline = time.monotonic() + self.quiet_limit
        calm = 0
        while calm < 3:
            if time.monotonic() > deadline:
                raise AssertionError("the workers never went quiet" + (self.fleet.logs() if self.fleet else ""))
            try:
                calm = calm + 1 if self.quiet() else 0
            except redis.RedisError:
                calm = 0
            if self.fleet is not None:
                self.fleet.supervise()
            time.sleep(0.01)
        return 0

    def run_urgent(self) -> None:
        self.run_jobs()

    def advance(self, seconds: float) -> None:
        """Move the shared clock, stopping at each timer on the way and letting the fleet run it."""
        target = self.clock.now().timestamp() + seconds
        while True:
            self.run_jobs()
            due = [when for when in self.timer_times() if when <= target]
            if not due:
                break
            self.clock.set(datetime.fromtimestamp(max(min(due), self.clock.now().timestamp()), UTC))
        self.clock.set(datetime.fromtimestamp(target, UTC))
        self.run_jobs()
