"""The event stream under the real server: gunicorn with two workers (as scripts/run.sh starts
it, reading gunicorn.conf.py), a real Redis. Changes made through whichever worker answers are
replayed from Last-Event-ID on a stream from whichever worker answers that, and open streams do
not block the API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from telephony.adapters.local_redis import free_port
from telephony.adapters.store import Store
from tests.support import ACCOUNT_SID, ROOT

LEAD = "tok-lead-lee-0000000000"


def events(base: str, last: str, count: int) -> list[tuple[str, str]]:
    headers = {"Authorization": f"Bearer {LEAD}", "Last-Event-ID": last, "Accept": "text/event-stream"}
    seen, entry = [], None
    with requests.get(f"{base}/api/events", headers=headers, stream=True, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("id: "):
                entry = line[4:]
            elif line.startswith("data: "):
                seen.append((entry, line[6:]))
                if len(seen) == count:
                    break
    return seen


def test_events_replay_across_two_gunicorn_workers_and_streams_do_not_block_the_api(redis_server, redis_conn):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": "gunicorn-test-auth-token-0123456789",
        "TWILIO_CALLER_ID": "+13125550100",
        "PUBLIC_BASE_URL": base,
        "REDIS_URL": redis_server.url,
        "API_TOKENS": f"{LEAD}:lead-lee:lead",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "20",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # refused, or accepted while the workers still boot
                time.sleep(0.1)
        last = Store(redis_conn).last_event_id()
        auth = {"Authorization": f"Bearer {LEAD}"}
        with ThreadPoolExecutor(max_workers=4) as pool:
            open_streams = [pool.submit(events, base, last, 6) for _ in range(3)]
            for n in range(6):
                presence = ("busy", "available")[n % 2]
                changed = requests.put(
                    f"{base}/api/people/lead-morgan/presence", json={"presence": presence}, headers=auth, timeout=10
                )
                assert changed.status_code == 200, "the API answers while three streams are open"
            for stream in open_streams:
                assert [data for _, data in stream.result(timeout=60)] == [
                    '{"kind": "presence", "id": "lead-morgan"}'
                ] * 6
        replay = events(base, last, 6)
        assert [entry for entry, _ in replay] == [entry for entry, _ in open_streams[0].result()]
        assert events(base, replay[2][0], 3) == replay[3:], "a reconnect gets exactly what came after its last id"
    finally:
        server.terminate()
        server.wait(timeout=30)
