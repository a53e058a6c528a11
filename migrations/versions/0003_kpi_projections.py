"""KPI projections: checkpoint, stays, transitions, leads, revenue ledger and shares, feedback

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kpi_checkpoint",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_kpi_checkpoint")),
    )
    op.create_table(
        "kpi_stays",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("division", sa.Text(), nullable=False),
        sa.Column("entered_at", TZ, nullable=False),
        sa.Column("since", TZ, nullable=False),
        sa.Column("entry_kind", sa.Text(), nullable=False),
        sa.Column("exited_at", TZ, nullable=True),
        sa.Column("exit_kind", sa.Text(), nullable=True),
        sa.Column("to_stage", sa.Text(), nullable=True),
        sa.Column("sla_due_at", TZ, nullable=True),
        sa.Column("sla_met_at", TZ, nullable=True),
        sa.Column("left_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("lead_id", "seq", name=op.f("pk_kpi_stays")),
    )
    op.create_index("ix_kpi_stays_stage_entered", "kpi_stays", ["stage", "entered_at"])
    op.create_index("ix_kpi_stays_stage_exited", "kpi_stays", ["stage", "exited_at"])
    op.create_table(
        "kpi_transitions",
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("from_stage", sa.Text(), nullable=True),
        sa.Column("to_stage", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_kpi_transitions")),
    )
    op.create_index("ix_kpi_transitions_to", "kpi_transitions", ["to_stage", "occurred_at"])
    op.create_index("ix_kpi_transitions_from", "kpi_transitions", ["from_stage", "occurred_at"])
    op.create_table(
        "kpi_leads",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("furthest_index", sa.Integer(), nullable=True),
        sa.Column("merged_into", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_kpi_leads")),
    )
    op.create_table(
        "kpi_revenue",
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("account_id", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_kpi_revenue")),
    )
    op.create_index("ix_kpi_revenue_occurred", "kpi_revenue", ["occurred_at"])
    op.create_table(
        "kpi_revenue_shares",
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("division", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.PrimaryKeyConstraint("position", "division", name=op.f("pk_kpi_revenue_shares")),
    )
    op.create_table(
        "kpi_feedback",
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("from_division", sa.Text(), nullable=False),
        sa.Column("to_division", sa.Text(), nullable=False),
        sa.Column("about", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("met_expectations", sa.Boolean(), nullable=True),
        sa.Column("reason_code", sa.Text(), nullable=True),
        sa.Column("campaign", sa.Text(), nullable=True),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_kpi_feedback")),
    )
    op.create_index("ix_kpi_feedback_occurred", "kpi_feedback", ["occurred_at"])


def downgrade() -> None:
    for table in (
        "kpi_feedback",
        "kpi_revenue_shares",
        "kpi_revenue",
        "kpi_leads",
        "kpi_transitions",
        "kpi_stays",
        "kpi_checkpoint",
    ):
        op.drop_table(table)  # its indexes go with it
