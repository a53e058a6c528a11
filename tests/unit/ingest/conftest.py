"""Fixtures: the shipped schemas compiled once per session, and validators built from them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.ingest.domain.schemas import Validators, default_schemas_dir, load_validators
from services.ingest.domain.validation import EventValidator


@pytest.fixture(scope="session")
def validators() -> Validators:
    return load_validators(default_schemas_dir())


@pytest.fixture(scope="session")
def validator(validators: Validators) -> EventValidator:
    return EventValidator(validators)


@pytest.fixture(scope="session")
def validator_with_rates(validators: Validators) -> EventValidator:
    return EventValidator(validators, rates={"USD": Decimal("151.37"), "EUR": Decimal("163.5"), "KWD": Decimal("490")})
