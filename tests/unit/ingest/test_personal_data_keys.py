"""The personal-data guard by key: English and Japanese names in any writing, and the operator's own list."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.ingest.app.settings import IngestSettings
from services.ingest.domain.schemas import Validators
from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import accepted_properties, anonymous, errors_of

LISTED = "personal data (a key listed in STAGETRACK_PERSONAL_KEYS) is not accepted on anonymous tracking events"


def fields_and_kinds(validator: EventValidator, item: dict[str, object]) -> list[tuple[str, str]]:
    """(field, the kind of personal data named in the reason) of each error."""
    return [(field, reason.split("(", 1)[1].split(")", 1)[0]) for field, reason in errors_of(validator, item)]


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("contactEmail", "an email address"),
        ("user.email", "an email address"),
        ("Contact-Email", "an email address"),
        ("ｅｍａｉｌ", "an email address"),
        ("メールアドレス（確認用）", "an email address"),
        ("homePhoneNumber", "a phone number"),
        ("携帯電話番号", "a phone number"),
        ("TEL番号", "a phone number"),
        ("user_name", "a name"),
        ("お名前（必須）", "a name"),
        ("氏名", "a name"),
        ("フリガナ", "a name"),
        ("ご住所", "a postal address"),
        ("郵便番号", "a postal address"),
        ("生年月日", "a date of birth"),
    ],
)
def test_a_personal_key_in_any_writing_is_refused_with_its_kind(validator: EventValidator, key: str, kind: str) -> None:
    assert fields_and_kinds(validator, anonymous("page_viewed", **{key: "x"})) == [(f"properties.{key}", kind)]


@pytest.mark.parametrize(
    "key",
    [
        "email_campaign",
        "emailOptIn",
        "direct_mail",
        "page_name",
        "campaign_name",
        "file_name",
        "product.name",
        "pathname",
        "ip_address",
        "phone_type",
        "company",
        "会社名",
        "部署名",
        "役職",
        "商品名",
        "メール配信",
    ],
)
def test_a_key_that_only_mentions_a_personal_word_passes(validator: EventValidator, key: str) -> None:
    accepted_properties(validator, anonymous("page_viewed", **{key: "spring"}))


def test_a_personal_key_holding_true_or_false_carries_nothing(validator: EventValidator) -> None:
    accepted_properties(validator, anonymous("tracked", name="Consent", email=True, phone=False))


def test_a_things_own_name_passes_and_a_persons_name_is_refused(validator: EventValidator) -> None:
    item = anonymous(
        "tracked",
        name="Order Completed",
        products=[{"name": "Team Plan", "sku": "T-1"}],
        company={"name": "Example KK"},
        buyer={"name": "Hanako"},
        contact={"full_name": "Yamada Hanako"},
    )
    assert fields_and_kinds(validator, item) == [
        ("properties.buyer.name", "a name"),
        ("properties.contact.full_name", "a name"),
    ]


def test_keys_the_operator_lists_are_refused_in_any_writing(validators: Validators) -> None:
    listed = EventValidator(validators, personal_keys=["member_no", "会員番号"])
    item = anonymous("page_viewed", memberNo="A-1", user={"member-no": "A-1"}, お客様会員番号="A-1", plan="team")
    assert [(f, r.split(" (no lead_id)")[0]) for f, r in errors_of(listed, item)] == [
        ("properties.memberNo", LISTED),
        ("properties.user.member-no", LISTED),
        ("properties.お客様会員番号", LISTED),
    ]
    accepted_properties(EventValidator(validators), item)


def test_the_list_is_read_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGETRACK_PERSONAL_KEYS", '["member_no", "会員番号"]')
    assert IngestSettings().personal_keys == ["member_no", "会員番号"]
    monkeypatch.setenv("STAGETRACK_PERSONAL_KEYS", '["member_no", "--"]')
    with pytest.raises(ValidationError, match="personal_keys") as refused:
        IngestSettings()
    assert "'--' has no letters or digits to match a key with" in str(refused.value)
