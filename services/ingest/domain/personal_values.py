"""Personal data found by value: email addresses in any spelling we can undo, phone numbers.

A value is first undone into plain text, in up to three rounds (for values encoded more than once): percent-
encoding (`hanako%40example.co.jp`), HTML character references (`&#64;`, `&#x40;`, `&commat;`), JavaScript
escapes (`\\u0040`), and Unicode compatibility forms (NFKC: full-width `＠`, `．`, `０９０`), with the
bracketed obfuscations `[at]`, `(at)`, `[@]`, `[dot]`, `(.)` and `アットマーク` read as `@` and `.`.

- An **email address** is an `@` with a local-part character right before it and a dotted domain right after
  (`a@b.co`; not `@handle`, `user@localhost`). Looking around each `@` keeps the cost linear in the value.
- A **phone number** is a run of digits and separators (`-`, spaces, dots, parentheses; any dash or long vowel
  mark `ー` in Japanese text) that starts with `+` (international), `00`/`010` (an international call prefix)
  or `0` (Japanese national format), has at least 10 digits, and that the `phonenumbers` library (Google's
  libphonenumber metadata) judges a valid number, read as Japanese when it has no country code. Parsing costs
  ~0.1 ms, so only such runs are parsed, and at most PHONE_CHECKS_PER_EVENT of them per event.

`needs_a_look` is the cheap test every string of an anonymous event passes through; only the rare value it
flags is undone and searched.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import unquote

import phonenumbers

EMAIL, PHONE = "an email address", "a phone number"
PHONE_CHECKS_PER_EVENT = 8  # library parses per event: bounds the CPU a hostile batch can cost (~0.1 ms each)
_DECODE_ROUNDS = 3
_LOCAL_PART_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+=?^_`{|}~-")
_DOMAIN = re.compile(r"[\w-]+\.[\w-]")  # a label, a dot, the start of another: matched right after an "@"
_DOMAIN_WINDOW = 256
_AT = re.compile(r"[ \t]{0,3}(?:[\[(](?:at|@)[\])]|アットマーク)[ \t]{0,3}", re.IGNORECASE)
_DOT = re.compile(r"[ \t]{0,3}[\[(](?:dot|\.)[\])][ \t]{0,3}", re.IGNORECASE)
_JS_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")
# Dashes, minus signs and the long vowel mark people type between digits in Japanese text (NFKC keeps them).
_DASHES = re.compile("[‐‑‒–—―−ーｰ]")
# A phone-shaped run: starts with + or 0 and is no part of a longer word, number or decimal fraction (click ids,
# hex ids, `35.0123456789`), except right after TEL or FAX (`TEL03-1234-5678`); bounded, so the search is linear.
_PHONE_SHAPE = re.compile(
    r"(?:(?<![0-9A-Za-z_])(?<![0-9]\.)|(?<=tel)|(?<=TEL)|(?<=Tel)|(?<=fax)|(?<=FAX)|(?<=Fax))"
    r"[+0][0-9][0-9 ().\-]{7,22}[0-9](?![0-9A-Za-z_])"
)
_INTERNATIONAL_PREFIX = re.compile(r"^(?:00|010)[ \-]?(?=[1-9])")
_MIN_DIGITS, _MAX_DIGITS = 10, 15  # a Japanese number with its 0 has 10 or 11; E.164 at most 15
_DEFAULT_REGION = "JP"
_DIGITS = b"0123456789"


def needs_a_look(text: str) -> bool:
    """False for the ordinary value that can hold neither an email address nor a phone number in any spelling
    undone here (most values of a page view): the guard's hot path."""
    return (
        "@" in text
        or "%" in text
        or "&" in text
        or "0" in text
        or "+" in text
        or "]" in text
        or ")" in text
        or "\\" in text
        or not text.isascii()
    )


class PhoneBudget:
    """How many library parses one event may still cost."""

    __slots__ = ("phone_checks_left",)

    def __init__(self) -> None:
        self.phone_checks_left = PHONE_CHECKS_PER_EVENT


class PhoneBudgetSpent(Exception):
    """A phone-shaped run was found after the event's parses were used up."""


