"""The organisations a worker process serves: built once from the environment, or handed in
(tests, the simulator) when the worker runs in the same process as the web service. A job runs
in its organisation (`organisation(...)`), and `core()` is that organisation's core."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from telephony.adapters.timers import DEFAULT_ORGANISATION
from telephony.core import Core
from telephony.organisations import Organisations

_organisations: Organisations | None = None
_current: ContextVar[str] = ContextVar("organisation", default="")


def use(served: Core | Organisations | None) -> None:
    global _organisations
    _organisations = Organisations.single(served) if isinstance(served, Core) else served


def organisations() -> Organisations:
    global _organisations
    if _organisations is None:
        from telephony.adapters.store import connect, connect_queues, persistence_problem
        from telephony.config import Settings, check_persistence
        from telephony.logs import configure_logging
        from telephony.organisations import build_organisations

        configure_logging()
        settings = Settings.from_env()
        if settings.redis_url is None and not settings.redis_sentinels and not settings.redis_cluster_url:
            raise RuntimeError(
                "REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_URL must be set for a worker: "
                "it shares the web service's Redis"
            )
        conn = connect(settings)
        queues = connect_queues(settings, conn)
        for redis_conn in {id(conn): conn, id(queues): queues}.values():
            check_persistence(settings, persistence_problem(redis_conn), logging.getLogger("workers"))
        _organisations = build_organisations(settings, conn, queue_conn=queues)
    return _organisations


@contextmanager
def organisation(org: str) -> Iterator[None]:
    """Run what follows as this organisation's work (a job names its organisation)."""
    token = _current.set(org)
    try:
        yield
    finally:
        _current.reset(token)


def core() -> Core:
    """The core of the organisation this job is for; with one organisation, that one."""
    served = organisations()
    served.follow()
    org = _current.get()
    found = served.core(org) if org else None
    if found is None and org in ("", DEFAULT_ORGANISATION) and len(served.all()) == 1:
        found = served.all()[0]  # a job queued before issue 17, on a one-organisation deployment
    if found is None:
        raise LookupError(f"no organisation {org!r} on this deployment" if org else "a job named no organisation")
    return found

