"""A manager's what-if from the console (issue 18, docs/what-if.md): the request is checked here
(the days as `make what-if` takes them, the changed policy parsed and of the manager's own
organisation), kept in the organisation's store with a snapshot of the current policy's text,
and queued; the replay itself is workers/what_if.py's job (it drives sim/, which the core never
imports). Knows nothing of Flask."""

from __future__ import annotations

import re
import tomllib
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import Field

from telephony.adapters.store.what_ifs import WHAT_IF_TTL_SECONDS
from telephony.adapters.timers import WHAT_IF_TIMEOUT_SECONDS
from telephony.commands import ReplayWhatIf
from telephony.config import ApiToken
from telephony.context import Context
from telephony.errors import Conflict, Forbidden, InvalidRequest, NotFound
from telephony.escalation_request import StrictModel, parse
from telephony.policy.errors import PolicyError
from telephony.policy.lines import line_of
from telephony.policy.loading import Policy, parse_policy

MAX_DAYS = 32  # as `make what-if`
MAX_POLICY_CHARS = 200_000
MAX_CALLS_PER_HOUR = 2000.0
CHANGED = "<changed policy>"
STATUSES = ("queued", "running", "done", "failed")


class WhatIfRequest(StrictModel):
    """POST /api/what-if: the days to replay and the changed policy, as TOML text."""

    from_: date = Field(alias="from", strict=False, description="first day, YYYY-MM-DD (the policy's time zone)")
    to: date | None = Field(default=None, strict=False, description="last day, included (default: from)")
    policy: str = Field(min_length=1, max_length=MAX_POLICY_CHARS, description="the changed policy, TOML")
    calls_per_hour: float | None = Field(
        default=None,
        ge=0,
        le=MAX_CALLS_PER_HOUR,
        strict=False,
        description="with no recorded calls in the days: replay a generated day at this rate (0: none)",
    )
    seed: int = Field(default=1, ge=0, le=2**31 - 1, description="the generated day's and the replay's seed")


def policy_problem(exc: PolicyError, text: str) -> InvalidRequest:
    """A 400 naming where the changed policy is wrong: the key and, where it can be found, the line."""
    line = _line_of(exc, text)
    where = f"line {line}, " if line else ""
    key = "" if exc.key == "-" else exc.key
    return InvalidRequest(
        f"The changed policy is not valid: {where}{key + ': ' if key else ''}{exc.reason}",
        code="bad_policy",
        field="policy",
        key=key or None,
        line=line,
        reason=exc.reason,
    )


def _line_of(exc: PolicyError, text: str) -> int | None:
    """TOML's own errors say their line; a key's line is where it is set, counting `[[people]]`
    and `[[case_routing.rules]]` entries as the key's index does (telephony/policy/lines.py)."""
    if exc.line:
        return exc.line
    said = re.search(r"at line (\d+)", exc.reason)
    if said:
        return int(said.group(1))
    return None if exc.key == "-" else line_of(text, exc.key)


