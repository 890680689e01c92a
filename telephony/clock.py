"""Time as the core sees it, so hold limits and callback windows can be tested on a virtual clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that only moves when told to; shared by the simulator and the service in tests."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


def iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when else None
