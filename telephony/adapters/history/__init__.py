"""The history database (issue 30): the only code speaking SQL. Finished escalations' records
(R-NOTE-3), written from the escalation's events, read by GET /api/records, GET /api/reports and
the what-if; Redis keeps what a live call needs.

`DATABASE_URL` names it (PostgreSQL in production, `postgresql+psycopg://...`); without one it is
an embedded SQLite file under the data folder (`var/history.sqlite3`). One engine per URL and
process; Alembic brings the schema to the newest revision the first time a process opens it.

Every statement runs in a transaction that names its organisation: every query filters on it,
and on PostgreSQL the transaction also sets `app.organisation`, which the tables' row-level
security checks (a second lock: a query that forgot its filter still sees one organisation)."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Integer,
    Text,
    and_,
    case,
    cast,
    create_engine,
    delete,
    event,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import SQLAlchemyError as HistoryError
from sqlalchemy.sql.elements import ColumnElement

from telephony.adapters.history.schema import CHILDREN, check_ins, documents, hold_rounds, holds, records, red_flags

__all__ = ["History", "HistoryError", "OperationalError", "engine_for", "sqlite_url"]

MIGRATIONS = Path(__file__).parent / "migrations"
BATCH = 500
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _after_fork() -> None:
    """A forked process (gunicorn --preload's workers, RQ's work-horse) opens connections of its
    own: the parent's pooled ones are left to the parent, never shared (SQLAlchemy's advice)."""
    for engine in _engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork)


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'history.sqlite3'}"


def engine_for(url: str) -> Engine:
    """The process's engine for this URL, its schema brought up to date the first time."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            migrate(engine)
            _engines[url] = engine
        return engine


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # Fail fast when the server is down: the event stays in the outbox and is retried.
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 3})