def changed_policy(text: str, organisation: str) -> Policy:
    """The changed policy, parsed and checked as a policy file is; one that names an organisation
    must name the manager's own (one without an id is the manager's: it only replays)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise policy_problem(PolicyError(CHANGED, "-", f"not valid TOML: {exc}"), text) from None
    try:
        policy = parse_policy(data, CHANGED)
    except PolicyError as exc:
        raise policy_problem(exc, text) from None
    declared = (data.get("organisation") or {}).get("id")
    if declared and declared != organisation:
        raise InvalidRequest(
            f"The changed policy is organisation {declared!r}'s; yours is {organisation!r}.",
            code="other_organisation",
            field="policy",
            key="organisation.id",
            line=_line_of(PolicyError(CHANGED, "organisation.id", ""), text),
        )
    return policy


class WhatIfs:
    """Managers' what-if replays of their own organisation (R-NOTE-3's records, R-HOLD-3, R-CB-1)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def _manager(self, actor: ApiToken) -> None:
        if actor.role != "manager":
            raise Forbidden("Only a manager may run a what-if.", code="not_a_manager")

    def current_policy(self, actor: ApiToken) -> dict[str, Any]:
        """GET /api/policies/current: the policy serving now, as its file's text (comments kept)."""
        self._manager(actor)
        policy = self.ctx.policy
        return {
            "organisation": policy.organisation_id,
            "name": policy.name,
            "version": policy.version,
            "file": Path(policy.file).name,
            "toml": self._current_text(),
        }

    def _current_text(self) -> str:
        """The current policy file's text, when it is what serves (not edited since it was loaded)."""
        policy = self.ctx.policy
        try:
            text = Path(policy.file).read_text()
            same = parse_policy(tomllib.loads(text), policy.file).version == policy.version
        except (OSError, tomllib.TOMLDecodeError, PolicyError):
            same = False
        if not same:
            raise Conflict(
                f"{Path(policy.file).name} changed since it was loaded: reload the policies first "
                "(POST /api/policies/reload), so the what-if compares with what serves.",
                code="policy_file_changed",
            )
        return text

    def start(self, actor: ApiToken, body: Any) -> dict[str, Any]:
        """POST /api/what-if: checked, kept and queued; the answer names the replay to poll."""
        self._manager(actor)
        request = parse(WhatIfRequest, body)
        first, last = request.from_, request.to or request.from_
        if last < first:
            raise InvalidRequest("'to' must be the same day as 'from' or later.", code="invalid_field", field="to")
        if (last - first).days + 1 > MAX_DAYS:
            raise InvalidRequest(f"Replay at most {MAX_DAYS} days at a time.", code="range_too_long", field="to")
        changed = changed_policy(request.policy, actor.organisation)
        current = self._current_text()
        ident = uuid.uuid4().hex[:16]
        at = self.ctx.now_iso()
        self.ctx.store.save_what_if(
            ident,
            {
                "status": "queued",
                "by": actor.person_id,
                "from": first.isoformat(),
                "to": last.isoformat(),
                "calls_per_hour": "" if request.calls_per_hour is None else request.calls_per_hour,
                "seed": request.seed,
                "current_policy": current,
                "current_version": self.ctx.policy.version,
                "current_file": Path(self.ctx.policy.file).name,
                "changed_policy": request.policy,
                "changed_version": changed.version,
                "queued_at": at,
            },
        )
        self.ctx.timers.replay_later(ReplayWhatIf(ident), key=ident)
        return {"id": ident, "status": "queued", "from": first.isoformat(), "to": last.isoformat(), "queued_at": at}

    def read(self, actor: ApiToken, ident: str) -> dict[str, Any]:
        """GET /api/what-if/<id>: where the replay is, and its result once done. Another
        organisation's id is not found: it is on that organisation's keys."""
        self._manager(actor)
        found = self.ctx.store.what_if(ident)
        if found is None:
            raise NotFound(f"No what-if {ident} (they are kept {WHAT_IF_TTL_SECONDS // 86400} days).", code="not_found")
        result = self.ctx.store.what_if_result(ident) or {}
        status = found.get("status", "queued")
        error = found.get("error") or None
        if status == "running" and self._overdue(found.get("started_at", "")):
            status, error = "failed", "The replay stopped without an answer (its worker ended); run it again."
        return {
            "id": ident,
            "status": status,
            "from": found.get("from"),
            "to": found.get("to"),
            "by": found.get("by"),
            "queued_at": found.get("queued_at"),
            "started_at": found.get("started_at") or None,
            "finished_at": found.get("finished_at") or None,
            "current_version": found.get("current_version"),
            "changed_version": found.get("changed_version"),
            "source": result.get("source"),
            "message": result.get("message"),
            "calls": result.get("calls", 0),
            "figures": result.get("figures") or {},
            "rows": result.get("rows") or [],
            "seconds": result.get("seconds") or {},
            "problems": result.get("problems") or [],
            "error": error,
        }

    @staticmethod
    def _overdue(started_at: str) -> bool:
        """Running past its job's timeout (wall-clock time: the worker's, not a virtual clock's)."""
        try:
            started = datetime.fromisoformat(started_at)
        except ValueError:
            return False
        return datetime.now(UTC) - started > timedelta(seconds=WHAT_IF_TIMEOUT_SECONDS + 120)
