"""The bounds every accepted value keeps, so that whatever the ingest accepts the stores can hold.

The ingest checks them at the door (schemas and domain validation); the engine and the KPI projector rely on
them, and set aside what still fails. PostgreSQL is the judge: `text` and `jsonb` refuse NUL, `timestamptz`
refuses UTC offsets beyond ±15:59, the projections keep amounts as numeric(20,4).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

MAX_ID_LENGTH = 128  # event_id, lead_id, anonymous_id, account_id (characters)
# The largest amount the KPI projections store (numeric(20,4): 16 digits before the point), in the reporting
# currency after conversion. The next one up (10^16) is refused at the door.
MAX_AMOUNT = Decimal("9999999999999999.9999")
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)  # PostgreSQL's timestamptz limit
# occurred_at must fall in [EARLIEST_YEAR-01-01, the server's clock + MAX_FUTURE]: B2B revenue history does
# not predate 2000, and a clock a day ahead covers every time zone and the usual skew.
EARLIEST_YEAR = 2000
MAX_FUTURE = timedelta(days=1)
