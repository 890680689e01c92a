"""A whole simulated run on one machine: a private Redis, the real web service on loopback, the
simulated Twilio (REST API + calls), and RQ jobs run by an in-process worker on the shared
virtual clock."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import requests
from rq import SimpleWorker
from werkzeug.serving import make_server

import workers.runtime
from routes import create_app
from sim.mailbox import Delivered, Mailbox
from sim.people import Person
from sim.rest import RestFaults, create_rest_app
from sim.transcript import Transcript
from sim.world import World
from telephony.adapters.local_redis import LocalRedis, free_port
from telephony.adapters.redis_clock import RedisClock
from telephony.config import ApiToken, Settings
from telephony.core import build_core
from telephony.lifecycle import HOLDING_STATES, OPEN_CALLBACK_STATUSES
from telephony.organisations import Organisations, build_organisations

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "simulated-auth-token-0123456789"
NUMBER = "+13125550100"
CALL_ACTIONS = {
    "warn": ("POST", "/api/calls/{call}/warnings"),
    "act_on_warnings": ("POST", "/api/calls/{call}/warnings/action"),
    "listen": ("POST", "/api/calls/{call}/listen"),
    "coach": ("POST", "/api/calls/{call}/coach"),
    "stop_listening": ("DELETE", "/api/calls/{call}/listen"),
    "early_warning": ("POST", "/api/calls/{call}/early-warning"),
    "note": ("POST", "/api/calls/{call}/notes"),
}
MAIL_FROM = "Escalations <escalations@sim.example.com>"
START = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Chicago


class InProcessWorker(SimpleWorker):
    """RQ's SimpleWorker without its command channel: nobody sends commands to a worker that
    lives for one burst, and joining the pub/sub thread cost ~0.4 s a burst (tests/chaos)."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass

    def run_maintenance_tasks(self) -> None:
        """Nothing to clean: a worker that lives for one burst leaves no started job behind, RQ's
        retries are released by the timers (release_due), and the registries go with the
        simulation's Redis. RQ ran this on every burst (a new worker has never cleaned): about
        6% of a replay's time."""


@dataclass
class Served:
    server: object
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def serve(app, port: int) -> Served:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return Served(server, thread)


