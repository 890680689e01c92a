"""The history tables (issue 30): escalation records with their typed columns, holds, hold
rounds, check-ins and red flags, each indexed by organisation and creation time; on PostgreSQL,
row-level security by organisation on every table.

This is the schema as first released: it creates telephony/adapters/history/schema.py's tables.
A later change to them is a new revision, and this one then keeps a copy of the tables as they
were here.

Revision ID: 0001
Revises:
Create Date: 2026-12-08"""

from __future__ import annotations

from alembic import op

from telephony.adapters.history.schema import TABLES

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The second lock behind every query's filter: a session sees and writes only the rows of the
# organisation it named (SET LOCAL app.organisation), even where a query forgot its own filter.
RLS = """
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {t} FORCE ROW LEVEL SECURITY;
CREATE POLICY {t}_by_organisation ON {t}
    USING (organisation = current_setting('app.organisation', true))
    WITH CHECK (organisation = current_setting('app.organisation', true));
"""


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)
        if bind.dialect.name == "postgresql":
            for statement in RLS.format(t=table.name).split(";"):
                if statement.strip():
                    op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
