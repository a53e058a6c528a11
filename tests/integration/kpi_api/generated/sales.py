"""The CRM part of a generated journey: inside sales, field sales, the win, customer success, feedback.

Stages are skipped at random (a meeting without an accepted lead, a win without a meeting), leads are
disqualified or lost to nurture and recycled (a high-intent form or 30 more points), customers renew,
expand, churn and are won back. Delays straddle the SLAs (mql 24 h, sql 14 d, onboarding 30 d).
"""

from __future__ import annotations

import random
from datetime import timedelta

from tests.integration.kpi_api.generated.journeys import CAMPAIGNS, DIVISIONS, FIELD_REPS, REPS, Person


def work(p: Person, cycles: int) -> None:
    rng = p.rng
    if rng.random() < 0.8:
        if not (rng.random() < 0.1 and p.exactly_after_last(timedelta(hours=24))):  # at the mql deadline: in time
            p.wait(1, 40)
        p.emit("lead_accepted", crm=p.crm, owner=rng.choice(REPS))
        maybe_feedback(p, "inside_sales", "marketing", "lead")
    if rng.random() < 0.12:
        p.wait(2, 200)
        p.emit("lead_disqualified", crm=p.crm, reason="no budget")
        recycle(p, cycles)
        return
    if rng.random() < 0.75:
        p.wait(1, 120)
        p.emit("call_logged", crm=p.crm, outcome="connected")
        p.emit("meeting_scheduled", crm=p.crm, owner=rng.choice(REPS))  # sometimes another rep: a hand-over
    if rng.random() < 0.85:
        if not (rng.random() < 0.1 and p.exactly_after_last(timedelta(days=14))):  # at the sql deadline
            p.wait(24, 24 * 20)
        kind = rng.choice(["meeting_held", "opportunity_created"])
        p.emit(kind, crm=p.crm, opportunity_id=f"o{p.n}-{cycles}", owner=rng.choice(FIELD_REPS))
        maybe_feedback(p, "field_sales", "inside_sales", "meeting")
    p.wait(24, 24 * 15)
    outcome = rng.random()
    if outcome < 0.2:
        p.emit("opportunity_lost", crm=p.crm, opportunity_id=f"o{p.n}-{cycles}", reason="competitor")
        recycle(p, cycles)
    elif outcome < 0.75:
        win(p, f"o{p.n}-{cycles}")
        customer(p)


def recycle(p: Person, cycles: int) -> None:
    rng = p.rng
    if cycles >= 1 or rng.random() < 0.4:
        return
    p.wait(24, 24 * 10)
    if rng.random() < 0.5:
        p.emit("form_submitted", anon=p.cookie, crm=p.crm, form_id="demo", email=p.email, intent="high")
    else:  # 30 points or more since entering nurture: three pricing pages (33) or three webinars (30)
        for _ in range(3):
            if rng.random() < 0.5:
                p.emit("page_viewed", anon=p.cookie, path="/pricing")
            else:
                p.emit("webinar_attended", crm=p.crm, webinar_id="w2")
            p.wait(1, 48)
    if rng.random() < 0.7:
        work(p, cycles + 1)


def amount(rng: random.Random, low: int, high: int) -> tuple[str, str | None]:
    """(amount, currency property): JPY with or without the property, now and then half a yen (finer than the
    minor unit), sometimes USD with cents or KWD with fils (3 places)."""
    roll = rng.random()
    if roll < 0.1:
        return f"{rng.randrange(low // 100, high // 100)}.{rng.randrange(100):02d}", "USD"
    if roll < 0.13:
        return f"{rng.randrange(low // 400, high // 400)}.{rng.randrange(1000):03d}", "KWD"
    if roll < 0.16:
        return f"{rng.randrange(low, high)}.5", "JPY"
    return str(rng.randrange(low, high)), ("JPY" if roll < 0.3 else None)


def account(p: Person) -> str | None:
    """Some customers book under an account, two people to one account (one company, two buyers)."""
    return f"{p.run}-acct{p.n // 2}" if p.n % 5 < 2 else None


def book(p: Person, type: str, low: int, high: int, anon: str | None = None, **extra: str) -> None:
    """Booked under the CRM id, or only under a cookie when `anon` is given."""
    value, currency = amount(p.rng, low, high)
    props = {"amount": value, **extra} | ({"currency": currency} if currency else {})
    p.emit(type, crm=None if anon else p.crm, anon=anon, account=account(p), props=props)


def win(p: Person, opportunity: str, anon: str | None = None) -> None:
    book(p, "opportunity_won", 100_000, 5_000_001, anon=anon, opportunity_id=opportunity)
    rng = p.rng
    if anon is None and rng.random() < 0.8:
        p.wait(24, 24 * 40)
        p.emit("onboarding_completed", crm=p.crm)


def customer(p: Person) -> None:
    rng = p.rng
    for _ in range(rng.randrange(0, 4)):
        p.wait(24 * 5, 24 * 30)
        roll = rng.random()
        if roll < 0.4:
            book(p, "renewal_won", 50_000, 2_000_001)
        elif roll < 0.6:
            book(p, "upsell_won", 10_000, 500_001)
        elif roll < 0.75:
            book(p, "cross_sell_won", 10_000, 300_001, product="analytics")
        elif roll < 0.8:
            p.emit("upsell_won", crm=p.crm, account=account(p), amount=f"-{rng.randrange(1000, 50000)}")  # refund
        else:
            p.emit("health_reported", crm=p.crm, score=rng.randrange(0, 101))
        maybe_feedback(p, "customer_success", "field_sales", "meeting")
    if rng.random() < 0.2:
        p.wait(24, 24 * 20)
        p.emit("churned", crm=p.crm, reason="price")
        if rng.random() < 0.3:
            p.wait(24, 24 * 20)
            win(p, f"o{p.n}-back")


def maybe_feedback(p: Person, source: str, target: str, about: str) -> None:
    rng = p.rng
    if rng.random() < 0.25:
        met = rng.choice([True, False, None])
        props = {"from_division": source, "to_division": target, "about": about, "rating": rng.randrange(1, 6)}
        if met is not None:
            props["met_expectations"] = met
        campaign = rng.choice(CAMPAIGNS)
        if campaign is not None:
            props["campaign"] = campaign
        if rng.random() < 0.1:
            props["from_division"] = rng.choice(DIVISIONS)
        p.emit("feedback_submitted", crm=p.crm, props=props)
