"""The personal-data guard: anonymous tracking events carry no personal data (PRODUCT.md, early stage).

The rule, as users read it in docs/ingest-validation.md:

- It applies to events **without lead_id** (anonymous tracking: only the tracker's anonymous_id), except
  `form_submitted` and `identified`: those are the identification step itself, so they may carry an email,
  a name or a phone number even before a lead_id exists. Events with a lead_id are not checked (the person
  is known and the CRM is the one sending).
- Refused are, anywhere in `properties` (nested objects and arrays too):
  - a key that names personal data, compared case-insensitively and ignoring `-`, `_`, `.` and spaces:
    email, e-mail, mail, email_address, phone, phone_number, tel, telephone, mobile, mobile_phone, cell_phone,
    name, first_name, last_name, full_name, firstname, lastname, given_name, family_name, surname, middle_name
    (the key is refused only when it holds a value: null, "" and empty objects/arrays carry nothing).
    The top-level `name` of a `tracked` event is the event's name, not a person's, and is allowed;
  - an email-shaped string (or key), also inside URLs: query strings are percent-decoded (up to three times, for
    double-encoded redirects) before looking, so `?email=hanako%40example.com` in a referrer is caught.
- An email-shaped `anonymous_id` is refused too.

Every offending field is reported with its path (`properties.referrer`, `properties.form.email`); the
reason never repeats the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from services.ingest.domain.problems import Problem, field_path

IDENTIFYING_TYPES = frozenset({"form_submitted", "identified"})
_TRACKED_TOP = frozenset({"name"})  # a tracked event's top-level `name` is the event's name, not a person's
_NOTHING: frozenset[str] = frozenset()
_CONTAINERS = (dict, list, Mapping)  # a tuple: `a | b` in isinstance() builds a union object on every call

_EMAIL_KIND, _PHONE_KIND, _NAME_KIND = "an email address", "a phone number", "a name"
_KEY_KINDS: dict[str, str] = {
    **dict.fromkeys(("email", "mail", "emailaddress", "mailaddress"), _EMAIL_KIND),
    **dict.fromkeys(
        ("phone", "phonenumber", "tel", "telephone", "mobile", "mobilephone", "mobilenumber", "cellphone"),
        _PHONE_KIND,
    ),
    **dict.fromkeys(
        ("name", "firstname", "lastname", "fullname", "givenname", "familyname", "surname", "middlename"),
        _NAME_KIND,
    ),
}
_IGNORED_IN_KEYS = str.maketrans("", "", "-_. ")
_EMAIL = re.compile(r"[\w.!#$%&'*+=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_URL_DECODE_ROUNDS = 3


def personal_data_problems(
    event_type: object, lead_id: object, anonymous_id: object, properties: object
) -> list[Problem]:
    """The personal data an anonymous tracking event carries, one Problem per field ([] when allowed)."""
    if (isinstance(event_type, str) and event_type in IDENTIFYING_TYPES) or (isinstance(lead_id, str) and lead_id):
        return []
    problems: list[Problem] = []
    if isinstance(anonymous_id, str) and contains_email(anonymous_id):
        problems.append(Problem("anonymous_id", _reason(_EMAIL_KIND)))
    if isinstance(properties, dict) or isinstance(properties, Mapping):  # the ABC check is the slow one
        _walk_object(properties, ("properties",), _TRACKED_TOP if event_type == "tracked" else _NOTHING, problems)
    return problems


def contains_email(text: str) -> bool:
    """True when `text` holds an email-shaped substring, also after percent-decoding it."""
    if "@" in text and _EMAIL.search(text):
        return True
    for _ in range(_URL_DECODE_ROUNDS):
        if "%" not in text:
            return False
        decoded = unquote(text)
        if decoded == text:
            return False
        text = decoded
        if "@" in text and _EMAIL.search(text):
            return True
    return False


@lru_cache(maxsize=4096)
def _key_kind(key: str) -> str | None:
    return _KEY_KINDS.get(key.lower().translate(_IGNORED_IN_KEYS))


def _reason(kind: str) -> str:
    return (
        f"personal data ({kind}) is not accepted on anonymous tracking events (no lead_id); "
        "identify the visitor with form_submitted or identified first"
    )


def _walk_object(
    obj: Mapping[Any, Any], path: tuple[str | int, ...], allowed: frozenset[str], out: list[Problem]
) -> None:
    # The hot path of anonymous tracking: most values are short strings with neither "@" nor "%", so the
    # common case is tested inline and a path is only built for a finding or a nested value.
    for key, value in obj.items():
        if isinstance(key, str) and key not in allowed:
            kind = _key_kind(key)
            if kind is not None and value not in (None, "") and value != {} and value != []:
                out.append(Problem(field_path((*path, key)), _reason(kind)))
                continue
            if ("@" in key or "%" in key) and contains_email(key):
                out.append(Problem(field_path((*path, key)), _reason(_EMAIL_KIND)))
                continue
        if isinstance(value, str):
            if ("@" in value or "%" in value) and contains_email(value):
                out.append(Problem(field_path((*path, key)), _reason(_EMAIL_KIND)))
        elif isinstance(value, _CONTAINERS):
            _walk_value(value, (*path, key), out)


def _walk_value(value: Any, path: tuple[str | int, ...], out: list[Problem]) -> None:
    if isinstance(value, str):
        if contains_email(value):
            out.append(Problem(field_path(path), _reason(_EMAIL_KIND)))
    elif isinstance(value, Mapping):
        _walk_object(value, path, _NOTHING, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk_value(item, (*path, index), out)
