"""The service's state on a real Redis Cluster (issue 17): three masters on loopback, RQ and the
timers on a node of their own (QUEUE_REDIS_URL). Two organisations' whole calls run through it
(warm transfer, the hold limit, a callback dialled once); then the master holding one
organisation's slot is killed with SIGKILL and restarted from its append-only file, and
everything the docs promise is still there: the escalation, its timeline, the booked callback,
dialled once when its window opens."""

from __future__ import annotations

import pytest

from telephony.adapters.local_redis import LocalRedis
from tests.cluster import LocalCluster
from tests.deployment.test_organisations import EXAMPLE, NORTHWIND, Deployment, two_policies
from tests.hold.test_hold_and_callbacks import book_callback


@pytest.fixture
def cluster(tmp_path):
    nodes = LocalCluster.start(tmp_path / "cluster")
    yield nodes
    nodes.stop()


@pytest.fixture
def queues(tmp_path):
    server = LocalRedis.start(tmp_path / "queues", appendonly=True)
    yield server
    server.stop()


def test_two_organisations_calls_on_a_redis_cluster_survive_a_master_killed__R_CB_8(
    cluster, queues, twilio_rest, tmp_path
):
    import redis

    state = cluster.client()
    h = Deployment(state, twilio_rest, two_policies(tmp_path), queue_conn=redis.Redis.from_url(queues.url))
    connected, booked = {}, {}
    for org in (EXAMPLE, NORTHWIND):
        h.be(org)
        caller_sid, _ = h.caller_with_agent()
        esc_id = h.escalate(caller_sid).json["id"]
        h.lead_accepts_and_joins(esc_id)
        assert h.api("POST", f"/api/escalations/{esc_id}/connect", json={}).status_code == 200
        connected[org] = esc_id

        waiting_sid, _ = h.caller_with_agent()
        escalated = h.escalate(waiting_sid, who=h.core.ctx.store.call(waiting_sid)["agent_id"])
        assert escalated.status_code == 201, escalated.json
        hold_id = escalated.json["id"]
        h.advance(h.core.policy.hold.limit_seconds + 5)  # R-HOLD-3: the limit takes them to the offer
        book_callback(h, waiting_sid, hold_id)
        booked[org] = (hold_id, h.escalation(hold_id)["callback"]["id"])
    tags = {
        k.decode().split("}")[0] + "}" for node in cluster.nodes for k in redis.Redis(port=node.port).keys("esc:{*")
    }
    assert tags == {"esc:{example-support}", "esc:{northwind}"}, "every key of the state names its organisation"
    assert not redis.Redis.from_url(queues.url).keys("esc:{*"), "no organisation's state on the queues' node"
    import rq

    from workers.scheduler import LEASE_KEY

    on_queues = redis.Redis.from_url(queues.url)
    rq.Worker(["escalations"], connection=on_queues, name="worker-on-the-queues-node").register_birth()
    on_queues.set(LEASE_KEY, "host-q:4242:abc123", px=5000)
    machinery = h.be(EXAMPLE).api("GET", "/api/queues", who="lead-lee")
    assert machinery.status_code == 200, machinery.json
    waiting = {q["name"]: q["scheduled"] for q in machinery.json["queues"]}
    assert waiting["escalations"] >= 2, "the lead sees the timers on the queues' node (both callbacks' dials)"
    assert [w["name"] for w in machinery.json["workers"]] == ["worker-on-the-queues-node"], "RQ is on that node"
    assert machinery.json["scheduler"] == "host-q:4242:abc123"

    victim = cluster.node_of(f"esc:{{{NORTHWIND}}}:x")
    before = {org: h.be(org).escalation(esc) for org, esc in connected.items()}
    cluster.kill_and_restart(victim)
    state.nodes_manager.initialize()

    for org, esc_id in connected.items():
        after = h.be(org).escalation(esc_id)
        assert after["state"] == "connected" and after["timeline"] == before[org]["timeline"], org
    for org, (hold_id, cb_id) in booked.items():
        h.be(org)
        assert h.escalation(hold_id)["callback"]["status"] in ("scheduled", "rescheduled"), org
        h.advance(2 * 3600)
        dials = [r for r in h.rest.requests("CreateCall") if f"callback={cb_id}" in (r.param("Url") or "")]
        assert len(dials) == 1, (org, len(dials))
