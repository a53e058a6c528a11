"""Dispatch: each lead's value of the model's `source` dimension, for a subscription's `sources` filter

Leads the dispatcher took in before this migration have no source until a new DimensionsSet or merge shows one
(the lead events published before it are not read again).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dispatch_leads", sa.Column("source", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("dispatch_leads", "source")
