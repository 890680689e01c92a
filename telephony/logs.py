"""What an operator reads: one JSON object per line (LOG_FORMAT=json, the default), each carrying
the call SID, escalation and callback a request or job is about, with phone numbers masked to
their last four digits wherever they appear."""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("log_context", default=None)
# +13125550142, 312-555-0142, (312) 555 0142 ...: nine digits or more (a date has eight), with the
# usual separators, never inside a word (call SIDs and ids are left alone).
_PHONE = re.compile(r"(?<![\w/])[+(]?\d(?:[\s().-]{0,2}\d){8,14}(?![\w/])")


def mask_numbers(text: str) -> str:
    """Every phone number in `text` down to its last four digits (+1312***0142 -> ***0142)."""

    def masked(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return "***" + digits[-4:]

    return _PHONE.sub(masked, text)


# Where the fields of the request being answered come from (routes.operations gives one): asked
# only when a line is logged, so a request that logs nothing pays nothing for its ids.
_sources: list[Callable[[], dict[str, str]]] = []


def add_source(source: Callable[[], dict[str, str]]) -> None:
    if source not in _sources:
        _sources.append(source)


def context() -> dict[str, str]:
    """What a line logged now carries: the request's ids, then whatever was bound."""
    fields: dict[str, str] = {}
    for source in _sources:
        fields.update(source())
    fields.update(_context.get() or {})
    return fields


def bind(**fields: str | None) -> contextvars.Token[Any]:
    """Add to what every log line of this request or job carries."""
    current = {**(_context.get() or {}), **{k: v for k, v in fields.items() if v}}
    return _context.set(current)


def unbind(token: contextvars.Token[Any]) -> None:
    _context.reset(token)


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


class ContextAndMasking(logging.Filter):
    """Adds the bound call/escalation/callback ids and masks numbers in the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in context().items():
            setattr(record, key, value)
        message = record.getMessage()
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(fmt: str | None = None, level: int | None = None, stream: TextIO | None = None) -> None:
    """Once per process (web or worker); LOG_FORMAT=text gives plain lines for a terminal,
    LOG_LEVEL (INFO) how much."""
    fmt = (fmt or os.environ.get("LOG_FORMAT", "json")).strip().lower()
    if level is None:
        level = logging.getLevelName(os.environ.get("LOG_LEVEL", "INFO").strip().upper())
        level = level if isinstance(level, int) else logging.INFO
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    handler.addFilter(ContextAndMasking())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "escalations_handler", False):
            root.removeHandler(old)
    handler.escalations_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
