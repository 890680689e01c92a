"""Everything timed (check-ins, hold limits, callback dials, deadlines, retries) is a timer: one
small entry in a Redis sorted set (`esc:timers`, scored by when it is due) and its call in a hash.
The scheduler (`python -m workers.scheduler`, or `release_due` on the simulator's virtual clock)
moves the due ones onto the RQ queue in batches, one `workers.commands.run_timers` job per batch.
What a timer runs is a command (telephony/commands.py), stored as its name and fields; the
workers' table (`workers/commands.py`) runs it.

Why not one RQ job per timer (`enqueue_at`): an RQ job hash costs about 1.3 KB while it waits and
its bookkeeping about 10 ms of a worker when it runs, so 1,000 callers on hold cost megabytes and
their check-ins queued up for seconds (issue 8: bench/RESULTS.md). A timer waiting here costs about
100 bytes, and a batch pays RQ's bookkeeping once for up to BATCH timers.

Nothing is lost between the two: releasing moves each due timer into `esc:timers-releasing` in the
same Lua script that takes it, and the batch job is enqueued in the same transaction that clears
it from there; a scheduler killed in between leaves them there, and the next tick puts them back.
Every job is safe to run twice (STYLE.md), so that rare replay does nothing a second time.

Several organisations (issue 17) share the one sorted set: a timer's member is
`<organisation>/<key>` (so two organisations' "sweep-callbacks" are two timers) and its call names
the organisation, which `workers.commands.run_timers` works in. The set lives beside RQ's queues, on
one node (QUEUE_REDIS_URL), never on the cluster that holds the organisations' state."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from rq import Queue, Retry
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from telephony.adapters.store import keys
from telephony.clock import Clock
from telephony.commands import Command

QUEUE = "escalations"
# Work a caller is waiting on (ringing their agent, telling a lead) goes here, and every worker
# takes it before anything else: `rq worker escalations-urgent escalations`.
URGENT_QUEUE = "escalations-urgent"
QUEUES = (URGENT_QUEUE, QUEUE)
# A manager's what-if replay runs for minutes: on a queue of its own, with a worker of its own
# (`rq worker what-if`), so it never holds up a caller's check-in or callback.
WHAT_IF_QUEUE = "what-if"
WHAT_IF_TIMEOUT_SECONDS = 7200  # a 2,000-call day replays in about 30 min a policy (docs/what-if.md)
RETRY = Retry(max=3, interval=[5, 30, 120])
# A step Twilio could not do (take a caller off hold, ring a lead) is tried again on the
# virtual-clock-aware scheduler, sooner first, then every 2 minutes for as long as it matters.
AGAIN_AFTER_SECONDS = (5, 15, 30, 60, 120)
TELL_PEOPLE_AFTER_TRIES = 3
# A timer whose own code raised is tried again this much later, this many times (then it is left
# in the log and the failed-job registry for a person to look at).
TIMER_RETRY_SECONDS = (5, 30, 120)

TIMERS = keys.TIMERS
TIMER_CALLS = keys.TIMER_CALLS
RELEASING = keys.TIMERS_RELEASING
BATCH = 20  # timers per job at least; a burst is cut into about JOBS_PER_TICK jobs instead
JOBS_PER_TICK = 8  # enough that every worker gets a share of a burst, few enough that RQ's cost per job stays small
RELEASE_AT_MOST = 2000  # per tick; the rest on the next one
STUCK_RELEASING_SECONDS = 30
# Jobs' results are never read; failed ones are kept for a week for a person to look at.
RESULT_TTL = 0
FAILURE_TTL = 7 * 86400

_TAKE_DUE = """
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local out = {}
for i = 1, #keys, 2 do
  local key, due = keys[i], keys[i + 1]
  local call = redis.call('HGET', KEYS[2], key)
  redis.call('ZREM', KEYS[1], key)
  redis.call('HDEL', KEYS[2], key)
  if call then
    redis.call('HSET', KEYS[3], key, cjson.encode({call, due, ARGV[1]}))
    table.insert(out, key)
    table.insert(out, call)
    table.insert(out, due)
  end