def migrate(engine: Engine) -> None:
    """Alembic `upgrade head`, one process at a time (a file lock for SQLite, an advisory lock on
    PostgreSQL), so several processes starting together never race on the schema."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine.dialect.name == "sqlite" and engine.url.database:
        with open(f"{engine.url.database}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(30)"))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


class History:
    """One organisation's history: every statement filters on it."""

    def __init__(self, engine: Engine, organisation: str):
        self.engine = engine
        self.organisation = organisation
        self.postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            if self.postgres:
                conn.execute(text("SELECT set_config('app.organisation', :org, true)"), {"org": self.organisation})
            yield conn

    def ping(self) -> bool:
        """The database answers (GET /ready, /metrics); never raises."""
        try:
            with self.transaction() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except HistoryError:
            return False

    # -- writing ---------------------------------------------------------------------------------
    def save(self, esc_id: str, record: dict[str, Any], facts: dict[str, Any], written_at: datetime) -> None:
        """Write (or rewrite) one record with its rows: an upsert by escalation id, so a retried
        write changes nothing."""
        with self.transaction() as conn:
            self._save(conn, [(esc_id, record, facts)], written_at)

    def save_many(self, items: Iterable[tuple[str, dict[str, Any], dict[str, Any]]], written_at: datetime) -> int:
        """Several records in one transaction, in a few statements (the copy of an old archive)."""
        batch = list(items)
        if batch:
            with self.transaction() as conn:
                self._save(conn, batch, written_at)
        return len(batch)

    def _save(
        self, conn: Connection, items: list[tuple[str, dict[str, Any], dict[str, Any]]], written_at: datetime
    ) -> None:
        """The records upserted, then their rows: those of a record written before are deleted
        first (a rewrite replaces them); one statement per table for the whole batch."""
        org = self.organisation
        ids = [esc_id for esc_id, _, _ in items]
        known = set(
            conn.execute(select(records.c.id).where(records.c.organisation == org, records.c.id.in_(ids))).scalars()
        )
        if known:
            for table in CHILDREN:
                conn.execute(delete(table).where(table.c.organisation == org, table.c.escalation_id.in_(known)))
        columns = [c.name for c in records.c if c.name not in ("organisation", "id", "written_at")]
        rows = [
            {
                "organisation": org,
                "id": esc_id,
                "written_at": written_at,
                **{k: f[k] for k in columns},
            }
            for esc_id, record, f in items
        ]
        insert = (postgresql.insert if self.postgres else sqlite.insert)(records)
        upsert = insert.on_conflict_do_update(
            index_elements=["organisation", "id"],
            set_={k: insert.excluded[k] for k in rows[0] if k not in ("organisation", "id")},
        )
        conn.execute(upsert, rows)
        children: dict[Any, list[dict[str, Any]]] = {table: [] for table in CHILDREN}
        for esc_id, record, f in items:
            mine = {"organisation": org, "escalation_id": esc_id, "created_at": f["created_at"]}
            children[documents].append({**mine, "record": record})
            children[holds] += [{**mine, "n": n, "seconds": s} for n, s in enumerate(f["holds"])]
            children[hold_rounds] += [
                {**mine, "n": n, "started_at": at, "seconds": s, "started_by": by}
                for n, (at, s, by) in enumerate(f["rounds"])
            ]
            children[check_ins] += [
                {**mine, "n": n, "at": at, "late_seconds": late} for n, (at, late) in enumerate(f["check_ins"])
            ]
            children[red_flags] += [
                {**mine, "n": n, "phrase": p, "raised_at": at, "told_at": told, "seconds_to_told": s}
                for n, (p, at, told, s) in enumerate(f["red_flags"])
            ]
        for table, table_rows in children.items():
            if table_rows:
                conn.execute(table.insert(), table_rows)

    def delete_written_before(self, cutoff: datetime) -> int:
        """Retention (RECORDS_RETENTION_DAYS): records last written before the cutoff, with their rows."""
        org = self.organisation
        old = select(records.c.id).where(records.c.organisation == org, records.c.written_at < cutoff)
        with self.transaction() as conn:
            for table in CHILDREN:
                conn.execute(delete(table).where(table.c.organisation == org, table.c.escalation_id.in_(old)))
            gone = conn.execute(delete(records).where(records.c.organisation == org, records.c.written_at < cutoff))
            return int(gone.rowcount or 0)

    # -- reading ---------------------------------------------------------------------------------
    def _mine(self, start: datetime, end: datetime, table: Any = records) -> ColumnElement[bool]:
        return and_(table.c.organisation == self.organisation, table.c.created_at >= start, table.c.created_at < end)

    def record(self, esc_id: str) -> dict[str, Any] | None:
        query = select(cast(documents.c.record, Text)).where(
            documents.c.organisation == self.organisation, documents.c.escalation_id == esc_id
        )
        with self.transaction() as conn:
            raw = conn.execute(query).scalar()
        return json.loads(raw) if raw else None

    def known(self, esc_ids: list[str]) -> set[str]:
        """Which of these escalations have a record here."""
        if not esc_ids:
            return set()
        query = select(records.c.id).where(records.c.organisation == self.organisation, records.c.id.in_(esc_ids))
        with self.transaction() as conn:
            return set(conn.execute(query).scalars())

    def count(self) -> int:
        with self.transaction() as conn:
            return int(
                conn.execute(select(func.count()).where(records.c.organisation == self.organisation)).scalar() or 0
            )

    def records_between(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, str, str]]:
        """(created, id, the record as JSON text) of every record created in [start, end), oldest
        first, through a server-side cursor on PostgreSQL (SQLite's cursor reads as it goes): the
        memory a year's export takes is one batch's."""
        query = (
            select(documents.c.created_at, documents.c.escalation_id, cast(documents.c.record, Text))
            .where(self._mine(start, end, documents))
            .order_by(documents.c.created_at, documents.c.escalation_id)
        )
        with self.transaction() as conn:
            result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
            for row in result:
                yield row[0], row[1], row[2]

    def aggregates(self, start: datetime, end: datetime, limit: int, check_in_seconds: int | None) -> dict[str, Any]:
        """The report's numbers for [start, end) as SQL aggregates (GET /api/reports):
        counts, sums and maxima in the database; the nearest-rank percentiles with
        percentile_disc on PostgreSQL, and on SQLite (which has none) from one narrow column read,
        ordered by the database. `telephony/reports/figures.py` lays them out."""
        with self.transaction() as conn:
            return self._aggregates(conn, start, end, limit, check_in_seconds)

    def aggregates_with(
        self,
        start: datetime,
        end: datetime,
        limit: int,
        check_in_seconds: int | None,
        live: list[tuple[str, dict[str, Any], dict[str, Any]]],
        written_at: datetime,
    ) -> dict[str, Any]:
        """The same, counting records not in the database yet (escalations still going, read
        from live state) as if they were: written inside the report's transaction, which is then
        rolled back, so the one set of queries counts them and nothing is kept."""
        with self.engine.connect() as conn:
            outer = conn.begin()
            try:
                if self.postgres:
                    conn.execute(text("SELECT set_config('app.organisation', :org, true)"), {"org": self.organisation})
                if live:
                    self._save(conn, live, written_at)
                return self._aggregates(conn, start, end, limit, check_in_seconds)
            finally:
                outer.rollback()

    def _aggregates(
        self, conn: Connection, start: datetime, end: datetime, limit: int, check_in_seconds: int | None
    ) -> dict[str, Any]:
        r, h, hr, ci, rf = records, holds, hold_rounds, check_ins, red_flags
        out: dict[str, Any] = {}
        out["kinds_tiers"] = [
            (kind, tier, n)
            for kind, tier, n in conn.execute(
                select(r.c.kind, r.c.tier, func.count()).where(self._mine(start, end)).group_by(r.c.kind, r.c.tier)
            )
        ]
        out["to_lead"] = self._seconds(conn, r.c.to_lead_seconds, self._mine(start, end), r.c.tier)
        width = max(1, limit // 10)
        bins = 2 * limit // width + 1
        n_bin = func.floor(h.c.seconds / width)
        bin_ = case((n_bin > bins - 1, literal(bins - 1)), else_=n_bin)
        out["holds"] = conn.execute(
            select(
                func.count(),
                func.sum(case((h.c.seconds > limit, 1), else_=0)),
                func.max(h.c.seconds),
            ).where(self._mine(start, end, h))
        ).one()
        out["hold_bins"] = [
            (int(b), n)
            for b, n in conn.execute(
                select(cast(bin_, Integer).label("b"), func.count()).where(self._mine(start, end, h)).group_by("b")
            )
        ]
        ended = and_(self._mine(start, end, hr), hr.c.seconds.is_not(None))
        due: ColumnElement[Any] = literal(None)
        if check_in_seconds:
            most = (limit - 1) // check_in_seconds
            whole = func.floor(hr.c.seconds / check_in_seconds)
            fits = case(
                (hr.c.seconds <= 0, 0),
                (whole * check_in_seconds < hr.c.seconds, whole),
                else_=whole - 1,
            )
            due = func.sum(case((fits > most, most), else_=fits))
        out["rounds"] = conn.execute(
            select(
                func.max(hr.c.seconds),
                func.sum(case((hr.c.seconds > limit + 10, 1), else_=0)),
                cast(due, Float),
            ).where(ended)
        ).one()
        out["kept_holding"] = conn.execute(
            select(func.count()).where(self._mine(start, end), r.c.kept_holding.is_(True))
        ).scalar()
        out["check_ins"] = conn.execute(
            select(
                func.count(),
                func.sum(case((ci.c.late_seconds <= 10, 1), else_=0)),
                func.max(ci.c.late_seconds),
            ).where(self._mine(start, end, ci))
        ).one()
        with_callback = and_(self._mine(start, end), r.c.callback_status.is_not(None))
        out["callbacks_by_day"] = [
            (day, outcome, n)
            for day, outcome, n in conn.execute(
                select(r.c.created_day, r.c.callback_outcome, func.count())
                .where(with_callback)
                .group_by(r.c.created_day, r.c.callback_outcome)
            )
        ]
        out["overdue"] = list(
            conn.execute(
                select(r.c.id).where(with_callback, r.c.callback_overdue.is_(True)).order_by(r.c.created_at, r.c.id)
            ).scalars()
        )
        out["managers_only"] = [
            (kind, by, role, n)
            for kind, by, role, n in conn.execute(
                select(r.c.kind, r.c.taken_by, r.c.taken_by_role, func.count())
                .where(self._mine(start, end), r.c.kind.in_(("formal_complaint", "abusive")))
                .group_by(r.c.kind, r.c.taken_by, r.c.taken_by_role)
            )
        ]
        out["red_flags"] = conn.execute(
            select(func.count(), func.count(rf.c.told_at)).where(self._mine(start, end, rf))
        ).one()
        out["to_told"] = self._seconds(conn, rf.c.seconds_to_told, self._mine(start, end, rf), None)
        out["emails"] = conn.execute(
            select(
                func.sum(r.c.emails_sent),
                func.sum(r.c.email_failed_tries),
                func.sum(case((r.c.emails_sent > 0, 1), else_=0)),
                func.sum(case((and_(r.c.emails_sent == 0, r.c.email_failed_tries > 0), 1), else_=0)),
            ).where(self._mine(start, end))
        ).one()
        return out

    def _seconds(
        self, conn: Connection, column: Any, where: ColumnElement[bool], by: Any | None
    ) -> dict[str | None, dict[str, Any]]:
        """count, p50, p90 (nearest rank) and max of a column, overall (key None) and per `by`."""
        present = and_(where, column.is_not(None))
        out: dict[str | None, dict[str, Any]] = {}
        if self.postgres:
            figures = (
                func.count(column),
                func.percentile_disc(0.5).within_group(column),
                func.percentile_disc(0.9).within_group(column),
                func.max(column),
            )
            groups: list[tuple[Any, tuple[Any, ...]]] = [
                (None, tuple(conn.execute(select(*figures).where(present)).one()))
            ]
            if by is not None:
                groups += [
                    (row[0], tuple(row[1:])) for row in conn.execute(select(by, *figures).where(present).group_by(by))
                ]
            for key, (count, p50, p90, top) in groups:
                out[key] = {"count": count, "p50": p50, "p90": p90, "max": top}
            return out
        # SQLite: no percentile function; one narrow column (two with the group), sorted by the
        # database, each group's nearest rank picked from what was read.
        columns = (by, column) if by is not None else (column,)
        values: dict[str | None, list[float]] = {None: []}
        for row in conn.execute(select(*columns).where(present).order_by(column)):
            values[None].append(row[-1])
            if by is not None:
                values.setdefault(row[0], []).append(row[-1])
        for key, ordered in values.items():
            out[key] = {
                "count": len(ordered),
                "p50": _nearest_rank(ordered, 0.5),
                "p90": _nearest_rank(ordered, 0.9),
                "max": ordered[-1] if ordered else None,
            }
        return out


def _nearest_rank(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]
