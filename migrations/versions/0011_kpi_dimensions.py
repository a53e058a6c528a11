"""KPI dimensions: each lead's values (and, on its stays, those of the bounded dimensions), the order values were
first seen, the summaries per slice; an index to find a lead's transitions; on the engine's store, an index of
the DimensionsSet events by value

The projector keeps them in the batch transaction; its first batch after this migration computes the sliced
summaries from the projection tables (docs/kpi.md "Slices"). Lead events stored before the engine recorded
dimensions carry no values: those leads count in the slice "none" until a new event shows a value. The engine's
index (partial: DimensionsSet rows only) serves GET /v1/accounts/{id}.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TEXT = sa.Text()


def upgrade() -> None:
    op.create_table(
        "kpi_lead_values",
        sa.Column("lead_id", TEXT, nullable=False),
        sa.Column("dimension", TEXT, nullable=False),
        sa.Column("value", TEXT, nullable=False),
        sa.PrimaryKeyConstraint("lead_id", "dimension", name=op.f("pk_kpi_lead_values")),
    )
    op.create_index("ix_kpi_lead_values_value", "kpi_lead_values", ["dimension", "value"])
    op.create_table(
        "kpi_dimension_values",
        sa.Column("dimension", TEXT, nullable=False),
        sa.Column("value", TEXT, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "value", name=op.f("pk_kpi_dimension_values")),
    )
    op.create_table(
        "kpi_slice_day_counts",
        sa.Column("dimension", TEXT, nullable=False),
        sa.Column("value", TEXT, nullable=False),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("stage", TEXT, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "dimension",
            "kind",
            "stage",
            "day",
            "value",
            "bucket",
            name=op.f("pk_kpi_slice_day_counts"),
            postgresql_include=["n"],
        ),
    )
    op.create_table(
        "kpi_slice_flow_days",
        sa.Column("dimension", TEXT, nullable=False),
        sa.Column("value", TEXT, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("from_stage", TEXT, nullable=False),
        sa.Column("to_stage", TEXT, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "dimension",
            "day",
            "from_stage",
            "to_stage",
            "value",
            name=op.f("pk_kpi_slice_flow_days"),
            postgresql_include=["n"],
        ),
    )
    op.create_index("ix_kpi_transitions_lead", "kpi_transitions", ["lead_id"])
    op.add_column("kpi_stays", sa.Column("slices", postgresql.JSONB(), nullable=True))
    op.execute(
        "CREATE INDEX ix_lead_events_dimension_values ON lead_events USING gin ((data -> 'values') jsonb_path_ops) "
        "WHERE type = 'DimensionsSet'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_lead_events_dimension_values")
    op.drop_column("kpi_stays", "slices")
    op.drop_index("ix_kpi_transitions_lead", table_name="kpi_transitions")
    for table in ("kpi_slice_flow_days", "kpi_slice_day_counts", "kpi_dimension_values", "kpi_lead_values"):
        op.drop_table(table)
