"""The console's event streams have a budget of their own in each web process (issue 34): each
holds a gunicorn thread for up to 15 s, so without one, consoles could take every thread and
Twilio's webhooks would wait behind them. A stream over the budget is told to come back later
(the browser's EventSource reconnects by itself, from Last-Event-ID) and holds no thread."""

from __future__ import annotations

import threading

from routes.console import STREAM_FULL_RETRY_MS, STREAMS_PER_PROCESS
from tests.support import TOKENS

HEADERS = {"Authorization": f"Bearer {TOKENS['lead-lee'].token}", "Accept": "text/event-stream"}


def test_a_stream_over_the_budget_is_told_to_come_back_and_a_closed_one_frees_its_place(harness):
    streams = threading.BoundedSemaphore(STREAMS_PER_PROCESS)
    harness.app.extensions["event_streams"] = streams
    for _ in range(STREAMS_PER_PROCESS):
        assert streams.acquire(blocking=False)  # that many consoles' streams are open

    over = harness.client.get("/api/events", headers=HEADERS)
    assert over.status_code == 200 and over.headers["X-Stream-Budget"] == "full"
    assert over.get_data(as_text=True) == f"retry: {STREAM_FULL_RETRY_MS}\n\n", "come back later, nothing held"

    streams.release()  # one console went away
    opened = harness.client.get("/api/events", headers=HEADERS)
    assert next(opened.response).startswith(b"retry: 1000"), "within the budget: a stream"
    assert not streams.acquire(blocking=False), "it holds the place"
    opened.close()
    assert streams.acquire(blocking=False), "a closed stream gives its place back"
