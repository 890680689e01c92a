"""Redis frozen (issue 34, probe 3): SIGSTOP of redis-server for FROZEN_SECONDS (20) under the real
processes, what a slow disk, a long fork or a network partition looks like to a client: the
kernel still accepts connections, nothing answers. Before, every Redis command waited redis-py's
5 s and a retry: /voice/hold, /voice/incoming and the API went past Twilio's 15 s, and
/voice/fallback, which needs no Redis, waited 9-15 s behind the threads blocked on it.

While it is frozen, Twilio's webhooks (hold and wait URLs of callers on hold, a caller arriving,
the fallback, a status callback), /health and the API are sent again and again, 12 at a time,
beside more console event streams than their budget; each must answer within its budget
(2 s, connection.WEBHOOK_BUDGET_SECONDS) with its fallback: a hold or wait URL with the music and a
retry (Say/Play/Pause/Redirect only), a caller arriving with the staffed line, a status callback
503, the API 503. After it thaws, the hold URL answers as before and the callbacks booked before
are each made once, lead first."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import count

import requests
from twilio.request_validator import RequestValidator

from sim.people import Person
from sim.world import WAIT_HOLD_VERBS
from telephony.config import Settings
from telephony.context import new_id
from telephony.core import build_core
from tests.chaos.rig import AUTH_TOKEN, NUMBER, STAFFED_LINE, Rig, book_callbacks, callback_people, chaos_policy
from tests.processes import wait_for
from tests.support import TOKENS

FROZEN_SECONDS = 20.0
# Each webhook's budget: telephony/adapters/store/connection.py's WEBHOOK_BUDGET_SECONDS, written
# out here so that this test runs against code from before the budget existed.
WEBHOOK_BUDGET_SECONDS = 2.0
CALLBACKS = 6
HOLDING = 4
SENDERS = 12
STREAMS = 16  # twice the console's budget of streams a process (routes/console.py)


@dataclass
class Answer:
    what: str
    status: int
    seconds: float
    body: str


def holding_escalations(core, n: int) -> list[tuple[str, str]]:
    """Callers on hold while a lead is rung: (escalation id, caller's call SID)."""
    held = []
    for i in range(n):
        esc_id, call_sid = new_id("esc"), f"CA{0xF000 + i:032x}"
        core.ctx.store.create_escalation(
            esc_id,
            call_sid,
            {
                "kind": "manager_request",
                "state": "dialing_lead",
                "reason": "billed twice",
                "client": {"name": f"Held {i}"},
                "created_at": core.ctx.now_iso(),
            },
            None,
            core.ctx.clock.now().timestamp(),
        )
        held.append((esc_id, call_sid))
    return held


class Sender:
    """Twilio's webhooks and staff's requests, each timed by the wall clock."""

    def __init__(self, rig: Rig, held: list[tuple[str, str]]):
        self.rig, self.held = rig, held
        self.validator = RequestValidator(AUTH_TOKEN)
        self.n = count()

    def signed(self, what: str, path: str, params: dict[str, str]) -> Answer:
        url = self.rig.base + path
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
        return self._timed(what, lambda: requests.post(url, data=params, headers=headers, timeout=30))

    def _timed(self, what: str, send) -> Answer:
        start = time.monotonic()
        try:
            response = send()
        except requests.RequestException as exc:  # no answer at all: past any budget
            return Answer(what, 0, time.monotonic() - start, str(exc))
        return Answer(what, response.status_code, time.monotonic() - start, response.text)

    def one(self) -> Answer:
        i = next(self.n)
        esc_id, call_sid = self.held[i % len(self.held)]
        kind = i % 7
        if kind == 0:
            return self.signed("hold", f"/voice/hold?escalation={esc_id}&check_in=1", {"CallSid": call_sid})
        if kind == 1:
            return self.signed("wait", "/voice/wait", {"CallSid": call_sid})
        if kind == 2:
            sid = f"CA{0xA0000 + i:032x}"
            return self.signed("incoming", "/voice/incoming", {"CallSid": sid, "From": "+13125550142", "To": NUMBER})
        if kind == 3:
            return self.signed("fallback", "/voice/fallback", {"CallSid": call_sid, "ErrorCode": "11200"})
        if kind == 4:
            return self.signed(
                "status", "/voice/status", {"CallSid": f"CA{0xB0000 + i:032x}", "CallStatus": "completed"}
            )
        if kind == 5:
            return self._timed("health", lambda: requests.get(self.rig.base + "/health", timeout=30))
        return self._timed("api", lambda: self.rig.api("GET", "/api/escalations", who="lead-lee"))

    def stream(self) -> Answer:
        headers = {"Authorization": f"Bearer {TOKENS['lead-lee'].token}", "Accept": "text/event-stream"}
        return self._timed("stream", lambda: requests.get(self.rig.base + "/api/events", headers=headers, timeout=40))


def verbs(body: str) -> set[str]:
    return {el.tag for el in ET.fromstring(body).iter()} - {"Response"}


def test_redis_frozen_every_webhook_answers_within_its_budget_with_its_fallback__R_HOLD_1_R_CB_8(tmp_path):
    people = [*callback_people(CALLBACKS, leads=4), Person("Front desk", "staff", STAFFED_LINE, answer_after=1.0)]
    policy = chaos_policy(tmp_path / "policy.toml", leads=4)
    with Rig(tmp_path, people, policy, speed=6.0) as rig:
        core = build_core(Settings.from_env(rig.env), rig.conn)
        held = holding_escalations(core, HOLDING)
        booked = book_callbacks(rig, CALLBACKS, spread_seconds=20, after_seconds=240)
        sender = Sender(rig, held)
        before = sender.one()
        assert before.status == 200 and verbs(before.body) <= WAIT_HOLD_VERBS

        answers: list[Answer] = []
        with ThreadPoolExecutor(SENDERS + STREAMS) as pool:
            streams = [pool.submit(sender.stream) for _ in range(STREAMS)]
            rig.freeze_redis()
            frozen_at = time.monotonic()
            try:
                while time.monotonic() - frozen_at < FROZEN_SECONDS:
                    answers += [f.result() for f in [pool.submit(sender.one) for _ in range(SENDERS)]]
                    time.sleep(0.05)  # a steady load, not as fast as the machine allows
            finally:
                rig.thaw_redis()
            [s.result() for s in streams]

        by_what: dict[str, list[Answer]] = {}
        for answer in answers:
            by_what.setdefault(answer.what, []).append(answer)
        slowest = {what: max(a.seconds for a in got) for what, got in by_what.items()}
        print(f"frozen {FROZEN_SECONDS:.0f} s: {len(answers)} requests; slowest per kind (s): {slowest}")
        late = [(a.what, round(a.seconds, 2)) for a in answers if a.seconds > WEBHOOK_BUDGET_SECONDS]
        assert not late, f"answered past the {WEBHOOK_BUDGET_SECONDS} s budget: {late[:20]}"
        assert len(answers) >= 7 * SENDERS, "requests kept being answered through the freeze"
        for answer in by_what["hold"] + by_what["wait"]:
            assert answer.status == 200 and verbs(answer.body) <= WAIT_HOLD_VERBS, answer
        for answer in by_what["incoming"] + by_what["fallback"]:
            assert answer.status == 200 and f"<Number>{STAFFED_LINE}</Number>" in answer.body, answer
        assert {a.status for a in by_what["status"]} <= {204, 503}, "a status callback is refused, never a 500"
        assert {a.status for a in by_what["api"]} <= {200, 503}
        assert {a.status for a in by_what["health"]} <= {200, 503}

        after = sender.signed("hold", f"/voice/hold?escalation={held[0][0]}&check_in=0", {"CallSid": held[0][1]})
        assert after.status == 200 and "<Play>" in after.body and after.seconds < WEBHOOK_BUDGET_SECONDS
        rig.world.speed = 30.0  # on to the callbacks' time
        wait_for(
            lambda: all((core.ctx.store.callback(i) or {}).get("status") == "completed" for i in booked),
            "the callbacks booked before the freeze to be made after it",
            rig.log,
            limit=90,
        )
        dialled = [r.params["To"][0] for r in rig.create_calls() if r.status == 201]
        for number in booked.values():
            assert dialled.count(number) == 1, f"{number} dialled {dialled.count(number)} times"
        assert all(p.poll() is None for p in (rig.web, rig.scheduler, *rig.rq)), "every process is still up"