@dataclass
class Simulation:
    people: list[Person]
    policy_file: Path
    data_dir: Path
    live: bool = False
    speed: float | None = None
    chaos: bool = False
    service_port: int = 0
    redis_url: str | None = None
    start: datetime = START
    rest_faults: RestFaults | None = None  # Twilio failing on purpose (tests/chaos)
    outbound_calls_per_second: int = 10
    rest_timeout_seconds: float = 5.0
    world_class: type[World] = World  # sim/replay.py's World, which scripts each call's people
    transcript: Transcript = field(init=False)

    def __post_init__(self):
        self.transcript = Transcript(live=self.live)
        self._notices_by_org: dict[str, int] = {}
        self._served: list[Served] = []
        self._redis: LocalRedis | None = None
        # The managers' inbox (R-NOTE-2): a real SMTP server on loopback, like the simulated Twilio.
        self.mailbox = Mailbox()

    def __enter__(self) -> Simulation:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        if self.redis_url is None:
            self._redis = LocalRedis.start(self.data_dir / "redis", appendonly=True)
            self.redis_url = self._redis.url
        self.conn = redis.Redis.from_url(self.redis_url)
        self.conn.flushall()
        self.clock = RedisClock(self.conn)
        self.clock.set(self.start)
        service_port = self.service_port or free_port()
        rest_port = free_port()
        tokens = {p.token: ApiToken(p.token, p.id, p.role) for p in self.people if p.token and p.id}
        self.base = f"http://127.0.0.1:{service_port}"
        self.mailbox.start()
        self.settings = Settings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_caller_id=NUMBER,
            public_base_url=self.base,
            redis_url=self.redis_url,
            # A folder: several organisations on this one deployment, picked by the number dialled.
            policy_file=None if self.policy_file.is_dir() else self.policy_file,
            policies_dir=self.policy_file if self.policy_file.is_dir() else None,
            api_tokens=tokens,
            twilio_api_base_url=f"http://127.0.0.1:{rest_port}",
            virtual_clock=True,
            outbound_calls_per_second=self.outbound_calls_per_second,
            twilio_rest_timeout_seconds=self.rest_timeout_seconds,
            data_dir=self.data_dir,
            smtp_url=self.mailbox.url(),
            smtp_from=MAIL_FROM,
        )
        if self.policy_file.is_dir():
            self.served = build_organisations(self.settings, self.conn, clock=self.clock)
        else:
            self.served = Organisations.single(build_core(self.settings, self.conn, clock=self.clock))
        self.core = self.served.all()[0]
        workers.runtime.use(self.served)
        self.world = self.world_class(
            self.people,
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            number=NUMBER,
            incoming_url=f"{self.base}/voice/incoming",
            status_url=f"{self.base}/voice/status",
            fallback_url=f"{self.base}/voice/fallback",
            transcript=self.transcript,
            on_tick=self._tick,
            next_timer=self._next_timer,
            speed=self.speed,
            chaos=self.chaos,
            epoch=self.start,
        )
        self.world.agent_api = self._agent_api
        try:
            self._served.append(serve(create_app(self.settings, organisations=self.served), service_port))
            self._served.append(serve(create_rest_app(self.world, self.rest_faults), rest_port))
        except (OSError, SystemExit) as exc:
            self.__exit__(None, None, None)
            raise OSError(f"cannot listen on 127.0.0.1:{service_port}") from exc
        return self

    def __exit__(self, *exc) -> None:
        for served in self._served:
            served.stop()
        workers.runtime.use(None)
        self.mailbox.stop()
        if self._redis is not None:
            self._redis.stop()

    # -- time: the service and its worker share the simulator's clock ---------------------------
    def _tick(self, now: float) -> None:
        self.clock.set(self.start + timedelta(seconds=now))
        timers = self.core.ctx.timers
        while timers.release_due() or any(q.count for q in timers.queues()):
            InProcessWorker(timers.queues(), connection=self.conn).work(burst=True, logging_level="WARNING")
        self._show_notices()

    def _show_notices(self) -> None:
        """What the service posted (team channel, a leader, the managers) goes into the transcript
        the moment a job posted it, so a red flag told mid-call shows mid-call (R-NOTE-5)."""
        for core in self.served.all():
            org = core.policy.organisation_id
            shown = self._notices_by_org.get(org, 0)
            notes = core.ctx.store.notifications(shown)
            self._notices_by_org[org] = shown + len(notes)
            who = "notify" if len(self.served.all()) == 1 else f"notify ({core.policy.name})"
            for note in notes:
                self.transcript.add(self.world.now, who, "posts", f"to {note.get('to')}: {note.get('text', '')}")

    def _next_timer(self) -> float | None:
        due = self.core.ctx.timers.next_due()
        return (due - self.start).total_seconds() if due else None

    def run(self, seconds: float) -> None:
        self.world.run(until=self.world.now + seconds)

    def play_out(self, seconds: float) -> str:
        """Play the scenario for at most `seconds`, and no longer than it lasts (issue 35): it is
        over when every call of it has ended, the simulated Twilio has told the service all of it,
        and nothing of it waits in the service (no callback to make, no caller held). A timer left
        over does not hold it up (a hold limit of a caller long since connected does nothing when
        due); while nothing is on the phone but something waits, the transcript says what, once.
        Returns the line that says how it ended, true when printed."""
        said: set[str] = set()
        finished: list[float] = []

        def over() -> bool:
            if not self.world.calls_over():
                return False
            waiting = self._waiting_for()
            for line in waiting:
                if line not in said:
                    said.add(line)
                    self.transcript.add(self.world.now, "demo", "waits", line)
            if not waiting:
                finished.append(self.world.now)
            return not waiting

        self.world.run(until=self.world.now + seconds, stop=over)
        at = _clock(self.world.now)
        if finished:
            return f"[{at}] The scenario is over: every call has ended and nothing of it is waiting."
        left = self._waiting_for() if self.world.calls_over() else ["a call still in progress"]
        return f"[{at}] The demo stops here: nothing more happens within the scenario's {seconds / 60:g} minutes" + (
            f" (still waiting: {'; '.join(left)})." if left else "."
        )

    def _waiting_for(self) -> list[str]:
        """What of the scenario the service still has to do with nobody on the phone."""
        waiting = []
        for core in self.served.all():
            for cb in core.callbacks.list(None):
                if cb["status"] in OPEN_CALLBACK_STATUSES:
                    opens, closes = (
                        max(0.0, (datetime.fromisoformat(cb[k]) - self.start).total_seconds())
                        for k in ("window_start", "window_end")
                    )
                    tries = f"{cb['attempts']} attempt{'s' if cb['attempts'] != 1 else ''} so far"
                    waiting.append(
                        f"no call in progress: the callback to {cb['number']} is {cb['status']} ({tries}), "
                        f"made in its window from {_clock(opens)} to {_clock(closes)} on this clock"
                    )
            for esc in core.warm_transfer.list(None):
                if esc["state"] in HOLDING_STATES:
                    waiting.append(f"escalation {esc['id']} is still {esc['state']}")
        return waiting

    def run_to(self, second: float) -> None:
        """Play up to this virtual second and set the clock there even if nothing happens then
        (a console watching the clock sees exactly that moment)."""
        self.world.run(until=second)
        self.world.now = max(self.world.now, second)
        self._tick(self.world.now)

    # -- the agent's softphone -------------------------------------------------------------------
    def _agent_api(self, person: Person, action: str, body: dict) -> None:
        headers = {"Authorization": f"Bearer {person.token}"}
        if action == "escalate":
            calls = requests.get(f"{self.base}/api/calls", headers=headers, timeout=15).json()["calls"]
            if not calls:
                self.transcript.add(self.world.now, person.name, "softphone", "no live call to escalate")
                return
            self.transcript.add(self.world.now, person.name, "softphone", f"presses escalate ({body.get('kind')})")
            response = requests.post(
                f"{self.base}/api/escalations",
                json={"call_sid": calls[0]["call_sid"], **body},
                headers=headers,
                timeout=15,
            )
            detail = response.json().get("state") or response.json().get("message")
            self.transcript.add(self.world.now, person.name, "softphone", f"escalate: {response.status_code} {detail}")
        elif action == "connect":
            escalations = requests.get(
                f"{self.base}/api/escalations?state=briefing", headers=headers, timeout=15
            ).json()["escalations"]
            mine = [e for e in escalations if e.get("agent") == person.id]
            if not mine:
                self.transcript.add(self.world.now, person.name, "softphone", "nothing to connect")
                return
            self.transcript.add(self.world.now, person.name, "softphone", "presses connect")
            response = requests.post(
                f"{self.base}/api/escalations/{mine[0]['id']}/connect", json=body, headers=headers, timeout=15
            )
            self.transcript.add(
                self.world.now,
                person.name,
                "softphone",
                f"connect: {response.status_code} {response.json().get('state')}",
            )
        elif action in CALL_ACTIONS:
            self._call_action(person, action, body)

    def _call_action(self, person: Person, action: str, body: dict) -> None:
        """A softphone or console button on the live call: the warnings (R-ABUSE-1), listen-in
        and coach (R-WARM-7)."""
        headers = {"Authorization": f"Bearer {person.token}"}
        calls = requests.get(f"{self.base}/api/calls", headers=headers, timeout=15).json()["calls"]
        if not calls:
            self.transcript.add(self.world.now, person.name, "softphone", f"no live call to {action}")
            return
        method, path = CALL_ACTIONS[action]
        self.transcript.add(self.world.now, person.name, "softphone", f"presses {action.replace('_', ' ')}")
        response = requests.request(
            method, self.base + path.format(call=calls[0]["call_sid"]), json=body, headers=headers, timeout=15
        )
        answer = response.json()
        if response.status_code == 200 and action == "warn":
            self.transcript.add(self.world.now, person.name, "says", answer["warnings"][-1]["words"])
            detail = f"warning {len(answer['warnings'])} recorded, next: {answer['next']}"
        elif response.status_code == 200 and "listener" in answer:
            detail = answer["mode"] or "left the call"
        elif response.status_code == 201 and "note" in answer:
            self.transcript.add(self.world.now, person.name, "writes", answer["note"]["text"])
            detail = f"note kept, red flags raised: {[f['phrase'] for f in answer['red_flags']] or 'none'}"
        else:
            detail = answer.get("message") or answer.get("state") or (answer.get("action") or {}).get("action", "")
        self.transcript.add(self.world.now, person.name, "softphone", f"{action}: {response.status_code} {detail}")

    # -- reading the outcome ------------------------------------------------------------------------
    def escalations(self) -> list[dict]:
        return self.core.warm_transfer.list(None)

    def callbacks(self) -> list[dict]:
        return self.core.callbacks.list(None)

    def emails(self) -> list[Delivered]:
        """What the managers' inbox received (R-NOTE-2)."""
        return list(self.mailbox.delivered)


def _clock(at: float) -> str:
    """A virtual second as the transcript prints it (mm:ss from the start)."""
    minutes, seconds = divmod(int(at), 60)
    return f"{minutes:02d}:{seconds:02d}"
