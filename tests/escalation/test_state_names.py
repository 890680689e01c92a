"""One name for each state (issue 29): the escalation's states, the callbacks' statuses and the
cases' statuses are written once, in telephony/lifecycle.py; the rest of the service
uses the enums and the tuples derived from them. Reads the source, no Redis: milliseconds."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from telephony.lifecycle import CallbackStatus, CaseStatus, EscalationState

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("telephony", "routes", "workers", "ivr")
LIFECYCLE = ROOT / "telephony" / "lifecycle.py"
# The six names that mean nothing but a state or a status: no Twilio call status, timeline entry
# or job outcome is spelt the same, so none may be quoted anywhere else (docstrings, comments and
# the Lua inside scripts.py included: the scripts are handed them as arguments).
SIX = ("dialing_lead", "briefing", "callback_scheduled", "rescheduled", "abandoned", "resolved")


def quoted(names: typing.Iterable[str], text: str) -> list[str]:
    alternatives = "|".join(re.escape(n) for n in names)
    pattern = re.compile(r"""(["'])(""" + alternatives + r""")\1""")
    return [m.group(0) for m in pattern.finditer(text)]


def sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py") if p != LIFECYCLE)


def test_the_six_state_names_are_quoted_only_in_the_lifecycle_module():
    found = []
    for path in sources():
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            for literal in quoted(SIX, line):
                found.append(f"{path.relative_to(ROOT)}:{lineno}: {literal}")
    assert not found, "state names written out instead of taken from the lifecycle's enums:\n" + "\n".join(found)


def test_the_check_sees_every_package_and_both_quotes():
    assert {p.relative_to(ROOT).parts[0] for p in sources()} == set(PACKAGES)
    assert quoted(SIX, """x == "resolved" or y == 'rescheduled' or "callback_rescheduled" """) == [
        '"resolved"',
        "'rescheduled'",
    ]
    assert len(quoted(SIX, LIFECYCLE.read_text())) >= len(SIX), "the lifecycle module writes each name once"


def values(kind: type[EscalationState] | type[CallbackStatus] | type[CaseStatus]) -> tuple[str, ...]:
    return tuple(member.value for member in kind)


def test_the_api_takes_its_lists_of_states_from_the_enums():
    from routes import api

    assert api.STATES == values(EscalationState)
    assert api.CALLBACK_STATUSES == values(CallbackStatus)
    assert all(type(s) is str for s in (*api.STATES, *api.CALLBACK_STATUSES)), "plain values in messages"


def test_the_api_document_takes_its_states_from_the_enums():
    from routes import openapi

    assert typing.get_args(openapi.EscalationState) == values(EscalationState)
    assert typing.get_args(openapi.CallbackStatus) == values(CallbackStatus)
    assert typing.get_args(openapi.CaseStatus) == values(CaseStatus)
    annotation = openapi.Case.model_fields["status"].annotation
    assert typing.get_args(annotation) == values(CaseStatus)


def test_the_policy_takes_its_case_statuses_from_the_enum():
    from telephony.policy import models

    assert models.CASE_STATUSES == values(CaseStatus)
    assert typing.get_args(models.CaseStatus) == values(CaseStatus)


def test_no_state_or_status_is_written_out_in_the_api_modules():
    every = {*values(EscalationState), *values(CallbackStatus), *values(CaseStatus)}
    for name in ("api.py", "openapi.py"):
        text = (ROOT / "routes" / name).read_text()
        assert not quoted(sorted(every), text), f"routes/{name} writes out states the enums name"
