"""The SQL that adds a batch's page and screen views to `lead_activity`: common table expressions of the batch's
last statement (`store_statements.CREATE_WRITE_BATCH`), so counting views costs no round trip of its own.

In: {rows}, the batch's counters (jsonb) as `[[lead_id, kind, phase, key, campaign, views, first_seen, last_seen], ...]`
(on the final survivor of any lead absorbed in the batch); {absorbed}/{survivor}, the merges of the batch. The
rows of an absorbed lead are deleted and added to its survivor's. Per (lead, kind, phase) at most {cap} rows are
kept: when the batch could pass that, the rows already stored and then the most viewed new ones are kept, and
the other views count under the key '' without a campaign (not itemised). The stored rows are counted once per
(lead, kind, phase) the batch touches; only when one of them could pass the cap does the batch take the capping
path (a new row looked up, the new rows ranked), otherwise its rows are upserted as they are.
"""

from __future__ import annotations

ACTIVITY_KEYS_PER_LEAD = 200

_KEY = "lead_id, kind, phase, key, campaign"
ACTIVITY = (
    "activity_in AS (SELECT r->>0 AS lead_id, r->>1 AS kind, r->>2 AS phase, r->>3 AS key, r->>4 AS campaign, "
    "(r->>5)::bigint AS views, (r->>6)::timestamptz AS first_seen, (r->>7)::timestamptz AS last_seen "
    "FROM jsonb_array_elements({rows}) r), "
    "activity_moved AS (DELETE FROM lead_activity a "
    "USING unnest({absorbed}::text[], {survivor}::text[]) AS m(absorbed, survivor) WHERE a.lead_id = m.absorbed "
    "RETURNING m.survivor AS lead_id, a.kind, a.phase, a.key, a.campaign, a.views, a.first_seen, a.last_seen), "
    f"activity_sum AS (SELECT {_KEY}, sum(views) AS views, min(first_seen) AS first_seen, "
    "max(last_seen) AS last_seen FROM (SELECT * FROM activity_in UNION ALL SELECT * FROM activity_moved) x "
    f"GROUP BY {_KEY}), "
    "activity_room AS MATERIALIZED (SELECT g.*, (SELECT count(*) FROM lead_activity a WHERE a.lead_id = g.lead_id "
    "AND a.kind = g.kind AND a.phase = g.phase AND a.key <> '') AS stored FROM (SELECT lead_id, kind, phase, "
    "count(*) FILTER (WHERE key <> '') AS keys FROM activity_sum GROUP BY lead_id, kind, phase) g), "
    "activity_over AS MATERIALIZED (SELECT EXISTS (SELECT 1 FROM activity_room WHERE stored + keys > {cap}) AS over), "
    "activity_known AS (SELECT s.*, r.stored, CASE WHEN r.stored + r.keys <= {cap} OR s.key = '' THEN true "
    "ELSE EXISTS (SELECT 1 FROM lead_activity a WHERE a.lead_id = s.lead_id AND a.kind = s.kind "
    "AND a.phase = s.phase AND a.key = s.key AND a.campaign = s.campaign) END AS known "
    "FROM activity_sum s JOIN activity_room r USING (lead_id, kind, phase)), "
    "activity_capped AS (SELECT lead_id, kind, phase, CASE WHEN kept THEN key ELSE '' END AS key, "
    "CASE WHEN kept THEN campaign ELSE '' END AS campaign, views, first_seen, last_seen FROM (SELECT *, known "
    "OR stored + row_number() OVER (PARTITION BY lead_id, kind, phase, known ORDER BY views DESC, key, campaign) "
    "<= {cap} AS kept FROM activity_known) k), "
    f"activity AS (INSERT INTO lead_activity ({_KEY}, views, first_seen, last_seen) "
    "SELECT * FROM activity_sum WHERE NOT (SELECT over FROM activity_over) UNION ALL "
    f"SELECT {_KEY}, sum(views), min(first_seen), max(last_seen) FROM activity_capped "
    f"WHERE (SELECT over FROM activity_over) GROUP BY {_KEY} ON CONFLICT ({_KEY}) DO UPDATE "
    "SET views = lead_activity.views + excluded.views, "
    "first_seen = LEAST(lead_activity.first_seen, excluded.first_seen), "
    "last_seen = GREATEST(lead_activity.last_seen, excluded.last_seen))"
)
