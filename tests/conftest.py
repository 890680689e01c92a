"""Test setup: a real redis-server on a free loopback port for the session, and Twilio's REST
API intercepted by a fake that judges every request against Twilio's OpenAPI description."""

from __future__ import annotations

import pytest
import responses

from telephony.adapters.local_redis import LocalRedis
from telephony.adapters.store.lean import LeanRedis
from tests.twilio_contract import FakeTwilioRest, TwilioSpec, TwilioStandIn, intercept


@pytest.fixture(scope="session", autouse=True)
def history_file():
    """This test process's history database (tests/support.py, HISTORY_URL): new for the
    session, removed after it."""
    from pathlib import Path

    from tests.support import HISTORY_URL

    path = Path(HISTORY_URL.removeprefix("sqlite:///"))
    files = [path, *(path.with_name(path.name + end) for end in ("-wal", "-shm", ".lock"))]
    for file in files:
        file.unlink(missing_ok=True)
    yield
    for file in files:
        file.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = LocalRedis.start(tmp_path_factory.mktemp("redis"), appendonly=True)
    yield server
    server.stop()


@pytest.fixture
def redis_conn(redis_server):
    from tests.support import clear_history

    conn = LeanRedis.from_url(redis_server.url)  # the client connect() gives every process
    conn.flushall()
    clear_history()
    yield conn
    conn.close()


@pytest.fixture
def twilio_rest():
    fake = FakeTwilioRest(TwilioSpec.load())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        intercept(mock, fake)
        fake.mock = mock
        yield fake
    assert not fake.violations, "requests Twilio would refuse:\n" + "\n".join(fake.violations)


@pytest.fixture
def twilio_stand_in(twilio_rest):
    """Twilio's REST API as a real server on loopback (it can also hang); see TwilioStandIn."""
    stand_in = TwilioStandIn(twilio_rest)
    twilio_rest.mock.add_passthru(stand_in.url)
    yield stand_in
    stand_in.close()


@pytest.fixture
def harness(redis_conn, twilio_rest):
    from tests.support import Harness

    return Harness(redis_conn, twilio_rest)
