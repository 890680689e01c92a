"""The chaos rig (issue 11): the service as it is deployed, as real processes on loopback (a
private append-only redis-server, gunicorn, `rq worker`s, `python -m workers.scheduler`), with
the Twilio simulator (its REST server and its calls) in the test process on a virtual clock
that follows the wall clock at `speed` times, shared with the service through Redis
(CLOCK=virtual). Every load is bounded in count and time and stops by itself."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import requests
import rq
import rq.job
import rq.registry

from sim.people import Person, Reply
from sim.rest import RestFaults, create_rest_app
from sim.runner import serve
from sim.transcript import Transcript
from sim.world import World
from telephony.adapters.local_redis import LocalRedis, free_port
from telephony.adapters.redis_clock import RedisClock
from telephony.config import Settings
from telephony.context import new_id
from telephony.core import build_core
from tests.processes import BIN, QUEUES, kill_worker_and_horse, rq_worker, spawn, wait_for
from tests.support import ROOT, TOKENS
from workers.scheduler import LEASE_KEY

ACCOUNT_SID = "AC" + "7" * 32
AUTH_TOKEN = "chaos-auth-token-0123456789abcdef"
NUMBER = "+13125550100"
STAFFED_LINE = "+13125550190"  # policies/default.toml's fallback_endpoint
DEFAULT_LEADS = ("+13125550111", "sip:morgan@leads.example.com")  # policies/default.toml
DEFAULT_SUPERVISOR = "+13125550121"  # supervisor-sam: manager_request's tier after the leads


def chaos_policy(path: Path, leads: int = 0, agents: int = 0, managers: int = 0) -> Path:
    """The default policy with `leads`, `agents` and `managers` more, so a load of callbacks or
    calls is not queued behind two people."""
    text = (ROOT / "policies" / "default.toml").read_text()
    # No free lead is tried again in 30 s, up to 20 times a window (default: 600 s, 3 times).
    text = text.replace("attempts_per_window = 3", "attempts_per_window = 20")
    text = text.replace("retry_spacing_seconds = 600", "retry_spacing_seconds = 30")
    for i in range(leads):
        text += f'\n[[people]]\nid = "lead-x{i:03d}"\nname = "Lead X{i:03d}"\nrole = "lead"\nendpoint = "{lead_number(i)}"\n'
    for i in range(agents):
        text += f'\n[[people]]\nid = "agent-x{i:03d}"\nname = "Agent X{i:03d}"\nrole = "agent"\nendpoint = "client:agent-x{i:03d}"\n'
    for i in range(managers):
        text += f'\n[[people]]\nid = "manager-x{i:03d}"\nname = "Manager X{i:03d}"\nrole = "manager"\nendpoint = "+1312554{i:04d}"\n'
    path.write_text(text)
    return path


def lead_number(i: int) -> str:
    return f"+1312557{i:04d}"


def caller_number(i: int) -> str:
    return f"+1312556{i:04d}"


@dataclass
class Rig:
    """Start with `with Rig(tmp_path, people, policy) as rig:`; nothing is left running after."""

    tmp: Path
    people: list[Person]
    policy_file: Path
    speed: float = 10.0
    workers: int = 2
    outbound_calls_per_second: int = 1000
    rest_faults: RestFaults = field(default_factory=RestFaults)
    start: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.log = self.tmp / "processes.log"
        self.transcript = Transcript()
        self.rq: list = []
        self.scheduler = None
        self.web = None
        self._served = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- up and down ----------------------------------------------------------------------------
    def __enter__(self) -> Rig:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.redis = LocalRedis.start(self.tmp / "redis", appendonly=True)
        self.conn = redis.Redis.from_url(self.redis.url, socket_timeout=5)
        # The simulator's clock: a short timeout, so a frozen Redis (SIGSTOP) stalls the world's
        # calls for a moment per tick, not for redis-py's 5 s.
        self.clock_conn = redis.Redis.from_url(self.redis.url, socket_timeout=0.2, socket_connect_timeout=0.2)
        self.clock = RedisClock(self.clock_conn)
        self.clock.set(self.start)
        self.web_port, rest_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.world = World(
            self.people,
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            number=NUMBER,
            incoming_url=f"{self.base}/voice/incoming",
            status_url=f"{self.base}/voice/status",
            fallback_url=f"{self.base}/voice/fallback",
            transcript=self.transcript,
            on_tick=self._tick,
            next_timer=lambda: self.world.now + 0.5,  # time keeps moving while the service works
            speed=self.speed,
            epoch=self.start,
        )
        self.world.deliver_in_parallel(16)
        self._served.append(serve(create_rest_app(self.world, self.rest_faults), rest_port))
        self.env = {
            **os.environ,
            "REDIS_URL": self.redis.url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_CALLER_ID": NUMBER,
            "PUBLIC_BASE_URL": self.base,
            "TWILIO_API_BASE_URL": f"http://127.0.0.1:{rest_port}",
            "POLICY_FILE": str(self.policy_file),
            "API_TOKENS": ",".join(f"{t.token}:{t.person_id}:{t.role}" for t in TOKENS.values()),
            "CLOCK": "virtual",
            "LOG_FORMAT": "text",
            "OUTBOUND_CALLS_PER_SECOND": str(self.outbound_calls_per_second),
            "TWILIO_REST_TIMEOUT_SECONDS": "1",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",  # a kill -9 loses no log line
            **self.extra_env,
        }
        self.web_log = self.tmp / "web.log"
        self._start_web()
        self.scheduler = spawn([str(BIN / "python"), "-m", "workers.scheduler"], self.env, self.log)
        self.rq = [rq_worker(self.env, self.log) for _ in range(self.workers)]
        self.wait_until_working()
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    def _start_web(self) -> None:
        self.web = spawn(
            [
                str(BIN / "gunicorn"),
                "--preload",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                "1",
                "--timeout",
                "30",
                "wsgi:app",
            ],
            self.env,
            self.web_log,
        )
        wait_for(lambda: self._get("/health") == 200, "gunicorn to answer /health", self.web_log)

    def kill_web(self) -> None:
        """kill -9 of gunicorn and its workers (a deploy without draining, a crashed host)."""
        kill_worker_and_horse(self.web)

    def start_web(self) -> None:
        self._start_web()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for process in [*self.rq, self.scheduler, self.web]:
            if process is not None and process.poll() is None:
                kill_worker_and_horse(process)
        if getattr(self, "world", None) is not None and self.world.pool is not None:
            self.world.pool.shutdown(wait=False, cancel_futures=True)
        for served in self._served:
            served.stop()
        if getattr(self, "redis", None) is not None:
            self.thaw_redis()
            self.conn.close()
            self.clock_conn.close()
            self.redis.stop()

    # -- the simulated world on its clock -------------------------------------------------------
    def _tick(self, now: float) -> None:
        try:
            self.clock.set(self.start + timedelta(seconds=now))
        except redis.RedisError:
            pass  # Redis is down on purpose: the clock stands still with it

    def _play(self) -> None:
        while not self._stop.is_set():
            self.world.run(until=self.world.now + 1, stop=self._stop.is_set)

    def virtual_now(self) -> datetime:
        return self.start + timedelta(seconds=self.world.now)

    # -- the processes --------------------------------------------------------------------------
    def kill_worker(self, i: int, mid_job: bool = True, limit: float = 5.0) -> bool:
        """kill -9 worker `i` (and a work-horse if it has one), preferably while it runs a job
        (RQ's own record of it: a started job of its name); then start it again. True if it was
        running a job at the kill."""
        worker = self.rq[i]
        deadline = time.monotonic() + limit
        busy = False
        registered = None
        while mid_job and time.monotonic() < deadline:
            try:
                if registered is None:
                    registered = next((w for w in rq.Worker.all(connection=self.conn) if w.pid == worker.pid), None)
                elif self._running_a_job(registered.name):
                    busy = True
                    break
            except redis.RedisError:
                pass
            time.sleep(0.002)
        kill_worker_and_horse(worker)
        self.rq[i] = rq_worker(self.env, self.log)
        return busy

    def _running_a_job(self, worker_name: str) -> bool:
        for queue in QUEUES:
            for job_id in rq.registry.StartedJobRegistry(queue, connection=self.conn).get_job_ids():
                if self.conn.hget(rq.job.Job.key_for(job_id), "worker_name") == worker_name.encode():
                    return True
        return False

    def wait_until_working(self) -> None:
        """Every worker registered with Redis and the scheduler holding its lease: before this,
        a fault would only stop processes that had not started yet."""
        wait_for(
            lambda: (
                len({w.pid for w in rq.Worker.all(connection=self.conn)} & {p.pid for p in self.rq}) == len(self.rq)
                and self.conn.get(LEASE_KEY) is not None
            ),
            "the workers and the scheduler to start",
            self.log,
        )

    def restart_redis(self, down_seconds: float = 0.0) -> None:
        """kill -9 redis-server (what a crash or an OOM kill does) and start it again on the same
        port and append-only file after `down_seconds`."""
        self.redis.process.kill()
        self.redis.process.wait()
        if down_seconds:
            time.sleep(down_seconds)
        self.redis = LocalRedis.start(self.redis.data_dir, port=self.redis.port, appendonly=True)

    def freeze_redis(self) -> None:
        """SIGSTOP redis-server: what a slow disk, a long fork or a partition looks like to a
        client. Connections are still accepted by the kernel; nothing answers."""
        self.redis.process.send_signal(signal.SIGSTOP)

    def thaw_redis(self) -> None:
        if self.redis.process.poll() is None:
            self.redis.process.send_signal(signal.SIGCONT)

    # -- reading --------------------------------------------------------------------------------
    def _get(self, path: str) -> int:
        try:
            return requests.get(self.base + path, timeout=2).status_code
        except requests.RequestException:
            return 0

    def api(self, method: str, path: str, who: str = "lead-lee", **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {TOKENS[who].token}"}
        return requests.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def create_calls(self) -> list:
        return [r for r in list(self.world.rest_log) if r.method == "POST" and r.path.endswith("/Calls.json")]


def callback_people(n: int, leads: int) -> list[Person]:
    """Everyone the policy may ring for a callback picks up and presses 1 for as many callbacks as
    come: every lead, and supervisor-sam, the kind's next tier (R-ESC-6). The service rings Sam
    when every lead is on another callback at that moment, which a few seconds' stall of the
    workers on a loaded machine brings about at 10 virtual seconds a second (dials bunch up
    behind it: 48 of the 52 leads were busy at once after a 7 s SIGSTOP of the workers). Left
    unscripted, Sam never answered, the attempt failed and was dialled again: lead, lead, caller.
    Each caller picks up their own callback and talks for a few seconds."""
    numbers = [("Lead Lee", "lead", DEFAULT_LEADS[0]), ("Lead Morgan", "lead", DEFAULT_LEADS[1])]
    numbers += [(f"Lead X{i:03d}", "lead", lead_number(i)) for i in range(leads)]
    numbers += [("Supervisor Sam", "supervisor", DEFAULT_SUPERVISOR)]
    staff = [
        Person(
            name,
            role,
            number,
            answer_after=1.0,
            replies=[Reply(digits="1", heard="Press 1 to call them now") for _ in range(n)],
        )
        for name, role, number in numbers
    ]
    callers = [Person(f"Caller {i}", "caller", caller_number(i), answer_after=2.0, hang_up_after=4.0) for i in range(n)]
    return staff + callers


def book_callbacks(rig: Rig, n: int, spread_seconds: float = 180, after_seconds: float = 60) -> dict[str, str]:
    """n callbacks booked the way a caller books one (CallbackCapture.book), due one after another
    over `spread_seconds`, the first `after_seconds` from now; returns callback id -> the caller's number."""
    core = build_core(Settings.from_env(rig.env), redis.Redis.from_url(rig.redis.url))
    now = core.ctx.clock.now()
    booked = {}
    for i in range(n):
        esc_id = new_id("esc")
        core.ctx.store.create_escalation(
            esc_id,
            f"CA{i:032x}",
            {
                "kind": "manager_request",
                "state": "dialing_lead",
                "reason": "billed twice",
                "client": {"name": f"Client {i}", "account": f"{100000 + i}"},
                "created_at": core.ctx.now_iso(),
            },
            None,
            now.timestamp(),
        )
        start = now + timedelta(seconds=after_seconds + spread_seconds * i / n)
        view = core.callback_capture.book(esc_id, caller_number(i), start, start + timedelta(hours=2), "soon", False)
        booked[view["id"]] = caller_number(i)
    return booked
