"""Twilio answering after the REST timeout (issue 34, probe 5), under the real processes: the
simulator places the call, then holds its answer past the client's timeout (RestFaults "late":
TWILIO_REST_TIMEOUT_SECONDS is 1 s in the rig, the answer comes after 2 s). Before, the dial was
taken as failed: the lead whose phone rang anyway pressed 1 and heard "The caller is no longer on
the line. Goodbye.", the caller was never dialled, and the callback waited about 10 minutes for
its retry.

Now the service asks Twilio's call list before deciding (a call placed to that number from ours
since it asked, that no leg of ours is). The first LATE CreateCalls are answered late, so lead
dials and caller dials of the CALLBACKS callbacks both meet it; every callback is made once, lead
then caller, no lead hears that the caller has gone, and nobody stays busy."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import parse_qs, urlparse

from sim.rest import RestFaults
from telephony.config import Settings
from telephony.core import build_core
from tests.chaos.rig import Rig, book_callbacks, callback_people, chaos_policy
from tests.processes import wait_for

CALLBACKS = 4
LATE = 3
GONE = "no longer on the line"


def test_a_call_placed_though_twilio_answered_late_is_found_not_dialled_again__R_CB_8(tmp_path):
    people = callback_people(CALLBACKS, leads=2)
    policy = chaos_policy(tmp_path / "policy.toml", leads=2)
    late = RestFaults(kinds=("late",), operations=("create_call",), active=True, times=LATE, hang_seconds=2.0)
    with Rig(tmp_path, people, policy, speed=10.0, rest_faults=late) as rig:
        core = build_core(Settings.from_env(rig.env), rig.conn)
        booked = book_callbacks(rig, CALLBACKS, spread_seconds=40, after_seconds=30)
        wait_for(
            lambda: all((core.ctx.store.callback(i) or {}).get("status") == "completed" for i in booked),
            "every callback to be made though Twilio answered its first calls late",
            rig.log,
            limit=90,
        )
        leads = [p for p in core.policy.people if p.role in ("lead", "supervisor")]
        wait_for(
            lambda: all(core.ctx.presence(p.id) != "busy" for p in leads),
            "everyone rung to be free again",
            rig.log,
            limit=30,
        )

        assert late.injected == {"late": LATE}, late.injected
        per_callback: dict[str, list[str]] = defaultdict(list)
        for request in rig.create_calls():
            assert request.status == 201, request
            url = request.params["Url"][0]
            cb_id = parse_qs(urlparse(url).query)["callback"][0]
            per_callback[cb_id].append("lead" if "/callback/lead/" in url else request.params["To"][0])
        assert per_callback == {cb: ["lead", number] for cb, number in booked.items()}, (
            "each callback dialled once, lead then caller"
        )
        told_gone = [p.name for p in people if any(GONE in text for text in rig.transcript.heard(p.name))]
        assert told_gone == [], f"told the caller had gone: {told_gone}"
        found = [e["event"] for cb in booked for e in core.ctx.store.timeline(core.callbacks.view(cb)["escalation_id"])]
        assert "callback_lead_found" in found, "a lead's call placed late was found, not given up"
