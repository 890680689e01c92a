"""A timer job for the process tests: it leaves a mark in Redis that the test can see."""

from __future__ import annotations

import os

import redis

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
