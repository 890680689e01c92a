"""A timer job for the process tests: it leaves a mark in Redis that the test can see. As timers
run commands (telephony/commands.py), the probes are commands too, routed in this process only
(`routed`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

import redis

from telephony.commands import Command

RAN = "probe:ran"


def mark(label: str) -> None:
    redis.Redis.from_url(os.environ["REDIS_URL"]).rpush(RAN, label)


def where(label: str) -> None:
    """Which process ran the job: the worker's own, or a work-horse forked for it."""
    redis.Redis.from_url(os.environ["REDIS_URL"]).rpush(RAN, f"{label}:{os.getpid()}")


def overrun(seconds: float) -> None:
    """A job that runs past its timeout."""
    import time

    time.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Mark(Command):
    """A timer that leaves `label` in RAN."""

    name: ClassVar[str] = "probe_mark"
    label: str


@dataclass(frozen=True, slots=True)
class Broken(Command):
    """A timer whose handler raises."""

    name: ClassVar[str] = "probe_broken"


def _broken(_: Broken) -> None:
    raise RuntimeError("the probe fails, as asked")


def routed(monkeypatch) -> None:
    """The probes in the commands' names and the workers' table, for one test in this process."""
    from telephony import commands
    from workers.commands import HANDLERS

    for kind, handler in ((Mark, lambda command: mark(command.label)), (Broken, _broken)):
        monkeypatch.setitem(commands.BY_NAME, kind.name, kind)
        monkeypatch.setitem(HANDLERS, kind, handler)
