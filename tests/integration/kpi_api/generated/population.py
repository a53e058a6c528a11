"""The seeded population: 90 days of people walking THE MODEL, as (Kafka key, envelope) in sending order."""

from __future__ import annotations

import random
from datetime import timedelta

from services.common.envelope import Event
from tests.integration.kpi_api.generated.journeys import (
    CAMPAIGNS,
    EMPLOYEES,
    OFFSETS,
    PATHS,
    SOURCES,
    START,
    JourneyOver,
    Person,
    late_and_duplicated,
)
from tests.integration.kpi_api.generated.sales import account, customer, win, work


def people(run: str, count: int, seed: int) -> list[tuple[bytes, Event]]:
    """(Kafka key, envelope) in sending order; one key per person."""
    rng = random.Random(seed)
    out: list[tuple[bytes, Event]] = []
    for n in range(count):
        person = Person(rng, run, n, START + timedelta(seconds=rng.uniform(0, 86 * 86400)), rng.choice(OFFSETS))
        try:
            browse_and_convert(person)
        except JourneyOver:
            pass
        key = person.cookie.encode()
        out += [(key, e) for e in late_and_duplicated(rng, person.sent)]
    return out


def visit(p: Person, cookie: str) -> None:
    """A page view from a source: utm_source as a property, in the URL's query, or none (a direct visit)."""
    rng, source, path = p.rng, p.rng.choice(SOURCES), p.rng.choice(PATHS)
    if source is None:
        p.emit("page_viewed", anon=cookie, path=path)
    elif rng.random() < 0.5:
        p.emit("page_viewed", anon=cookie, path=path, utm_source=source)
    else:
        p.emit("page_viewed", anon=cookie, path=path, url=f"https://example.test{path}?x=1&utm_source={source}")


def browse_and_convert(p: Person) -> None:
    rng = p.rng
    for _ in range(rng.randrange(1, 5)):
        visit(p, p.cookie)
        p.wait(0.05, 30)
    if rng.random() < 0.1:
        p.emit("content_downloaded", anon=p.cookie, content_id="guide", campaign=rng.choice(CAMPAIGNS[:3]))
        p.wait(0.1, 20)
    if rng.random() < 0.15:
        return  # a visitor only
    variant = rng.random()
    if variant < 0.03:  # a CRM import straight into a customer stage: no division of `new` ever owned it
        win(p, f"o{p.n}-import", anon=None)
        customer(p)
        return
    crm_first, second_device, chain = variant < 0.13, 0.13 <= variant < 0.25, 0.25 <= variant < 0.3
    if crm_first:  # the CRM knows the person before the form: a lead of its own, merged by the form
        p.emit(rng.choice(["lead_accepted", "meeting_scheduled", "call_logged"]), crm=p.crm)
        p.wait(1, 72)
    if second_device or chain:  # a second cookie submits the form first; the first cookie's form merges by email
        other_device(p, won=second_device and rng.random() < 0.3)
    if chain:  # the CRM record, sent late, is the oldest lead: the identify call merges the merged lead into it
        p.emit("lead_accepted", crm=p.crm, at=START + (p.sent[0].occurred_at - START) / 2)
        p.wait(0.1, 5)
    intent = "high" if rng.random() < 0.2 else "normal"
    form = p.emit("form_submitted", anon=p.cookie, crm=None if chain else p.crm, form_id="demo", email=p.email,
                  intent=intent, campaign=rng.choice(CAMPAIGNS))  # fmt: skip
    if chain:
        p.wait(0.1, 24)
        p.emit("identified", anon=p.cookie, crm=p.crm, email=p.email)
    if rng.random() < 0.5:  # a Segment identify or group call: the company's size, and its account when it has one
        p.wait(0.1, 24)
        p.emit("identified", crm=p.crm, account=account(p), traits={"employees": rng.choice(EMPLOYEES)})
    if (crm_first or second_device) and rng.random() < 0.5:  # happened before the merge, arrives after it
        p.emit(rng.choice(["lead_accepted", "meeting_scheduled", "email_clicked"]), crm=p.crm, campaign="spring",
               at=max(START, form.occurred_at - timedelta(hours=rng.uniform(0.5, 30))))  # fmt: skip
    p.wait(0.5, 72)
    for _ in range(rng.randrange(0, 3)):
        kind = rng.choice(["email_clicked", "webinar_attended", "page_viewed"])
        if kind == "page_viewed":
            p.emit(kind, anon=p.cookie, path=rng.choice(PATHS))
        else:
            p.emit(kind, crm=p.crm, campaign="spring", webinar_id="w1")
        p.wait(0.5, 48)
    if rng.random() < 0.8:
        work(p, cycles=0)


def other_device(p: Person, won: bool) -> None:
    """A second cookie's visit and form (the email in capitals: normalised, the same person). When `won`, a
    deal is booked on that lead before it is merged: the customer is then the lead that carries the person."""
    rng, other = p.rng, f"{p.run}-b{p.n}"
    visit(p, other)
    p.wait(0.1, 10)
    p.emit("form_submitted", anon=other, form_id="trial", email=f"  {p.email.upper()} ", intent="normal")
    p.wait(1, 96)
    if rng.random() < 0.5 or won:
        p.emit("lead_accepted", anon=other)
        p.wait(1, 48)
    if won:
        win(p, f"o{p.n}-b", anon=other)
        p.wait(1, 48)
