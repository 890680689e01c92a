"""Every web process killed and restarted (issue 34, probe 1): `kill -9` of gunicorn (a deploy
without draining, a crashed host) while callers talk with their agents and callbacks are booked;
the callers hang up during the gap, so every status callback about their calls reaches nobody
and is lost (Twilio does not send them again). Before, the agents stayed `busy` and the calls
stayed live for good, and callbacks dialled in a gap were left `dialing`. Now the scheduler's
reconciler asks Twilio about the calls it keeps once the web is back and applies what it hears:
nobody stays busy, no live call is left, and every callback booked is made exactly once, lead
then caller.

Not asserted here, and still lost (docs/faults.md): a caller on hold whose hold URL is fetched in
the gap (the simulator, like the probe, drops the call when a hold or wait URL gets no answer)."""

from __future__ import annotations

import time
from collections import defaultdict
from urllib.parse import parse_qs, urlparse

from sim.people import Person, Reply
from telephony.config import Settings
from telephony.core import build_core
from tests.chaos.rig import Rig, book_callbacks, callback_people, chaos_policy
from tests.processes import wait_for

CALLBACKS = 4
GAP_SECONDS = 3.0
AGENTS = ("agent-avery", "agent-blake")


def test_web_killed_and_restarted_lost_status_callbacks_are_reconciled_nobody_left_busy__R_CB_8(tmp_path):
    policy = chaos_policy(tmp_path / "policy.toml", leads=2)
    callers = [
        Person(
            f"Talking {i}", "caller", f"+1312558{i:04d}", answer_after=0, replies=[Reply("448812#", heard="account")]
        )
        for i in range(2)
    ]
    agents = [
        Person(name, "agent", f"client:{person}", answer_after=1.0)
        for name, person in zip(("Avery", "Blake"), AGENTS, strict=True)
    ]
    with Rig(tmp_path, [*callback_people(CALLBACKS, leads=2), *callers, *agents], policy, speed=10.0) as rig:
        core = build_core(Settings.from_env(rig.env), rig.conn)
        booked = book_callbacks(rig, CALLBACKS, spread_seconds=40, after_seconds=150)
        calls = [rig.world.incoming_call(caller) for caller in callers]
        wait_for(
            lambda: all(core.ctx.presence(a) == "busy" for a in AGENTS) and len(live_calls(rig)) == 2,
            "both callers to be talking with an agent",
            rig.log,
        )

        rig.kill_web()
        with rig.world.lock:
            for call in calls:
                rig.world.hang_up(call, "the caller hangs up while the web is down")
        time.sleep(GAP_SECONDS)
        rig.start_web()
        back = time.monotonic()
        wait_for(
            lambda: not any(core.ctx.presence(a) == "busy" for a in AGENTS) and live_calls(rig) == [],
            "the reconciler to free the agents and end the ghost calls",
            rig.log,
            limit=60,
        )
        print(f"web back after {GAP_SECONDS:.0f} s; agents free, no live call {time.monotonic() - back:.1f} s later")
        rig.world.speed = 30.0  # on to the callbacks' time
        wait_for(
            lambda: all((core.ctx.store.callback(i) or {}).get("status") == "completed" for i in booked),
            "the callbacks booked before the kill to be made",
            rig.log,
            limit=90,
        )
        per_callback: dict[str, list[str]] = defaultdict(list)
        for request in rig.create_calls():
            url = request.params["Url"][0]
            if "callback=" in url:
                cb_id = parse_qs(urlparse(url).query)["callback"][0]
                per_callback[cb_id].append("lead" if "/callback/lead/" in url else request.params["To"][0])
        assert per_callback == {cb: ["lead", number] for cb, number in booked.items()}, "each once, lead then caller"
        leads = [p.id for p in core.policy.people if p.role in ("lead", "supervisor")]
        wait_for(lambda: not any(core.ctx.presence(p) == "busy" for p in leads), "every lead free", rig.log)


def live_calls(rig: Rig) -> list[dict]:
    response = rig.api("GET", "/api/calls", who="lead-lee")
    return response.json()["calls"] if response.status_code == 200 else [{"unknown": response.status_code}]
