"""Key scopes: what each API key may do, the web origins of tracker keys, and their lead-id verification secret

Every key that existed before scopes could post every event type, so each becomes a `crm` key
(docs/security.md "Scopes").

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "source_keys",
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{crm}'"), nullable=False),
    )
    op.add_column(
        "source_keys",
        sa.Column("origins", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    )
    op.add_column("source_keys", sa.Column("lead_id_secret", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("source_keys", "lead_id_secret")
    op.drop_column("source_keys", "origins")
    op.drop_column("source_keys", "scopes")
