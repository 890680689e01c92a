"""An organisation's policy file removed while its callers are on hold (issue 34, probe 4): the
probe removed one organisation's file, then the other organisation's manager reloaded. Its caller
on hold was handed <Hangup> on the hold URL (Twilio refuses it there: error 13238), its timers
failed with LookupError and left the caller 349 s without a hold-limit offer, and the error
escaped the timers' handler and aborted whole batches: the other organisation's callback dials
came 463 s late.

The rule (docs/faults.md): another organisation's reload reads only its own file (issue 35), so a
removed file is noticed at the next restart; calls in progress keep the policy they started with
until they end, webhooks and timers alike; and a timer that fails for one organisation never
stops another's."""

from __future__ import annotations

from datetime import datetime

import pytest

import workers.runtime
from ivr.caller import WAIT_HOLD_VERBS
from telephony.commands import HoldCheckIn, PurgeFinished
from tests.deployment.test_organisations import EXAMPLE, NORTHWIND, NUMBERS, Deployment, two_policies
from tests.hold.test_hold_and_callbacks import book_callback, hold_urls, redirects
from workers.commands import run_timers


@pytest.fixture
def deployment(redis_conn, twilio_rest, tmp_path):
    return Deployment(redis_conn, twilio_rest, two_policies(tmp_path))


def test_a_removed_organisations_caller_on_hold_keeps_its_policy_and_the_other_keeps_its_timers(deployment, tmp_path):
    example = deployment.be(EXAMPLE)
    caller_sid, _ = example.caller_with_agent()
    esc_id = example.escalate(caller_sid).json["id"]
    example.advance(example.core.policy.hold.limit_seconds + 5)
    book_callback(example, caller_sid, esc_id)
    cb_id = example.escalation(esc_id)["callback"]["id"]
    northwind = deployment.be(NORTHWIND)
    held_sid, _ = northwind.caller_with_agent()
    held_esc = northwind.escalate(held_sid).json["id"]
    example = deployment.be(EXAMPLE)

    (tmp_path / "policies" / "northwind.toml").unlink()
    reloaded = example.api("POST", "/api/policies/reload", who="manager-max")
    assert reloaded.status_code == 200, reloaded.json
    assert deployment.served.dialled(NUMBERS[NORTHWIND]) is not None, (
        "another organisation's reload leaves it alone: a removed file is noticed at the next restart (issue 35)"
    )

    deployment.advance(120)
    check_in = hold_urls(deployment, held_sid)[-1]
    assert "check_in=1" in check_in and f"org={NORTHWIND}" in check_in, "its check-in ran after the removal"
    heard = deployment.twiml(check_in, {"CallSid": held_sid})
    assert {el.tag for el in heard.root.iter()} - {"Response"} <= WAIT_HOLD_VERBS
    assert heard.said()[0].startswith("Thank you for holding"), "the check-in, in its policy's words"
    deployment.advance(northwind.core.policy.hold.limit_seconds - 120 + 1)
    offer = redirects(deployment, held_sid)
    assert offer and f"/voice/hold/offer?escalation={held_esc}" in offer[-1], "the hold-limit offer, on time"
    offered = deployment.twiml(offer[-1], {"CallSid": held_sid})
    assert offered.find("Gather") is not None, "the caller is offered a callback or to keep holding"

    start = example.core.callbacks.view(cb_id)["window_start"]
    deployment.be(EXAMPLE).advance(
        max(0.0, (datetime.fromisoformat(start) - deployment.clock.now()).total_seconds()) + 61
    )
    dials = [r for r in deployment.rest.requests("CreateCall") if f"callback={cb_id}" in (r.param("Url") or "")]
    assert len(dials) == 1, "the other organisation's callback is dialled once, on time"


def test_a_timer_that_fails_for_one_organisation_never_aborts_the_others_in_its_batch(deployment, redis_conn):
    """The batch handler's own retry of a failed timer raised for an organisation this process does
    not serve, and the rest of the batch, other organisations' timers among them, never ran."""
    workers.runtime.use(deployment.served)
    example = deployment.be(EXAMPLE)
    caller_sid, _ = example.caller_with_agent()
    esc_id = example.escalate(caller_sid).json["id"]
    batch = [
        {"key": "purge-x", "command": PurgeFinished.name, "args": ["esc_x"], "organisation": "gone"},
        {"key": "check-in-x", "command": HoldCheckIn.name, "args": ["esc_x", 1, 1], "organisation": "gone"},
        {"key": f"check-in-{esc_id}", "command": HoldCheckIn.name, "args": [esc_id, 1, 1], "organisation": EXAMPLE},
    ]
    assert run_timers(batch) == 1, "the other organisation's check-in ran"
    assert len(hold_urls(example, caller_sid)) == 2, "its caller heard the check-in"
