"""A real Redis Cluster on loopback for the tests (issue 17): three `redis-server --cluster-enabled
yes` masters, each with an append-only file fsynced on every write, joined with `redis-cli
--cluster create`. A master killed with SIGKILL comes back on its port from its own files."""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from telephony.adapters.local_redis import LocalRedis

NODE_ARGS = ("--cluster-enabled", "yes", "--cluster-node-timeout", "2000", "--appendfsync", "always")


def cluster_port() -> int:
    """A free port whose cluster bus port (+10,000) is free too, so below 55,536."""
    for _ in range(200):
        port = random.randint(20_000, 45_000)
        try:
            for candidate in (port, port + 10_000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


@dataclass
class LocalCluster:
    root: Path
    nodes: list[LocalRedis] = field(default_factory=list)

    @classmethod
    def start(cls, root: Path, masters: int = 3) -> LocalCluster:
        cluster = cls(Path(root))
        for n in range(masters):
            port = cluster_port()
            cluster.nodes.append(
                LocalRedis.start(cluster.root / f"node-{n}", port=port, extra=(*NODE_ARGS, "--cluster-config-file", "nodes.conf"))
            )
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        subprocess.run(
            [cli, "--cluster", "create", *[f"127.0.0.1:{node.port}" for node in cluster.nodes], "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        cluster.wait_ok()
        return cluster

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    def client(self) -> RedisCluster:
        return RedisCluster.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)

    def wait_ok(self, seconds: float = 30.0) -> None:
        """Until every node says the cluster is whole (all 16,384 slots served)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if all(
                    redis.Redis(port=node.port, socket_timeout=1).cluster("INFO").get("cluster_state") == "ok"
                    for node in self.nodes
                ):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the cluster did not become whole")

    def node_of(self, key: str) -> int:
        """Which node (index) serves this key's slot."""
        slot = int(redis.Redis(port=self.nodes[0].port).execute_command("CLUSTER KEYSLOT", key))
        for index, node in enumerate(self.nodes):
            for start, end, *_ in redis.Redis(port=node.port).execute_command("CLUSTER SLOTS"):
                if start <= slot <= end and _[0][1] == node.port:
                    return index
        raise LookupError(key)

    def kill_and_restart(self, index: int) -> None:
        """SIGKILL one master, then start it again on its port from its AOF and nodes.conf."""
        node = self.nodes[index]
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()
        self.nodes[index] = LocalRedis.start(
            node.data_dir, port=node.port, extra=(*NODE_ARGS, "--cluster-config-file", "nodes.conf")
        )
        self.wait_ok()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
