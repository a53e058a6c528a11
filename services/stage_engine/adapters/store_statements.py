"""The SQL of the store's batch transaction (`store.StoreTransaction`): one statement per round trip.

Rows come in as JSON documents (`store_documents.py`), unpacked here with jsonb_array_elements: `$n::text::jsonb`
is parsed once per statement."""

from __future__ import annotations

from services.stage_engine.adapters.activity_statement import ACTIVITY, ACTIVITY_KEYS_PER_LEAD

# Claims the event ids ($1, ["id", ...]), looks the identities up ($2, [[kind, value], ...]), locks and loads the
# leads they point at (not those in $3, ["lead", ...]).
CLAIM = (
    "WITH claimed AS (INSERT INTO processed_events (event_id) SELECT jsonb_array_elements_text($1::text::jsonb) "
    "ON CONFLICT DO NOTHING RETURNING event_id), "
    "wanted AS (SELECT q->>0 AS kind, q->>1 AS value FROM jsonb_array_elements($2::text::jsonb) q), "
    "owners AS MATERIALIZED (SELECT i.kind, i.value, i.lead_id FROM lead_identities i "
    "JOIN wanted USING (kind, value)), "
    "locked AS (SELECT s.lead_id, s.state::text AS state FROM lead_snapshots s "
    "WHERE s.lead_id IN (SELECT lead_id FROM owners) "
    "AND s.lead_id NOT IN (SELECT jsonb_array_elements_text($3::text::jsonb)) "
    "ORDER BY s.lead_id FOR UPDATE) "
    "SELECT 0 AS what, event_id AS a, NULL::text AS b, NULL::text AS c FROM claimed UNION ALL "
    "SELECT 1, lead_id, kind, value FROM owners UNION ALL "
    "SELECT 2, lead_id, state, NULL FROM locked"
)

# Events set aside in a batch that claimed them: their ids ($1) released, their places in the log ($2) claimed;
# returns the places not claimed before.
SET_ASIDE = (
    "WITH released AS (DELETE FROM processed_events "
    "WHERE event_id IN (SELECT jsonb_array_elements_text($1::text::jsonb))) "
    "INSERT INTO processed_events (event_id) SELECT jsonb_array_elements_text($2::text::jsonb) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)

# Snapshots ([[lead_id, version, state], ...]) inserted or replaced, as a CTE of the statements below.
_SNAPSHOTS = (
    "INSERT INTO lead_snapshots (lead_id, version, state) "
    "SELECT r->>0, (r->>1)::int, r->2 FROM jsonb_array_elements({p}::text::jsonb) r "
    "ON CONFLICT (lead_id) DO UPDATE SET version = excluded.version, state = excluded.state"
)
# New identities ([[kind, value, lead_id], ...]); an identity another engine claimed first is not counted.
_IDENTITIES = (
    "INSERT INTO lead_identities (kind, value, lead_id) "
    "SELECT r->>0, r->>1, r->>2 FROM jsonb_array_elements({p}::text::jsonb) r ON CONFLICT DO NOTHING RETURNING 1"
)
# The merges' re-pointing (absorbed[], survivor[]), the consumer offsets (group, topic[], partition[], offset[]:
# GREATEST, a late writer never moves one back), then the append: the lock (APPEND_LOCK, hash of the schema),
# the positions taken after it, sorted and numbered 1..n, joined to the events ([[version, type, event, cause type],
# ...], {n} of them) by their order.
_APPEND = (
    "repointed AS (UPDATE lead_identities i SET lead_id = m.survivor "
    "FROM unnest({absorbed}::text[], {survivor}::text[]) AS m(absorbed, survivor) WHERE i.lead_id = m.absorbed), "
    "stored_offsets AS (INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) "
    "SELECT {group}, * FROM unnest({topics}::text[], {partitions}::int[], {offsets}::bigint[]) "
    "ON CONFLICT (group_id, topic, partition) DO UPDATE "
    "SET next_offset = GREATEST(consumer_offsets.next_offset, excluded.next_offset)), "
    "locked AS MATERIALIZED (SELECT pg_advisory_xact_lock({lock}::int, hashtext(current_schema()))), "
    "positions AS MATERIALIZED (SELECT p, row_number() OVER (ORDER BY p) AS n FROM "
    "(SELECT nextval('lead_event_position_seq') AS p FROM locked, generate_series(1, {n}::int)) s), "
    "appended AS (INSERT INTO lead_events (position, lead_id, version, type, cause_event_id, occurred_at, data, "
    "cause_type) SELECT positions.p, r.e->2->>'lead_id', (r.e->>0)::int, r.e->>1, r.e->2->>'cause_event_id', "
    "(r.e->2->>'occurred_at')::timestamptz, jsonb_build_object('type', r.e->1) || (r.e->2), r.e->>3 "
    "FROM jsonb_array_elements({events}::text::jsonb) WITH ORDINALITY AS r(e, n) "
    "JOIN positions USING (n)) "
)
_APPEND_PARAMS = dict(
    absorbed="$2",
    survivor="$3",
    group="$4",
    topics="$5",
    partitions="$6",
    offsets="$7",
    lock="$8",
    events="$9",
    n="$10",
)

# The snapshots ($1) of the leads the batch in front does not hold, written while that batch may not have
# committed yet (see `StoreTransaction.write`). New identities are not written here: a batch waiting for the
# one in front must hold no lock another engine's writing statement can wait for (`docs/engine.md`, "Lock waits").
WRITE_SNAPSHOTS = _SNAPSHOTS.format(p="$1")
# The batch's writes, once the batch in front committed: $1 the snapshots (not yet written), the append, $11 the
# new identities, $12 the activity; returns how many identities were inserted.
WRITE_ALL = (
    f"WITH snapshots AS ({_SNAPSHOTS.format(p='$1')}), {_APPEND.format(**_APPEND_PARAMS)}, "
    f"{ACTIVITY.format(rows='$12', absorbed='$2', survivor='$3', cap=ACTIVITY_KEYS_PER_LEAD)}, "
    f"inserted AS ({_IDENTITIES.format(p='$11')}) SELECT count(*) FROM inserted"
)