def value_kind(text: str, budget: PhoneBudget | None = None) -> str | None:
    """EMAIL or PHONE when `text` (in any spelling undone here) holds one, else None.

    Raises PhoneBudgetSpent when a phone-shaped run is left unparsed because `budget` is used up."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)  # most Japanese text has nothing left to look at after it
    plain = text
    if _may_hide_an_email(text):
        has_email, plain = _undo(text)
        if has_email:
            return EMAIL
    if ("0" in plain or "+" in plain) and _digit_count(plain) >= _MIN_DIGITS:  # cheaper than the search
        if not plain.isascii():
            plain = _DASHES.sub("-", plain)
        if _has_phone(plain, budget or PhoneBudget()):
            return PHONE
    return None


def _may_hide_an_email(text: str) -> bool:
    """Whether `text` (NFKC) has an @, or a character that starts an encoding or obfuscation undone here."""
    return (
        "@" in text
        or "%" in text
        or ("&" in text and ("&#" in text or ";" in text))  # a character reference has either
        or "\\" in text
        or "]" in text
        or ")" in text
        or "アットマーク" in text
    )


def contains_email(text: str) -> bool:
    """True when `text`, in any spelling undone here, holds an email address."""
    return _undo(text)[0]


def _undo(text: str) -> tuple[bool, str]:
    """Whether `text` holds an email address in any of its spellings, and its most undone spelling."""
    for _ in range(_DECODE_ROUNDS):
        if "@" in text and _has_email(text):
            return True, text
        plain = _undo_once(text)
        if plain == text:
            return False, text
        text = plain
    return "@" in text and _has_email(text), text


def _undo_once(text: str) -> str:
    if "%" in text:
        text = unquote(text)
    if "&" in text and ("&#" in text or ";" in text):  # no reference without either (html.unescape is slow)
        text = html.unescape(text)
    if "\\" in text:
        text = _JS_ESCAPE.sub(_unescape_js, text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).replace("。", ".")  # the ideographic full stop in a domain
    if "]" in text or ")" in text or "マ" in text:
        lower = text.lower()
        if "at]" in lower or "at)" in lower or "@]" in text or "@)" in text or "アットマーク" in text:
            text = _AT.sub("@", text)
        if "@" in text and ("dot]" in lower or "dot)" in lower or ".]" in text or ".)" in text):
            text = _DOT.sub(".", text)
    return text


def _unescape_js(match: re.Match[str]) -> str:
    return chr(int(match.group(1) or match.group(2), 16))


def _has_email(text: str) -> bool:
    at = text.find("@")
    while at != -1:
        before = text[at - 1] if at else " "
        if (before in _LOCAL_PART_CHARS or before.isalnum()) and _DOMAIN.match(text, at + 1, at + 1 + _DOMAIN_WINDOW):
            return True
        at = text.find("@", at + 1)
    return False


def _digit_count(text: str) -> int:
    encoded = text.encode()
    return len(encoded) - len(encoded.translate(None, _DIGITS))


def _has_phone(text: str, budget: PhoneBudget) -> bool:
    for match in _PHONE_SHAPE.finditer(text):
        run = _INTERNATIONAL_PREFIX.sub("+", match.group())
        digits = sum(c.isdigit() for c in run)
        if digits < _MIN_DIGITS:
            continue
        if budget.phone_checks_left <= 0:
            raise PhoneBudgetSpent
        budget.phone_checks_left -= 1
        if digits <= _MAX_DIGITS and _valid_number(run):
            return True
        if " " in run and _valid_number_in(text[match.start() : match.start() + 64]):  # two numbers, one run
            return True
    return False


def _valid_number(run: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(run, _DEFAULT_REGION))
    except phonenumbers.NumberParseException:
        return False


def _valid_number_in(text: str) -> bool:
    matcher = phonenumbers.PhoneNumberMatcher(text, _DEFAULT_REGION, leniency=phonenumbers.Leniency.VALID)
    return matcher.has_next()


def warm_up() -> None:
    """Loads the library's metadata for the regions read most (the first parse of a region costs ~10 ms)."""
    _valid_number("+81 90-1234-5678")
    _valid_number("+1 415-555-0100")
