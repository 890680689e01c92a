"""The one module that talks to the team channel's incoming webhook (R-NOTE-1, `CHAT_WEBHOOK_URL`):
one HTTP POST of a note already in the channel's wire format (`telephony.notify.chat`, Slack's or
Teams'). A refusal or a network failure raises (requests' `RequestException`), so the RQ job that
posts it is retried; the note itself is already kept in Redis."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT_SECONDS = 10


def post(url: str, payload: dict[str, Any]) -> None:
    response = requests.post(url, json=payload, timeout=TIMEOUT_SECONDS)
    response.raise_for_status()
