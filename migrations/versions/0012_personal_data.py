"""Personal data: people's data keys (wrapped by a master key) and the identities that find them, erasure
receipts, the audit of lead reads, the one-off backfill's cursor

Events stored before this migration carry their personal fields in clear on the events topic; `stagetrack
privacy backfill` gives every known person a data key (docs/privacy.md "Data stored before").

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TEXT = sa.Text()
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "person_keys",
        sa.Column("key_id", TEXT, nullable=False),
        sa.Column("group_id", TEXT, nullable=False),
        sa.Column("master_key_id", TEXT, nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_person_keys")),
    )
    op.create_index("ix_person_keys_group_id", "person_keys", ["group_id"])
    op.create_table(
        "person_key_identities",
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("value", TEXT, nullable=False),
        sa.Column("key_id", TEXT, nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", name=op.f("pk_person_key_identities")),
    )
    op.create_index("ix_person_key_identities_key_id", "person_key_identities", ["key_id"])
    op.create_table(
        "erasure_receipts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("subject_kind", TEXT, nullable=False),
        sa.Column("subject_hash", TEXT, nullable=False),
        sa.Column("lead_ids", postgresql.ARRAY(TEXT), nullable=False),
        sa.Column("keys_deleted", sa.Integer(), nullable=False),
        sa.Column("removed", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_receipts")),
    )
    op.create_table(
        "lead_reads",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("api_key_id", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", TEXT, nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_reads")),
    )
    op.create_index("ix_lead_reads_lead_id", "lead_reads", ["lead_id"])
    op.create_table(
        "privacy_backfill",
        sa.Column("name", TEXT, nullable=False),
        sa.Column("last_lead_id", TEXT, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_privacy_backfill")),
    )


def downgrade() -> None:
    for table in ("privacy_backfill", "lead_reads", "erasure_receipts", "person_key_identities", "person_keys"):
        op.drop_table(table)
