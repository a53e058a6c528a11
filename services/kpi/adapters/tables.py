"""KPI projections (PostgreSQL), built from the event store (`lead_events`) in commit (position) order;
`kpi_checkpoint` moves in the same transaction as each batch.

Time columns are event time (UTC). A "stay" is one lead's time in one stage. Merges (LeadsMerged) close and
open stays WITHOUT counting as transitions: see docs/kpi.md.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.common.db import metadata

# Highest store position applied; it moves in the transaction that applies the batch, so each record counts once.
kpi_checkpoint = Table(
    "kpi_checkpoint",
    metadata,
    Column("name", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# Store records the projections could not hold (a data error of the record itself): the checkpoint moved past
# each in the transaction that wrote its row; `redrive` re-projects it and deletes the row (docs/kpi.md).
kpi_set_aside = Table(
    "kpi_set_aside",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("lead_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("set_aside_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)

# One row per stay. `entered_at`/`exited_at` bound the balance (a lead counts in `stage` at t when
# entered_at <= t < exited_at, or exited_at is null); `since` is when the person's stay began, for time in
# stage and age (differs from entered_at only for a stay reopened by a merge).
kpi_stays = Table(
    "kpi_stays",
    metadata,
    Column("lead_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("stage", Text, nullable=False),
    Column("division", Text, nullable=False),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("entry_kind", Text, nullable=False),  # transition | merge
    Column("exited_at", DateTime(timezone=True), nullable=True),
    Column("exit_kind", Text, nullable=True),  # transition | merge | absorbed
    Column("to_stage", Text, nullable=True),
    Column("sla_due_at", DateTime(timezone=True), nullable=True),
    # When an SLA's `satisfied_by` event arrived while the lead stayed (SlaMet); a breach needs the deadline
    # to pass before both the exit and this.
    Column("sla_met_at", DateTime(timezone=True), nullable=True),
    # When the stay ended in the engine's time, for durations (left_at - since) and "ended in P". Equals
    # exited_at except in one case: an event that arrived after a merge but happened before it moves the
    # survivor; exited_at is then held at the merge so a lead's stays never overlap (docs/kpi.md).
    Column("left_at", DateTime(timezone=True), nullable=True),
    # The lead's person's values of the model's bounded dimensions ({"source": "google"}; absent: none), kept
    # equal to kpi_lead_values by every batch: the per-slice reads of stays need no lookup per row.
    Column("slices", JSONB, nullable=True),
    PrimaryKeyConstraint("lead_id", "seq"),
    Index("ix_kpi_stays_stage_entered", "stage", "entered_at"),
    Index("ix_kpi_stays_stage_exited", "stage", "exited_at"),
    # The summaries' exact picks and period edges (migration 0005; summary_store.py has the expressions).
    Index("ix_kpi_stays_open_since", "stage", "since", postgresql_where=text("exited_at IS NULL")),
    Index("ix_kpi_stays_entry_since", "stage", "since", postgresql_where=text("entry_kind = 'transition'")),
    Index("ix_kpi_stays_stage_due", "stage", "sla_due_at", postgresql_where=text("sla_due_at IS NOT NULL")),
    Index(
        "ix_kpi_stays_ended",
        "stage",
        text(
            "(floor(log(greatest(extract(epoch from coalesce(left_at, exited_at) - since) * 1000000, 1)::float8)"
            " * 8)::int)"
        ),
        text("(coalesce(left_at, exited_at))"),
        postgresql_where=text("exit_kind = 'transition'"),
    ),
    Index(
        "ix_kpi_stays_stage_ended",
        "stage",
        text("(coalesce(left_at, exited_at))"),
        postgresql_where=text("exit_kind = 'transition'"),
    ),
)

# Every StageChanged: the flow (inflow, outflow by destination).
kpi_transitions = Table(
    "kpi_transitions",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("lead_id", Text, nullable=False),
    Column("from_stage", Text, nullable=True),
    Column("to_stage", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_kpi_transitions_to", "to_stage", "occurred_at"),
    Index("ix_kpi_transitions_from", "from_stage", "occurred_at"),
    Index("ix_kpi_transitions_lead", "lead_id"),  # a lead's flows move slice when its values change
)

# Per lead: the furthest success-path index ever entered (skips count as passing), for reached and cohort CVR.
kpi_leads = Table(
    "kpi_leads",
    metadata,
    Column("lead_id", Text, primary_key=True),
    Column("furthest_index", Integer, nullable=True),
    Column("merged_into", Text, nullable=True),
    Index("ix_kpi_leads_merged_into", "merged_into", postgresql_where=text("merged_into IS NOT NULL")),
)

# The revenue ledger and its attributed shares (sum of shares = amount, exactly).
kpi_revenue = Table(
    "kpi_revenue",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("lead_id", Text, nullable=False),
    Column("account_id", Text, nullable=True),
    Column("kind", Text, nullable=False),  # new | renewal | upsell | cross_sell
    Column("amount", Numeric(20, 4), nullable=False),
    Column("currency", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_kpi_revenue_occurred", "occurred_at"),
)

kpi_revenue_shares = Table(
    "kpi_revenue_shares",
    metadata,
    Column("position", BigInteger, nullable=False),
    Column("division", Text, nullable=False),
    Column("amount", Numeric(20, 4), nullable=False),
    PrimaryKeyConstraint("position", "division"),
)

kpi_feedback = Table(
    "kpi_feedback",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("lead_id", Text, nullable=False),
    Column("from_division", Text, nullable=False),
    Column("to_division", Text, nullable=False),
    Column("about", Text, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("met_expectations", Boolean, nullable=True),
    Column("reason_code", Text, nullable=True),
    Column("campaign", Text, nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_kpi_feedback_occurred", "occurred_at"),
)

# Summaries (docs/kpi.md "Summary tables"), kept by the projector in the batch transaction; trusted by the
# API only when kpi_checkpoint has the row 'summaries'. Days are UTC dates. `kind` and its `bucket`:
# entered / exited (stays by the day of entered_at / exited_at; bucket 0), open (open stays by the day of
# `since`), overdue (open stays, SLA not met, by the day of the deadline), breach (stays that held their
# deadline unmet, by its day), ended (stays left by a transition, by the day they ended; bucket = duration
# bucket), cohort (entries by a transition, by day; bucket = the person's furthest index now, -1 none),
# reach (persons by furthest index; stage '' and day 1970-01-01).
kpi_day_counts = Table(
    "kpi_day_counts",
    metadata,
    Column("kind", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("bucket", Integer, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("kind", "stage", "day", "bucket"),
)

# Transitions per UTC day and (from, to); from_stage '' for a lead's first stage.
kpi_flow_days = Table(
    "kpi_flow_days",
    metadata,
    Column("day", Date, nullable=False),
    Column("from_stage", Text, nullable=False),
    Column("to_stage", Text, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("day", "from_stage", "to_stage"),
)

# A person's entries into a stage after its first one, each with the previous entry's time: a person who
# entered S k times in P counts k - (k - 1) = 1 (cohort CVR counts persons, not entries).
kpi_cohort_repeats = Table(
    "kpi_cohort_repeats",
    metadata,
    Column("person_id", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("prev_at", DateTime(timezone=True), nullable=False),
    Column("furthest_index", Integer, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("person_id", "stage", "at", "prev_at"),
    Index("ix_kpi_cohort_repeats_stage_at", "stage", "at"),
)

# Each lead's dimension values, which are its person's (the live lead its merged_into chain ends at): every
# row of a lead counts in the slice of these (dimension_store.py). A lead without a row has no value ('').
kpi_lead_values = Table(
    "kpi_lead_values",
    metadata,
    Column("lead_id", Text, nullable=False),
    Column("dimension", Text, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("lead_id", "dimension"),
    Index("ix_kpi_lead_values_value", "dimension", "value"),
)

# The first store position each (dimension, value) was seen at: a bounded dimension's label values are its
# first `max_values` (docs/observability.md "Slices").
kpi_dimension_values = Table(
    "kpi_dimension_values",
    metadata,
    Column("dimension", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("position", BigInteger, nullable=False),
    PrimaryKeyConstraint("dimension", "value"),
)

# kpi_day_counts and kpi_flow_days per slice of each bounded dimension (value '' = no value): the same rows,
# summed over a dimension's values, as the unsliced ones (slice_summary_store.py).
kpi_slice_day_counts = Table(
    "kpi_slice_day_counts",
    metadata,
    Column("dimension", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("bucket", Integer, nullable=False),
    Column("n", BigInteger, nullable=False),
    # n in the key's index: the API's sums over a slice's days are index-only reads (once vacuumed)
    PrimaryKeyConstraint("dimension", "kind", "stage", "day", "value", "bucket", postgresql_include=["n"]),
)

kpi_slice_flow_days = Table(
    "kpi_slice_flow_days",
    metadata,
    Column("dimension", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("from_stage", Text, nullable=False),
    Column("to_stage", Text, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("dimension", "day", "from_stage", "to_stage", "value", postgresql_include=["n"]),
)
