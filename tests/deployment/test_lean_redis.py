"""Issue 19: the store's Redis client sends single commands on a shorter road than redis-py's
pool (telephony/adapters/store/lean.py). It must answer exactly as redis-py does, survive a
connection the server dropped, never grow its connections past what is in use at once, and
never share a socket with a forked child."""

from __future__ import annotations

import os
import threading

import pytest
import redis

from telephony.adapters.store.lean import LeanRedis


@pytest.fixture
def lean(redis_server):
    conn = LeanRedis.from_url(redis_server.url)
    conn.flushall()
    yield conn
    conn.close()


def test_answers_as_redis_py_does_replies_errors_and_scripts(lean, redis_server):
    plain = redis.Redis.from_url(redis_server.url)
    assert lean.set("k", "1", nx=True, ex=60) is True and lean.set("k", "2", nx=True, ex=60) is None
    lean.hset("h", mapping={"a": "1", "b": "2"})
    assert lean.hgetall("h") == plain.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert lean.ttl("k") == plain.ttl("k") > 0
    with pytest.raises(redis.ResponseError):
        lean.hgetall("k")  # WRONGTYPE: read whole, so the connection stays usable
    assert lean.get("k") == b"1"
    script = lean.register_script("return redis.call('GET', KEYS[1])")
    lean.script_flush()
    assert script(keys=["k"]) == b"1", "NoScriptError reaches redis-py's Script, which loads it"
    with lean.pipeline(transaction=False) as pipe:
        pipe.get("k").ttl("k")
        assert pipe.execute()[0] == b"1"
    plain.close()


def test_a_connection_the_server_dropped_is_reconnected_without_an_error(lean, redis_server):
    admin = redis.Redis.from_url(redis_server.url)
    assert lean.set("k", "1") is True
    killed = admin.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    assert lean.get("k") == b"1", "the dropped connection went to redis-py's path, which retried"
    assert lean.get("k") == b"1"
    admin.close()


def test_connections_stay_as_many_as_are_used_at_once(lean, redis_server):
    admin = redis.Redis.from_url(redis_server.url)
    for _ in range(30):  # a dropped connection is reused, not replaced by a new one each time
        admin.client_kill_filter(_type="normal", skipme=True)
        lean.get("k")
    barrier = threading.Barrier(4)

    def busy():
        barrier.wait()
        for i in range(200):
            lean.set(f"t{threading.get_ident()}:{i}", 1)

    threads = [threading.Thread(target=busy) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(lean._idle) <= 5
    assert lean.connection_pool._created_connections <= 6
    admin.close()


def test_a_forked_child_uses_its_own_connections(lean):
    lean.set("k", "parent")
    parent_sockets = {id(c._sock) for c in lean._idle}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: an RQ work horse does this
        try:
            ok = lean.get("k") == b"parent" and not ({id(c._sock) for c in lean._idle} & parent_sockets)
            lean.set("k", "child")
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert lean.get("k") == b"child", "the parent's connection still answers its own commands"
