"""Fields that hold personal data, which no dimension may be drawn from (the model refuses it at load).

A key is read as words (camelCase humps, `_`, `-`, `.` and spaces split it; lower-cased): it is personal when
its words end in one of `PERSONAL_ENDINGS` (`email`, `work_email`, `contactPhone`, `last_name`, `home address`)
or it is exactly one of `PERSONAL_KEYS` (`name`, `mail`, `mobile`, `zip`); or when the model's `personal:` list
marks it (compared the same way). A company, a department or a job title is not personal data; an `owner` is
a colleague's id, not the lead's data (and never a Prometheus label, see dimensions.IDENTIFYING_KINDS).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
PERSONAL_ENDINGS: tuple[tuple[str, ...], ...] = tuple(
    tuple(words.split())
    for words in (
        "email",
        "e mail",
        "email address",
        "mail address",
        "phone",
        "phone number",
        "telephone",
        "tel",
        "fax",
        "mobile number",
        "mobile phone",
        "cell phone",
        "first name",
        "last name",
        "full name",
        "given name",
        "family name",
        "middle name",
        "user name",
        "username",
        "contact name",
        "display name",
        "nickname",
        "surname",
        "street",
        "street address",
        "home address",
        "postal address",
        "mailing address",
        "postal code",
        "postcode",
        "zip code",
        "zipcode",
        "birthday",
        "birth date",
        "date of birth",
        "birthdate",
        "ip",
        "ip address",
    )
)
PERSONAL_KEYS = frozenset({("name",), ("mail",), ("mobile",), ("cell",), ("address",), ("zip",), ("dob",)})


def words(key: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(key))


def is_personal(key: str, marked: Iterable[str] = ()) -> bool:
    return _is_personal(key, tuple(marked))


# The same property names come with event after event; bounded, since the names are whatever a sender sends.
@functools.lru_cache(maxsize=4096)
def _is_personal(key: str, marked: tuple[str, ...]) -> bool:
    found = words(key)
    if not found:
        return False
    if found in PERSONAL_KEYS or any(found[-len(e) :] == e for e in PERSONAL_ENDINGS):
        return True
    return any(found[-len(w) :] == w for w in (words(m) for m in marked) if w)
