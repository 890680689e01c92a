"""Issue 29: every timed or queued step is a typed command (telephony/commands.py), stored as its
name and fields and run through one table in the workers (workers/commands.py). Every command has
exactly one handler and comes back from its payload as it went in; timers and RQ jobs stored
before the commands (a worker function's name) still run after a deploy; a timer whose command no
handler runs is logged and dropped, and the rest of its batch still runs."""

from __future__ import annotations

import json
import logging
import typing
from dataclasses import fields
from typing import Any

from rq import Queue

from telephony import commands
from telephony.adapters.timers import TIMER_CALLS, TIMERS, payload, read_payload
from telephony.commands import Command, HoldCheckIn, PurgeFinished
from tests.hold.test_check_in_batch import check_ins_heard, holding
from tests.support import ROOT
from workers.commands import HANDLERS, OLD_FUNCS, command_of, run_timers

SAMPLES: dict[object, Any] = {str: "esc_0123456789abcdef", int: 2, bool: True}


def example(kind: type[Command]) -> Command:
    """One of each command, its fields filled in by their types (a note is a dict)."""
    hints = typing.get_type_hints(kind)
    return kind(*(SAMPLES.get(hints[f.name], {"text": "a note", "escalation": "esc_1"}) for f in fields(kind)))


def test_every_command_has_exactly_one_handler_and_one_stable_name():
    assert set(HANDLERS) == set(commands.ALL), "each command routed, nothing routed that is not a command"
    assert len(set(HANDLERS.values())) == len(HANDLERS), "no handler serves two commands"
    assert len(commands.BY_NAME) == len(commands.ALL), "no two commands share a wire name"
    # PruneRecords (issue 30) came after the worker functions: no timer or job ever named one for it
    assert set(OLD_FUNCS.values()) == set(commands.ALL) - {commands.PruneRecords}, "every worker function of before has its command"


def test_every_command_round_trips_through_a_timer_payload_and_an_rq_job(harness):
    timers = harness.core.ctx.timers
    for kind in commands.ALL:
        command = example(kind)
        for tries in (0, 2):
            stored = read_payload(payload(command, tries))
            assert command_of(stored["command"], stored["args"]) == command, kind
            assert stored["tries"] == tries
        job = timers.soon(command, key=f"round-trip-{kind.name}")
        org, name, args = job.args
        assert (org, command_of(name, args)) == (timers.organisation, command)


def test_a_check_in_payload_stays_small__R_HOLD_2():
    """A burst of check-ins stores thousands: the name and the fields, no tries until it failed."""
    stored = payload(HoldCheckIn("esc_0123456789abcdef", 1, 1))
    assert stored == '{"command":"hold_check_in","args":["esc_0123456789abcdef",1,1]}'


def test_no_worker_function_is_named_outside_the_workers_back_compat_map():
    for folder in ("telephony", "routes", "ivr"):
        named = [str(p) for p in (ROOT / folder).rglob("*.py") if '"workers.jobs.' in p.read_text()]
        assert named == [], named
    named = [str(p.relative_to(ROOT)) for p in (ROOT / "workers").rglob("*.py") if '"workers.jobs.' in p.read_text()]
    assert named == ["workers/commands.py"], "only OLD_FUNCS names them"


def _store_old(harness, key: str, call: object) -> None:
    """A timer as a deploy before the commands left it in Redis: due now, naming a function."""
    member = f"{harness.core.ctx.timers.organisation}/{key}"
    conn = harness.core.ctx.timers.conn
    conn.hset(TIMER_CALLS, member, json.dumps(call))
    conn.zadd(TIMERS, {member: harness.clock.now().timestamp()})


def test_timers_stored_before_the_commands_still_run_after_a_deploy__R_HOLD_2_R_HOLD_3(harness):
    caller_sid, esc_id = holding(harness)
    round_ = int(harness.core.ctx.store.escalation(esc_id)["hold_round"])
    _store_old(harness, "old-check-in", ["workers.jobs.hold_check_in", [esc_id, round_, 1], 0])  # the list form
    harness.run_jobs()
    assert check_ins_heard(harness, caller_sid) == [harness.core.ctx.urls.hold_check_in(esc_id, 1)]

    _store_old(harness, "old-limit", {"func": "workers.jobs.hold_limit", "args": [esc_id, round_], "tries": 0})
    harness.run_jobs()
    assert "hold_limit" in [e["event"] for e in harness.escalation(esc_id)["timeline"]]


def test_rq_jobs_queued_before_the_commands_still_run_after_a_deploy(harness):
    store, timers = harness.core.ctx.store, harness.core.ctx.timers
    finished = store.k.FINISHED
    store.r.zadd(finished, {"esc_queued_step": 0, "esc_queued_batch": 0})
    queue = Queue(timers.queue.name, connection=timers.conn)
    queue.enqueue("workers.jobs.in_organisation", timers.organisation, "workers.jobs.purge_finished", [])
    harness.run_jobs()
    assert store.r.zcard(finished) == 0, "the old step ran: both purged"

    store.r.zadd(finished, {"esc_queued_batch": 0})
    old_batch = [["purge-finished", "workers.jobs.purge_finished", [], 0, harness.clock.now().timestamp()]]
    queue.enqueue("workers.jobs.run_timers", old_batch)
    harness.run_jobs()
    assert store.r.zcard(finished) == 0, "the old batch ran"


def test_a_timer_for_an_unknown_command_is_logged_and_dropped_and_its_batch_still_runs(harness, caplog):
    caller_sid, esc_id = holding(harness)
    store, timers = harness.core.ctx.store, harness.core.ctx.timers
    round_ = int(store.escalation(esc_id)["hold_round"])
    store.r.zadd(store.k.FINISHED, {"esc_long_gone": 0})
    org = timers.organisation
    batch: list[Any] = [
        {"key": "from-a-newer-deploy", "command": "no_such_command", "args": [], "tries": 0, "organisation": org},
        {"key": "wrong-args", "command": "dial_callback", "args": ["cb_x"], "tries": 0, "organisation": org},
        {"key": "an-old-typo", "func": "workers.jobs.no_such_job", "args": [], "tries": 0, "organisation": org},
        {"key": "purge", **json.loads(payload(PurgeFinished())), "organisation": org},
        {"key": "check-in", **json.loads(payload(HoldCheckIn(esc_id, round_, 1))), "organisation": org},
    ]
    with caplog.at_level(logging.ERROR, logger="workers.commands"):
        assert run_timers(batch) == 2, "the purge and the check-in ran"
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 3 and "no_such_command" in dropped[0], dropped
    assert store.r.zcard(store.k.FINISHED) == 0
    assert check_ins_heard(harness, caller_sid) == [harness.core.ctx.urls.hold_check_in(esc_id, 1)]
    waiting = {key for key, _ in timers.scheduled()}
    assert not waiting & {"from-a-newer-deploy", "wrong-args", "an-old-typo"}, "dropped, not tried again"
