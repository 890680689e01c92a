"""The history database's tables (issue 30), SQLAlchemy Core. Every table carries the
organisation, and is indexed by organisation and creation time: every query names both. The
escalation record (R-NOTE-3) is kept whole as JSON for the export (`escalation_record_documents`),
beside a row of typed columns for what the reports filter and aggregate; holds, hold rounds, check-ins and red flags are rows of
their own (an escalation has any number), with the escalation's creation time copied onto them so
a report's range reads each table by its own index, without a join.

Times are UTC. On PostgreSQL they are `timestamptz`; SQLite has no time type, so they are stored
as UTC text (`UtcDateTime`), which sorts as time does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

ORG = 64
ID = 64


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, whatever the database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        at: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _org() -> Column[str]:
    return Column("organisation", String(ORG), primary_key=True)


def _esc() -> Column[str]:
    return Column("escalation_id", String(ID), primary_key=True)


def _n() -> Column[int]:
    return Column("n", Integer, primary_key=True, autoincrement=False)


def _created() -> Column[datetime]:
    return Column("created_at", UtcDateTime, nullable=False)


records = Table(
    "escalation_records",
    metadata,
    _org(),
    Column("id", String(ID), primary_key=True),
    _created(),
    Column("created_day", String(10), nullable=False),  # the day in the organisation's time zone
    Column("updated_at", UtcDateTime, nullable=False),  # the timeline's last event
    Column("finished_at", UtcDateTime),
    Column("written_at", UtcDateTime, nullable=False),  # the last archive: retention counts from it
    Column("state", Text, nullable=False),
    Column("finished", Boolean, nullable=False),
    Column("kind", Text, nullable=False),
    Column("tier", Text, nullable=False),  # who took the call's role, or "not taken"
    Column("taken_by", Text, nullable=False),
    Column("taken_by_role", Text, nullable=False),
    Column("segment", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("to_lead_seconds", Float),  # R-WARM-1: escalated to caller_connected
    Column("kept_holding", Boolean, nullable=False),
    Column("callback_status", Text),
    Column("callback_window_start", UtcDateTime),
    Column("callback_window_end", UtcDateTime),
    Column("callback_attempts", Integer, nullable=False),
    Column("callback_reached_at", UtcDateTime),
    Column("callback_outcome", Text),  # in_window, late, given_up, not_yet
    Column("callback_overdue", Boolean, nullable=False),
    Column("emails_sent", Integer, nullable=False),
    Column("email_failed_tries", Integer, nullable=False),
    Index("ix_escalation_records_org_created", "organisation", "created_at"),
    Index("ix_escalation_records_org_written", "organisation", "written_at"),
)

# The whole record, for the export and GET /api/escalations/<id>/record, in a table of its own:
# the reports scan the narrow typed rows above (about 200 bytes each), never the JSON (kilobytes).
documents = Table(
    "escalation_record_documents",
    metadata,
    _org(),
    _esc(),
    _created(),
    Column("record", JSON, nullable=False),
    Index("ix_escalation_record_documents_org_created", "organisation", "created_at"),
)

holds = Table(
    "escalation_holds",
    metadata,
    _org(),
    _esc(),
    _n(),
    _created(),
    Column("seconds", Float, nullable=False),
    Index("ix_escalation_holds_org_created", "organisation", "created_at"),
)

hold_rounds = Table(
    "escalation_hold_rounds",
    metadata,
    _org(),
    _esc(),
    _n(),
    _created(),
    Column("started_at", UtcDateTime, nullable=False),
    Column("seconds", Float),  # none: the round never ended on the record
    Column("started_by", Text, nullable=False),
    Index("ix_escalation_hold_rounds_org_created", "organisation", "created_at"),
)

check_ins = Table(
    "escalation_check_ins",
    metadata,
    _org(),
    _esc(),
    _n(),
    _created(),
    Column("at", UtcDateTime, nullable=False),
    Column("late_seconds", Float, nullable=False),
    Index("ix_escalation_check_ins_org_created", "organisation", "created_at"),
)

red_flags = Table(
    "escalation_red_flags",
    metadata,
    _org(),
    _esc(),
    _n(),
    _created(),
    Column("phrase", Text, nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("told_at", UtcDateTime),
    Column("seconds_to_told", Float),
    Index("ix_escalation_red_flags_org_created", "organisation", "created_at"),
)

CHILDREN = (documents, holds, hold_rounds, check_ins, red_flags)
TABLES = (records, *CHILDREN)
