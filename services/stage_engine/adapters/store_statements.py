"""The SQL of the store's batch transaction (`store.StoreTransaction`): one statement per round trip.

Rows come in as JSON documents (`store_documents.py`), unpacked here with jsonb_array_elements: `$n::text::jsonb`
is parsed once per statement. A batch's writes are one call of a session function (`CREATE_WRITE_BATCH`), so
that PostgreSQL parses them and writes what it may while the batch waits for the batch in front."""

from __future__ import annotations

from services.stage_engine.adapters.activity_statement import ACTIVITY, ACTIVITY_KEYS_PER_LEAD

# Takes the batch's token ($4: a bigint advisory lock held to the end, which the batch behind waits for before its
# append; no other lock of stagetrack is a bigint one), claims the event ids ($1, ["id", ...]), looks the
# identities up ($2, [[kind, value], ...]), locks and loads the leads they point at (not those in $3, ["lead", ...]).
CLAIM = (
    "WITH token AS MATERIALIZED (SELECT pg_advisory_xact_lock($4::bigint)), "
    "claimed AS (INSERT INTO processed_events (event_id) SELECT jsonb_array_elements_text($1::text::jsonb) "
    "ON CONFLICT DO NOTHING RETURNING event_id), "
    "wanted AS (SELECT q->>0 AS kind, q->>1 AS value FROM jsonb_array_elements($2::text::jsonb) q), "
    "owners AS MATERIALIZED (SELECT i.kind, i.value, i.lead_id FROM lead_identities i "
    "JOIN wanted USING (kind, value)), "
    "locked AS (SELECT s.lead_id, s.state::text AS state FROM lead_snapshots s "
    "WHERE s.lead_id IN (SELECT lead_id FROM owners) "
    "AND s.lead_id NOT IN (SELECT jsonb_array_elements_text($3::text::jsonb)) "
    "ORDER BY s.lead_id FOR UPDATE) "
    "SELECT 3 AS what, NULL AS a, NULL::text AS b, NULL::text AS c FROM token UNION ALL "
    "SELECT 0, event_id, NULL, NULL FROM claimed UNION ALL "
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

# Snapshots ([[lead_id, version, state], ...], jsonb {p}) inserted or replaced.
_SNAPSHOTS = (
    "INSERT INTO lead_snapshots (lead_id, version, state) "
    "SELECT r->>0, (r->>1)::int, r->2 FROM jsonb_array_elements({p}) r "
    "ON CONFLICT (lead_id) DO UPDATE SET version = excluded.version, state = excluded.state"
)
# New identities ([[kind, value, lead_id], ...], jsonb {p}); an identity another engine claimed first is not counted.
_IDENTITIES = (
    "INSERT INTO lead_identities (kind, value, lead_id) "
    "SELECT r->>0, r->>1, r->>2 FROM jsonb_array_elements({p}) r ON CONFLICT DO NOTHING RETURNING 1"
)
# The merges' re-pointing (absorbed $3[], survivor $4[]), the consumer offsets (group $5, topic $6[], partition
# $7[], offset $8[]: GREATEST, a late writer never moves one back), then the append: positions taken (under the
# append lock, held since the function took it), sorted and numbered 1..n, joined to the events ([[version, type,
# event, cause type], ...], $11 of them) by their order; the late snapshots, the page views, the new identities.
_LAST = (
    f"WITH snapshots AS ({_SNAPSHOTS.format(p='_late')}), "
    "repointed AS (UPDATE lead_identities i SET lead_id = m.survivor "
    "FROM unnest($3::text[], $4::text[]) AS m(absorbed, survivor) WHERE i.lead_id = m.absorbed), "
    "stored_offsets AS (INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) "
    "SELECT $5, * FROM unnest($6::text[], $7::int[], $8::bigint[]) "
    "ON CONFLICT (group_id, topic, partition) DO UPDATE "
    "SET next_offset = GREATEST(consumer_offsets.next_offset, excluded.next_offset)), "
    "positions AS MATERIALIZED (SELECT p, row_number() OVER (ORDER BY p) AS n FROM "
    "(SELECT nextval('lead_event_position_seq') AS p FROM generate_series(1, $11)) s), "
    "appended AS (INSERT INTO lead_events (position, lead_id, version, type, cause_event_id, occurred_at, data, "
    "cause_type) SELECT positions.p, r.e->2->>'lead_id', (r.e->>0)::int, r.e->>1, r.e->2->>'cause_event_id', "
    "(r.e->2->>'occurred_at')::timestamptz, jsonb_build_object('type', r.e->1) || (r.e->2), r.e->>3 "
    "FROM jsonb_array_elements(_events) WITH ORDINALITY AS r(e, n) JOIN positions USING (n)), "
    f"{ACTIVITY.format(rows='_activity', absorbed='$3', survivor='$4', cap=ACTIVITY_KEYS_PER_LEAD)}, "
    f"inserted AS ({_IDENTITIES.format(p='_owners')}) SELECT count(*) INTO _inserted FROM inserted"
)

# A batch's writes, in order (`StoreTransaction.write`): its documents parsed; the snapshots ($1) of leads the
# batches in front do not hold; the wait for the batches in front ($14, their tokens: the advisory locks they hold
# from their first statement to their end); the append lock ($9 with the schema's hash: positions follow
# commit order); the rest in one statement, with a snapshot taken after the wait, so it sees what the batches in
# front wrote. Returns how many identities were inserted. A function of the session (pg_temp), created on each
# connection the store uses, so that the SQL stays here; in a VOLATILE function each statement sees what
# committed before it started.
CREATE_WRITE_BATCH = (
    "CREATE OR REPLACE FUNCTION pg_temp.stagetrack_write_batch(text, text, text[], text[], text, text[], int[], "
    "bigint[], int, text, int, text, text, bigint[]) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $body$ DECLARE "
    "_early jsonb := $1::jsonb; _late jsonb := $2::jsonb; _events jsonb := $10::jsonb; _owners jsonb := $12::jsonb; "
    "_activity jsonb := $13::jsonb; _inserted bigint; _front bigint; BEGIN "
    f"IF jsonb_array_length(_early) > 0 THEN {_SNAPSHOTS.format(p='_early')}; END IF; "
    "FOREACH _front IN ARRAY $14 LOOP PERFORM pg_advisory_xact_lock_shared(_front); END LOOP; "
    "PERFORM pg_advisory_xact_lock($9, hashtext(current_schema())); "
    f"{_LAST}; RETURN _inserted; END $body$"
)
WRITE_BATCH = "SELECT pg_temp.stagetrack_write_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
