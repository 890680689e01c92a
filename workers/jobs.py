"""The two RQ entry points as jobs queued before the typed commands name them
(`workers.jobs.run_timers`, `workers.jobs.in_organisation`): an upgrade loses none of them. New
jobs name workers.commands; the handlers are in workers/handlers.py."""

from __future__ import annotations

from workers import commands


def run_timers(batch: list) -> int:
    return commands.run_timers(batch)


def in_organisation(org: str, func: str, args: list) -> object:
    return commands.in_organisation(org, func, args)
