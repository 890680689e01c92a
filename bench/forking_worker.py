"""The worker as it was before issue 19's last step: workers.worker.Worker, but forking a
work-horse for every job as RQ's own Worker does. Only for measuring the difference in one run
(`python -m bench.quick --dialler 10000 --cps 400 --forking`); the service never runs it."""

from __future__ import annotations

import rq

from workers.worker import Worker


class ForkingWorker(Worker):
    execute_job = rq.Worker.execute_job
    get_heartbeat_ttl = rq.Worker.get_heartbeat_ttl
