"""KPI summaries: per-day counts, daily flows, cohort re-entries, and the indexes their reads use

The projector fills them in the batch transaction; the first batch after this migration builds them from
the projection tables (docs/kpi.md "Summary tables"). Until then the API reads the projection tables.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
# The same expressions as services/kpi/adapters/summary_store.py (a stay's end and duration bucket).
ENDED = "coalesce(left_at, exited_at)"
BUCKET = "floor(log(greatest(extract(epoch from coalesce(left_at, exited_at) - since) * 1000000, 1)::float8) * 8)::int"


def upgrade() -> None:
    op.create_table(
        "kpi_day_counts",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "stage", "day", "bucket", name=op.f("pk_kpi_day_counts")),
    )
    op.create_table(
        "kpi_flow_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("from_stage", sa.Text(), nullable=False),
        sa.Column("to_stage", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "from_stage", "to_stage", name=op.f("pk_kpi_flow_days")),
    )
    op.create_table(
        "kpi_cohort_repeats",
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("prev_at", TZ, nullable=False),
        sa.Column("furthest_index", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "stage", "at", "prev_at", name=op.f("pk_kpi_cohort_repeats")),
    )
    op.create_index("ix_kpi_cohort_repeats_stage_at", "kpi_cohort_repeats", ["stage", "at"])
    op.create_index(
        "ix_kpi_stays_open_since", "kpi_stays", ["stage", "since"], postgresql_where=sa.text("exited_at IS NULL")
    )
    transition, due = sa.text("entry_kind = 'transition'"), sa.text("sla_due_at IS NOT NULL")
    op.create_index("ix_kpi_stays_entry_since", "kpi_stays", ["stage", "since"], postgresql_where=transition)
    op.create_index("ix_kpi_stays_stage_due", "kpi_stays", ["stage", "sla_due_at"], postgresql_where=due)
    op.create_index(
        "ix_kpi_stays_ended",
        "kpi_stays",
        ["stage", sa.text(f"({BUCKET})"), sa.text(f"({ENDED})")],
        postgresql_where=sa.text("exit_kind = 'transition'"),
    )
    op.create_index(
        "ix_kpi_stays_stage_ended",
        "kpi_stays",
        ["stage", sa.text(f"({ENDED})")],
        postgresql_where=sa.text("exit_kind = 'transition'"),
    )
    op.create_index(
        "ix_kpi_leads_merged_into", "kpi_leads", ["merged_into"], postgresql_where=sa.text("merged_into IS NOT NULL")
    )


def downgrade() -> None:
    for index, table in (
        ("ix_kpi_leads_merged_into", "kpi_leads"),
        ("ix_kpi_stays_stage_ended", "kpi_stays"),
        ("ix_kpi_stays_ended", "kpi_stays"),
        ("ix_kpi_stays_stage_due", "kpi_stays"),
        ("ix_kpi_stays_entry_since", "kpi_stays"),
        ("ix_kpi_stays_open_since", "kpi_stays"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("kpi_cohort_repeats", "kpi_flow_days", "kpi_day_counts"):
        op.drop_table(table)
