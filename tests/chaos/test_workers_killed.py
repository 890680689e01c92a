"""Workers killed (issue 11, R-CB-8): CHAOS_CALLBACKS callbacks (default 200) fall due within a
few minutes of virtual time; two real `rq worker`s and the scheduler dial them through the
simulator while each worker in turn is `kill -9`ed (with its work-horse) in the middle of a job
and started again. Every callback is dialled exactly once, its lead first, then its caller,
counted at the simulator's REST server. `CHAOS_CALLBACKS=1000 pytest tests/chaos` is the long run."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter, defaultdict
from urllib.parse import parse_qs, urlparse

from telephony.config import Settings
from telephony.core import build_core
from tests.chaos.rig import Rig, book_callbacks, callback_people, chaos_policy
from tests.processes import wait_for

CALLBACKS = int(os.environ.get("CHAOS_CALLBACKS", "200"))
# A lead is busy ~25 s a callback (about 28 at once here): enough of them that none waits while the
# workers keep up; when they stall and dials bunch, Sam (the next tier, scripted too) takes the rest.
LEADS = max(40, CALLBACKS // 4)
KILLS = int(os.environ.get("CHAOS_KILLS", "6"))


def where_things_are(core, booked) -> str:
    """On a failure: the callbacks by status and who holds the busy leads."""
    statuses = Counter((core.ctx.store.callback(i) or {}).get("status") for i in booked)
    holders = {}
    for person in core.policy.people:
        holder = core.ctx.store.r.get(core.ctx.store.k.holder(person.id))
        if holder:
            cb = core.ctx.store.callback(holder.decode()) or {}
            holders[person.id] = (holder.decode(), cb.get("status"), cb.get("lead"), cb.get("caller_call_sid"))
    stuck = [i for i in booked if (core.ctx.store.callback(i) or {}).get("status") != "completed"][:1]
    told = "\n".join(f"{e['at']} {e['event']} {e['detail']}" for i in stuck for e in story(core, i))
    fields = {
        k: v for i in stuck for k, v in (core.ctx.store.callback(i) or {}).items() if k not in ("client", "reason")
    }
    return (
        f"callbacks by status: {dict(statuses)}; busy people: {len(holders)}, e.g. {list(holders.items())[:5]}; "
        f"one not made: {fields}\n{told}"
    )


def story(core, cb_id: str) -> list[dict]:
    return core.warm_transfer.view(core.callbacks.view(cb_id)["escalation_id"])["timeline"]


def test_every_callback_dialled_once_lead_then_caller_while_workers_are_killed__R_CB_8(tmp_path):
    policy = chaos_policy(tmp_path / "policy.toml", leads=LEADS)
    with Rig(tmp_path, callback_people(CALLBACKS, LEADS), policy, speed=10.0) as rig:
        booked = book_callbacks(rig, CALLBACKS)
        core = build_core(Settings.from_env(rig.env), rig.conn)
        kills: list[bool] = []
        stop = threading.Event()

        def killer():
            rng = random.Random(3)
            while not stop.is_set() and len(kills) < KILLS:
                time.sleep(rng.uniform(0.5, 2.5))
                if any(c.get("status") == "dialing" for c in map(core.ctx.store.callback, booked)) or len(kills) < 2:
                    kills.append(rig.kill_worker(len(kills) % 2))

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()

        def done() -> bool:
            statuses = [(core.ctx.store.callback(i) or {}).get("status") for i in booked]
            if statuses.count("completed") >= 0.9 * len(statuses):
                rig.world.speed = 60.0  # the stragglers wait on the sweeper (every 5 virtual minutes)
            return all(s == "completed" for s in statuses)

        try:
            wait_for(done, f"all {CALLBACKS} callbacks to be made", rig.log, limit=60 + CALLBACKS * 0.25)
        except AssertionError as exc:
            raise AssertionError(f"{where_things_are(core, booked)}\n{exc}") from None
        finally:
            stop.set()
            thread.join(timeout=30)

        per_callback: dict[str, list[str]] = defaultdict(list)
        for request in rig.create_calls():
            assert request.status == 201, request
            url = request.params["Url"][0]
            cb_id = parse_qs(urlparse(url).query)["callback"][0]
            per_callback[cb_id].append("lead" if "/callback/lead/" in url else request.params["To"][0])
        wrong = {cb: legs for cb, legs in per_callback.items() if legs != ["lead", booked[cb]]}
        assert set(per_callback) == set(booked), "every callback was dialled"
        assert wrong == {}, (
            f"{len(wrong)} of {CALLBACKS} callbacks not dialled exactly once, lead then caller; the first: "
            + "\n".join(f"{e['at']} {e['event']} {e['detail']}" for e in story(core, next(iter(wrong))))
        )
        assert len(kills) == KILLS and sum(kills) >= KILLS // 2, f"killed {len(kills)}, mid-job {sum(kills)}"
        states = {core.warm_transfer.view(c["escalation_id"])["state"] for c in map(core.callbacks.view, booked)}
        assert states <= {"connected", "resolved"}, states
        print(
            f"\nchaos: {CALLBACKS} callbacks, {len(kills)} kill -9 ({sum(kills)} mid-job), "
            f"{len(rig.create_calls())} CreateCall for {CALLBACKS} callbacks (2 each: lead, caller)"
        )
