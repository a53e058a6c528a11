"""The SQL of the store's batch transaction (`store.StoreTransaction`): one statement per round trip."""

from __future__ import annotations

# Claims the event ids, looks the identities up, locks and loads the leads they point at (not those in $4).
CLAIM = (
    "WITH claimed AS (INSERT INTO processed_events (event_id) SELECT unnest($1::text[]) "
    "ON CONFLICT DO NOTHING RETURNING event_id), "
    "owners AS MATERIALIZED (SELECT i.kind, i.value, i.lead_id FROM lead_identities i "
    "JOIN unnest($2::text[], $3::text[]) AS q(kind, value) USING (kind, value)), "
    "locked AS (SELECT s.lead_id, s.state::text AS state FROM lead_snapshots s "
    "WHERE s.lead_id IN (SELECT lead_id FROM owners) AND s.lead_id <> ALL($4::text[]) "
    "ORDER BY s.lead_id FOR UPDATE) "
    "SELECT 0 AS what, event_id AS a, NULL::text AS b, NULL::text AS c FROM claimed UNION ALL "
    "SELECT 1, lead_id, kind, value FROM owners UNION ALL "
    "SELECT 2, lead_id, state, NULL FROM locked"
)

# A batch's writes, in two statements (see `StoreTransaction.write`).
WRITE_LEADS = (
    "WITH inserted AS (INSERT INTO lead_identities (kind, value, lead_id) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING RETURNING 1), "
    "snapshots AS (INSERT INTO lead_snapshots (lead_id, version, state) "
    "SELECT * FROM unnest($4::text[], $5::int[], $6::jsonb[]) "
    "ON CONFLICT (lead_id) DO UPDATE SET version = excluded.version, state = excluded.state) "
    "SELECT count(*) FROM inserted"
)
# The append: the lock (APPEND_LOCK, hash of the schema), then the positions taken after it, sorted and
# numbered 1..n, joined to the rows by their order.
WRITE_APPEND = (
    "WITH snapshots AS (INSERT INTO lead_snapshots (lead_id, version, state) "
    "SELECT * FROM unnest($1::text[], $2::int[], $3::jsonb[]) "
    "ON CONFLICT (lead_id) DO UPDATE SET version = excluded.version, state = excluded.state), "
    "repointed AS (UPDATE lead_identities i SET lead_id = m.survivor "
    "FROM unnest($4::text[], $5::text[]) AS m(absorbed, survivor) WHERE i.lead_id = m.absorbed), "
    "stored_offsets AS (INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) "
    "SELECT $6, * FROM unnest($7::text[], $8::int[], $9::bigint[]) "
    "ON CONFLICT (group_id, topic, partition) DO UPDATE "
    "SET next_offset = GREATEST(consumer_offsets.next_offset, excluded.next_offset)), "
    "locked AS MATERIALIZED (SELECT pg_advisory_xact_lock($10::int, hashtext(current_schema()))), "
    "positions AS MATERIALIZED (SELECT p, row_number() OVER (ORDER BY p) AS n FROM "
    "(SELECT nextval('lead_event_position_seq') AS p FROM locked, generate_series(1, cardinality($11::text[]))) s) "
    "INSERT INTO lead_events (position, lead_id, version, type, cause_event_id, occurred_at, data) "
    "SELECT positions.p, r.lead_id, r.version, r.type, r.cause_event_id, r.occurred_at, r.data "
    "FROM unnest($11::text[], $12::int[], $13::text[], $14::text[], $15::timestamptz[], $16::jsonb[]) "
    "WITH ORDINALITY AS r(lead_id, version, type, cause_event_id, occurred_at, data, n) "
    "JOIN positions USING (n)"
)
