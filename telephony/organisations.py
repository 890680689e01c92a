"""Several organisations on one deployment (issue 17): one core each, built from its own policy,
on its own keys (`esc:{<organisation>}:...`), with its own people, tokens, records and event
stream. An incoming call's `To` picks the organisation; every URL the service hands Twilio names
it (`org=`), and every queued job and timer carries it, so nothing of one reaches another.

A manager's POST /api/policies/reload reads their own organisation's file again (issue 35: never
another's, whose edit waits for its own manager), checks it beside the others serving, and serves
it; a bad one is refused naming only that file, and the old one keeps serving. `reload` reads
every file of the folder (the operator's). A call in progress finishes under the policy it started
with: its hash names the policy's version, and the old version's core is kept while such calls last."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from telephony.adapters.store import keys
from telephony.clock import Clock
from telephony.config import ApiToken, ConfigError, Settings
from telephony.core import Core, build_core
from telephony.errors import Forbidden, InvalidRequest
from telephony.policy.errors import PolicyError
from telephony.policy.folder import check_beside, check_together, load_policies
from telephony.policy.loading import Policy, load_policy

log = logging.getLogger(__name__)
FOLLOW_SECONDS = 2.0
# Replaced policies kept per organisation for the calls that started under them (a call lasts at
# most a day; a reload more often than this while calls last loses the oldest: they go on under
# the current policy).
KEEP_VERSIONS = 5


def build_organisations(
    settings: Settings,
    conn: redis.Redis,
    *,
    queue_conn: redis.Redis | None = None,
    clock: Clock | None = None,
    policies: list[Policy] | None = None,
) -> Organisations:
    """Every organisation of the deployment, each core on `conn` (state) and `queue_conn` (RQ
    and the timers). POLICIES_DIR names the organisation in every URL, even with one file."""
    several = settings.policy_file is None
    source = settings.policy_file if settings.policy_file is not None else settings.policies_dir

    def build(policy: Policy) -> Core:
        return build_core(settings, conn, clock=clock, policy=policy, queue_conn=queue_conn, several=several)

    return Organisations.of(
        policies or policies_of(settings),
        build,
        several=several,
        source=source,
        announce=queue_conn if queue_conn is not None else conn,
    )


def policies_of(settings: Settings) -> list[Policy]:
    """POLICY_FILE (one organisation) or every policy in POLICIES_DIR."""
    if settings.policy_file is not None:
        return [load_policy(settings.policy_file)]
    if settings.policies_dir is None:
        raise ConfigError("neither POLICY_FILE nor POLICIES_DIR is set")
    return load_policies(settings.policies_dir)


@dataclass
class Organisations:
    """The organisations a deployment serves, each one's current core, and the cores of
    policies replaced while calls that started under them go on."""

    build: Callable[[Policy], Core]
    cores: dict[str, Core] = field(default_factory=dict)
    by_number: dict[str, str] = field(default_factory=dict)
    # A folder deployment names the organisation in every URL, even with one file in it.
    several: bool = False
    source: Path | None = None
    earlier: dict[tuple[str, str], Core] = field(default_factory=dict)
    # Where a reload is announced to every other process (the queues' Redis), and what this
    # process last saw there.
    announce: redis.Redis | None = None
    _generation: int = 0
    _reloads: dict[str, int] = field(default_factory=dict)  # organisation -> its managers' reloads seen
    _checked_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(
        cls,
        policies: list[Policy],
        build: Callable[[Policy], Core],
        *,
        several: bool,
        source: Path | None,
        announce: redis.Redis | None = None,
    ) -> Organisations:
        check_together(policies)
        orgs = cls(build=build, several=several, source=source, announce=announce)
        orgs._serve(policies)
        orgs._generation = orgs._announced()
        orgs._reloads = orgs._reloaded()
        return orgs

    def _announced(self) -> int:
        if self.announce is None:
            return 0
        try:
            return int(self.announce.get(keys.POLICIES_GENERATION) or 0)
        except redis.RedisError:
            return self._generation

    def _reloaded(self) -> dict[str, int]:
        """How many times each organisation's managers have reloaded it, as announced."""
        if self.announce is None:
            return {}
        try:
            counts = self.announce.hgetall(keys.POLICIES_RELOADED)
        except redis.RedisError:
            return dict(self._reloads)
        return {k.decode() if isinstance(k, bytes) else str(k): int(v) for k, v in counts.items()}

    def follow(self) -> None:
        """At most every FOLLOW_SECONDS: if another process reloaded an organisation's policy,
        read that organisation's file again here too, and only it (a bad file there was refused
        there; here it is logged and the old one stays)."""
        if self.announce is None or self.source is None or time.monotonic() - self._checked_at < FOLLOW_SECONDS:
            return
        self._checked_at = time.monotonic()
        announced = self._announced()
        if announced == self._generation:
            return
        self._generation = announced
        reloads = self._reloaded()
        for org in sorted(org for org, n in reloads.items() if n != self._reloads.get(org)):
            try:
                self.reload_organisation(org)
            except (PolicyError, ConfigError) as exc:
                log.error("%s's policy changed elsewhere but not here, the old one keeps serving: %s", org, exc)
        self._reloads = reloads

    @classmethod
    def single(cls, core: Core) -> Organisations:
        """One core handed in (tests, the simulator): every request and job is its organisation's."""
        orgs = cls(build=lambda _policy: core)
        orgs.cores[core.policy.organisation_id] = core
        orgs.by_number = {n: core.policy.organisation_id for n in core.policy.numbers}
        return orgs

    def _serve(self, policies: list[Policy]) -> None:
        cores = {p.organisation_id: self._core_for(p) for p in policies}
        numbers = {n: p.organisation_id for p in policies for n in p.numbers}
        with self._lock:
            for org, old in self.cores.items():
                if org not in cores or cores[org] is not old:
                    self.earlier[(org, old.policy.version)] = old
                    kept = [key for key in self.earlier if key[0] == org]
                    for key in kept[:-KEEP_VERSIONS]:  # the oldest first (insertion order)
                        del self.earlier[key]
            self.cores, self.by_number = cores, numbers

    def _core_for(self, policy: Policy) -> Core:
        current = self.cores.get(policy.organisation_id)
        if current is not None and current.policy.version == policy.version:
            return current
        earlier = self.earlier.get((policy.organisation_id, policy.version))
        return earlier if earlier is not None else self.build(policy)

    # -- finding an organisation ---------------------------------------------------------------
    def all(self) -> list[Core]:
        return list(self.cores.values())

    def only(self) -> Core | None:
        """The organisation when there is exactly one (then `To` need not match its numbers)."""
        return next(iter(self.cores.values())) if len(self.cores) == 1 and not self.several else None

    def core(self, organisation: str, version: str = "") -> Core | None:
        """The organisation's core; with `version`, the core of that policy version while it is
        kept (a call that started before a reload). An organisation whose file is gone is no
        longer served to new calls, but its calls in progress keep their policy until they end
        (issue 34): its last kept version serves their webhooks and timers (None only in a
        process that never read it)."""
        current = self.cores.get(organisation)
        if current is None:
            kept = self.earlier.get((organisation, version)) if version else None
            return kept if kept is not None else self._last_kept(organisation)
        if version and current.policy.version != version:
            return self.earlier.get((organisation, version), current)
        return current

    def _last_kept(self, organisation: str) -> Core | None:
        with self._lock:
            kept = [core for (org, _), core in self.earlier.items() if org == organisation]
        return kept[-1] if kept else None

    def dialled(self, number: str) -> Core | None:
        """The organisation whose policy claims this number, or the only one."""
        org = self.by_number.get(number)
        return self.cores[org] if org else self.only()

    # -- a changed policy without a restart ----------------------------------------------------
    def reload_for(self, actor: ApiToken) -> dict[str, object]:
        """A manager's reload (POST /api/policies/reload): their own organisation's file, and no
        other (issue 35): another organisation's edit is not put live, another's broken file does
        not stop this one, and an error names only this file."""
        if actor.role != "manager":
            raise Forbidden("Only a manager may reload the policies.", code="not_a_manager")
        before = self.cores.get(actor.organisation)
        try:
            self.reload_organisation(actor.organisation)
        except PolicyError as exc:
            raise reload_refused(exc) from None
        after = self.cores.get(actor.organisation)
        if self.announce is not None:
            with self.announce.pipeline(transaction=True) as pipe:
                pipe.hincrby(keys.POLICIES_RELOADED, actor.organisation, 1)
                pipe.incr(keys.POLICIES_GENERATION)
                pipe.hget(keys.POLICIES_RELOADED, actor.organisation)
                _, generation, reloads = pipe.execute()
            self._generation = int(generation)
            self._reloads[actor.organisation] = int(reloads)
        return {
            "organisation": actor.organisation,
            "changed": before is not after,
            "version": after.policy.version if after else None,
        }

    def reload_organisation(self, organisation: str) -> bool:
        """Read this organisation's own file again (the one its policy was loaded from) and
        serve it beside the others as they are; PolicyError, naming only that file, leaves the
        old one serving. Returns whether its policy changed."""
        current = self.cores.get(organisation)
        if self.source is None or current is None:
            raise PolicyError("-", "-", "this deployment was handed its policy; there is nothing to reload")
        policy = load_policy(current.policy.file)
        if policy.organisation_id != organisation:
            raise PolicyError(
                policy.file,
                "organisation.id",
                f"is {policy.organisation_id!r}; this file serves {organisation!r}, and a reload keeps its "
                "organisation's id",
            )
        others = [core.policy for org, core in self.cores.items() if org != organisation]
        check_beside(policy, others)
        self._serve([policy if core is current else core.policy for core in self.cores.values()])
        changed = self.cores[organisation] is not current
        log.info("policy of %s reloaded: %s", organisation, "changed" if changed else "unchanged")
        return changed

    def reload(self) -> dict[str, list[str]]:
        """Read the policies again; all valid, they serve from now on, else nothing changes and
        PolicyError names the bad file. Returns what changed."""
        if self.source is None:
            raise PolicyError("-", "-", "this deployment was handed its policy; there is nothing to reload")
        policies = load_policies(self.source) if self.source.is_dir() else [load_policy(self.source)]
        check_together(policies)
        before = {org: core.policy.version for org, core in self.cores.items()}
        self._serve(policies)
        after = {org: core.policy.version for org, core in self.cores.items()}
        changed = sorted(org for org in after if org in before and before[org] != after[org])
        report = {
            "organisations": sorted(after),
            "added": sorted(set(after) - set(before)),
            "removed": sorted(set(before) - set(after)),
            "changed": changed,
        }
        log.info("policies reloaded: %s", report)
        return report


def reload_refused(exc: PolicyError) -> InvalidRequest:
    """A refused reload's 400: the file, the line a manager edits (issue 35), the key and the reason."""
    where = f"line {exc.line}, " if exc.line else ""
    key = "" if exc.key == "-" else exc.key
    return InvalidRequest(
        f"Policy not reloaded, the old one keeps serving: {exc.file}: {where}{key + ': ' if key else ''}{exc.reason}",
        code="bad_policy",
        file=exc.file,
        key=key or None,
        line=exc.line,
        reason=exc.reason,
    )