end
return out
"""

_PUT_BACK = """
local all = redis.call('HGETALL', KEYS[3])
local n = 0
for i = 1, #all, 2 do
  local entry = cjson.decode(all[i + 1])
  if tonumber(ARGV[1]) - tonumber(entry[3]) >= tonumber(ARGV[2]) then
    if redis.call('ZSCORE', KEYS[1], all[i]) == false then
      redis.call('ZADD', KEYS[1], entry[2], all[i])
      redis.call('HSET', KEYS[2], all[i], entry[1])
      n = n + 1
    end
    redis.call('HDEL', KEYS[3], all[i])
  end
end
return n
"""


DEFAULT_ORGANISATION = "default"
# The only two names of worker code the core holds, RQ's entry points (the core may not import the
# workers): every step queued straight onto RQ runs as IN_ORGANISATION(organisation, command's
# name, its args); every batch of due timers as RUN_TIMERS(batch).
IN_ORGANISATION = "workers.commands.in_organisation"
RUN_TIMERS = "workers.commands.run_timers"


def job_organisations(job: Job) -> set[str]:
    """The organisations a job works for (issue 35: a lead sees only their own's): a step's, its
    first argument; a batch of due timers', every timer's in it. Empty for a job that names none
    (one queued before the typed commands, under an old name, too), or whose data cannot be read."""
    try:
        func, args = job.func_name, job.args
    except (DeserializationError, NoSuchJobError):  # its data unreadable, or gone: nobody's
        return set()
    if func == IN_ORGANISATION and args:
        return {str(args[0])}
    if func == RUN_TIMERS and args and isinstance(args[0], list):
        return {
            str(timer.get("organisation") or DEFAULT_ORGANISATION) if isinstance(timer, dict) else DEFAULT_ORGANISATION
            for timer in args[0]
        }
    return set()


def payload(command: Command, tries: int = 0, urgent: bool = False) -> str:
    """A timer's call as stored: a JSON object, so a field can be added without touching the
    timers waiting, and small (a burst of check-ins stores thousands): the command's name and
    fields, `tries` only once it has failed. Its organisation is its member's prefix
    (`<organisation>/<key>`), not repeated."""
    name, args = command.wire()
    call: dict[str, Any] = {"command": name, "args": args}
    if tries:
        call["tries"] = tries
    if urgent:
        call["urgent"] = True
    return json.dumps(call, separators=(",", ":"))


def read_payload(raw: bytes | str) -> dict[str, Any]:
    """A stored call, `tries` filled in. Timers stored before the commands name a worker function
    instead (`func`, as a JSON object or the [func, args, tries] lists before that): read as they
    are, the workers map each old name to its command (workers/commands.py)."""
    call = json.loads(raw)
    if isinstance(call, list):
        func, args, tries = call
        return {"func": func, "args": args, "tries": tries}
    return {"tries": 0, **call}


def job_id(*parts: object) -> str:
    """A deterministic id, so scheduling the same timer twice keeps one."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", "-".join(str(p) for p in parts))


