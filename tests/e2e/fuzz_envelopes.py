"""Hypothesis strategies for envelopes a hostile client might post: any Unicode (NUL and controls included),
timestamps from year 1 to 9999 with any offset up to ±23:59, amounts on both sides of every limit.

Most are built to pass the door (near-now times, plain ids) so that the pipeline behind it is exercised; the
rest probe the door itself. Whatever the ingest accepts must then be stored or set aside downstream.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from services.common.limits import MAX_AMOUNT

HOSTILE_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40) | st.sampled_from(
    ["\x00", "a\x00b", "\u2028", "\ufeff", "\U0010ffff", "🙂" * 40, "'; DROP TABLE lead_events; --", "\\u0000", " "]
)
PLAIN_ID = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.:", min_size=1, max_size=24)
ODD_ID = HOSTILE_TEXT | st.text(min_size=120, max_size=140)


@st.composite
def some_id(draw: st.DrawFn) -> str:
    """Plain three times in four (the pipeline behind the door gets work), else hostile or near the length limit."""
    return draw(PLAIN_ID if draw(st.integers(0, 3)) else ODD_ID)


ID = some_id()

AMOUNTS = st.sampled_from(
    [
        "0",
        "1",
        str(MAX_AMOUNT.to_integral_value(rounding="ROUND_FLOOR")),
        str(MAX_AMOUNT),
        str(MAX_AMOUNT + Decimal("0.0001")),
        "10000000000000000",
        "1" + "0" * 29,
        "-1",
        "1e3",
        "NaN",
        "0.0001",
    ]
) | st.decimals(min_value=0, max_value=Decimal("1e17"), places=0).map(str)


def _offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@st.composite
def occurred_at(draw: st.DrawFn) -> str:
    """Mostly the last days (so events pass the door), else any instant of years 1..9999 with any offset."""
    if draw(st.integers(0, 3)):
        when = datetime.now(UTC) - timedelta(seconds=draw(st.integers(0, 5 * 86_400)))
        minutes = draw(st.sampled_from([0, 540, -300, 959, -959]))
    else:
        when = draw(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)))
        minutes = draw(st.integers(-1439, 1439))
    return when.replace(tzinfo=None).isoformat(timespec="microseconds") + _offset(minutes)  # years < 1000 too


def _properties(event_type: str) -> st.SearchStrategy[dict[str, Any]]:
    text = ID
    required: dict[str, st.SearchStrategy[Any]] = {
        "page_viewed": st.fixed_dictionaries({"path": st.just("/") | text}, optional={"title": text}),
        "tracked": st.fixed_dictionaries({"name": text}, optional={"note": text}),
        "identified": st.fixed_dictionaries({}, optional={"traits": st.dictionaries(text, text, max_size=3)}),
        "form_submitted": st.fixed_dictionaries(
            {"form_id": text, "email": st.just("fuzz@example.com") | text}, optional={"intent": st.just("high")}
        ),
        "opportunity_won": st.fixed_dictionaries({"opportunity_id": text, "amount": AMOUNTS}),
        "renewal_won": st.fixed_dictionaries({"amount": AMOUNTS}),
        "upsell_won": st.fixed_dictionaries({"amount": AMOUNTS}),
        "meeting_scheduled": st.fixed_dictionaries({}, optional={"owner": text}),
        "health_reported": st.fixed_dictionaries({"score": st.integers(-5, 105)}),
        "feedback_submitted": st.fixed_dictionaries(
            {
                "from_division": st.just("field_sales"),
                "to_division": st.just("inside_sales"),
                "about": st.just("meeting"),
                "rating": st.integers(0, 6),
            },
            optional={"campaign": text},
        ),
    }
    return required[event_type]


@st.composite
def envelope(draw: st.DrawFn, run: str) -> dict[str, Any]:
    """One event; ids are prefixed with the test run's token where plain, so runs never collide."""
    event_type = draw(st.sampled_from(list(_ENVELOPE_TYPES)))
    ids: dict[str, Any] = {}
    anonymous = draw(st.none() | ID)
    lead = draw(st.none() | ID) if anonymous is not None else draw(ID)
    if anonymous is not None:
        ids["anonymous_id"] = anonymous
    if lead is not None and event_type not in ("page_viewed",):
        ids["lead_id"] = lead
    if "lead_id" not in ids and "anonymous_id" not in ids:
        ids["anonymous_id"] = f"{run}-anon"
    account = draw(st.none() | ID)
    return {
        "event_id": f"{run}-{draw(PLAIN_ID)}" if draw(st.booleans()) else draw(ID),
        "type": event_type,
        "occurred_at": draw(occurred_at()),
        **ids,
        **({"account_id": account} if account is not None else {}),
        "properties": draw(_properties(event_type)),
    }


_ENVELOPE_TYPES = (
    "page_viewed",
    "tracked",
    "identified",
    "form_submitted",
    "opportunity_won",
    "renewal_won",
    "upsell_won",
    "meeting_scheduled",
    "health_reported",
    "feedback_submitted",
)