class Timers:
    def __init__(
        self, conn: redis.Redis, clock: Clock, queue_name: str = QUEUE, organisation: str = DEFAULT_ORGANISATION
    ):
        self.conn = conn
        self.clock = clock
        self.organisation = organisation
        self.queue = Queue(queue_name, connection=conn)
        self.urgent = Queue(URGENT_QUEUE, connection=conn)
        self._take_due = conn.register_script(_TAKE_DUE)
        self._put_back = conn.register_script(_PUT_BACK)

    def at(
        self,
        when: datetime,
        command: Command,
        *,
        key: str | None = None,
        tries: int = 0,
        only_if_none: bool = False,
    ) -> str:
        """Run `command` at `when` (on the service's clock). The same key again moves it,
        unless `only_if_none`: then a timer already waiting under that key stays as it is."""
        key = key or uuid.uuid4().hex
        with self.conn.pipeline(transaction=True) as pipe:
            self._add(pipe, when, command, key, tries, only_if_none)
            pipe.execute()
        return key

    def at_many(self, timers: Sequence[tuple[datetime, Command, str]]) -> None:
        """Several timers (when, command, key) in one round trip: a hold's check-ins and limit."""
        with self.conn.pipeline(transaction=True) as pipe:
            for when, command, key in timers:
                self._add(pipe, when, command, key, 0, False)
            pipe.execute()

    def entry(self, command: Command, *, key: str | None = None, urgent: bool = False) -> tuple[str, float, str]:
        """A timer due now as (key, due, payload), for a store script that leaves it in
        TIMERS / TIMER_CALLS in the same round trip as the state change it belongs to (the
        caller's webhook: scripts.REACH_AGENT). `urgent` ones go to URGENT_QUEUE when released."""
        member = self._member(key or uuid.uuid4().hex)
        return member, self.clock.now().timestamp(), payload(command, 0, urgent)

    def now(self, command: Command, *, key: str | None = None, urgent: bool = False) -> str:
        """Hand work to the workers without RQ's round trips: a timer due now and the scheduler
        woken (keys.timers_wake), one round trip. Kept in Redis like any timer, so a worker or
        scheduler that dies loses nothing; the same key again keeps one."""
        key, due, call = self.entry(command, key=key, urgent=urgent)
        with self.conn.pipeline(transaction=True) as pipe:
            pipe.hset(TIMER_CALLS, key, call)
            pipe.zadd(TIMERS, {key: due})
            pipe.publish(keys.timers_wake(), key)
            pipe.execute()
        return key

    def _member(self, key: str) -> str:
        return f"{self.organisation}/{key}"

    def _add(self, pipe: Any, when: datetime, command: Command, key: str, tries: int, only_if_none: bool) -> None:
        call = payload(command, tries)
        key = self._member(key)
        if only_if_none:
            pipe.hsetnx(TIMER_CALLS, key, call)
            pipe.zadd(TIMERS, {key: when.timestamp()}, nx=True)
        else:
            pipe.hset(TIMER_CALLS, key, call)
            pipe.zadd(TIMERS, {key: when.timestamp()})

    def soon(self, command: Command, *, key: str | None = None) -> Job:
        """`command` onto the queue now, as an RQ job (RQ retries it if it raises)."""
        return self.queue.enqueue(
            IN_ORGANISATION,
            self.organisation,
            *command.wire(),
            job_id=job_id(self.organisation, key) if key else None,
            retry=RETRY,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )

    def right_away(self, command: Command) -> Job:
        """Twilio work a webhook must not wait for: the webhook answers from Redis alone and a
        worker makes the REST call the moment the response is sent (issue 8: no dead air)."""
        return self.urgent.enqueue(
            IN_ORGANISATION,
            self.organisation,
            *command.wire(),
            retry=RETRY,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )

    def replay_later(self, command: Command, *, key: str) -> Job:
        """A what-if replay onto WHAT_IF_QUEUE, in this organisation; never retried on its own
        (the job records a failure for the manager to see, who may run it again)."""
        return Queue(WHAT_IF_QUEUE, connection=self.conn).enqueue(
            IN_ORGANISATION,
            self.organisation,
            *command.wire(),
            job_id=job_id(self.organisation, "what-if", key),
            job_timeout=WHAT_IF_TIMEOUT_SECONDS,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )

    def queues(self) -> list[Queue]:
        return [self.urgent, self.queue]

    def again(self, command: Command, *, key: str) -> datetime:
        """Schedule the next try of a step Twilio failed: `command` carries how often it has
        failed (its `tries`); its own key, so a duplicate of the failed job does not schedule it
        twice."""
        tries = int(getattr(command, "tries"))  # noqa: B009  (every retried command has one)
        delay = AGAIN_AFTER_SECONDS[min(tries, len(AGAIN_AFTER_SECONDS)) - 1]
        when = self.clock.now() + timedelta(seconds=delay)
        self.at(when, command, key=job_id(key, "try", tries))
        return when

    def retry_failed(self, key: str, command: Command, tries: int) -> bool:
        """A timer whose code raised: once more later, up to len(TIMER_RETRY_SECONDS) times."""
        if tries >= len(TIMER_RETRY_SECONDS):
            return False
        when = self.clock.now() + timedelta(seconds=TIMER_RETRY_SECONDS[tries])
        self.at(when, command, key=key, tries=tries + 1)
        return True

    def release_due(self) -> int:
        """Move every timer due by the clock's now onto the queue, BATCH to a job (what the
        scheduler does each tick); also RQ's own retries of failed jobs. Returns timers moved."""
        now = self.clock.now().timestamp()
        self._put_back(keys=[TIMERS, TIMER_CALLS, RELEASING], args=[now, STUCK_RELEASING_SECONDS])
        released = self._release_rq_retries(now)
        while True:
            flat = self._take_due(keys=[TIMERS, TIMER_CALLS, RELEASING], args=[now, RELEASE_AT_MOST, now])
            if not flat:
                return released
            due: list[dict[str, Any]] = []
            for i in range(0, len(flat), 3):
                # A member from before issue 17 has no "<organisation>/": the default organisation's.
                member = flat[i].decode()
                org, _, key = member.rpartition("/")
                due.append(
                    {
                        **read_payload(flat[i + 1]),
                        "organisation": org or DEFAULT_ORGANISATION,
                        "member": member,
                        "key": key,
                        "due": float(flat[i + 2]),
                    }
                )
            with self.conn.pipeline(transaction=True) as pipe:
                for queue, timers in (
                    (self.urgent, [t for t in due if t.get("urgent")]),
                    (self.queue, [t for t in due if not t.get("urgent")]),
                ):
                    if timers:
                        queue.enqueue_many(self._batches(timers), pipeline=pipe)
                pipe.hdel(RELEASING, *[entry["member"] for entry in due])
                pipe.execute()
            released += len(due)
            if len(due) < RELEASE_AT_MOST:
                return released

    @staticmethod
    def _batches(due: list[dict[str, Any]]) -> list[Any]:
        """What is due in one tick, in about JOBS_PER_TICK jobs (at least BATCH timers each): a
        burst of 1,000 is 8 jobs, not 50 each paying RQ's bookkeeping, and a job's check-ins share one
        round trip (workers.commands.run_timers)."""
        size = max(BATCH, -(-len(due) // JOBS_PER_TICK))
        return [
            Queue.prepare_data(
                RUN_TIMERS,
                (due[i : i + size],),
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                retry=RETRY,
                description=f"{min(size, len(due) - i)} timers",
            )
            for i in range(0, len(due), size)
        ]

    def _release_rq_retries(self, now: float) -> int:
        registry = ScheduledJobRegistry(queue=self.queue)
        ids = registry.get_jobs_to_schedule(int(now))
        released = 0
        for key, job in zip(ids, Job.fetch_many(ids, connection=self.conn), strict=True):
            # One MULTI: a scheduler killed between taking a timer off the registry and queueing
            # it would otherwise lose it (a check-in, a callback dial: R-CB-8).
            with self.conn.pipeline(transaction=True) as pipe:
                pipe.multi()
                registry.remove(key, pipeline=pipe)
                if job is not None:
                    self.queue.enqueue_job(job, pipeline=pipe)
                pipe.execute()
            released += job is not None
        return released

    def waiting(self) -> int:
        """Timers not yet due (they become `escalations` jobs when they are)."""
        return self.conn.zcard(TIMERS)

    def next_due(self) -> datetime | None:
        """When the earliest timer (or RQ retry) falls due, in one round trip (the simulator asks
        every tick)."""
        with self.conn.pipeline(transaction=False) as pipe:
            pipe.zrange(TIMERS, 0, 0, withscores=True)
            pipe.zrange(ScheduledJobRegistry(queue=self.queue).key, 0, 0, withscores=True)
            firsts = [first[0][1] for first in pipe.execute() if first]
        return datetime.fromtimestamp(min(firsts), UTC) if firsts else None

    def scheduled(self) -> list[tuple[str, datetime]]:
        """Every timer of this organisation not yet due or not yet run, with when it is due (UTC)."""
        scored: list[tuple[bytes, float]] = self.conn.zrange(TIMERS, 0, -1, withscores=True)  # type: ignore[assignment]
        mine = f"{self.organisation}/"
        times = [
            (key.decode()[len(mine) :], datetime.fromtimestamp(score, UTC))
            for key, score in scored
            if key.decode().startswith(mine)
        ]
        registry = ScheduledJobRegistry(queue=self.queue)
        for key in registry.get_job_ids():
            when = registry.get_scheduled_time(key)
            times.append((key, when if when.tzinfo else when.replace(tzinfo=UTC)))
        return times
