"""Personal data found by key name, in English and Japanese, however the key is written.

A key is read as words: NFKC first (full-width `ｅｍａｉｌ`), then split at camelCase humps, `_`, `-`, `.`,
spaces and digits, lower-cased; bracketed notes (`お名前（必須）`, `email (confirm)`) and trailing words that
only qualify a field (`confirm`, `work`, `kana`, `確認用`) are dropped. So `contactEmail`, `contact_email`,
`Contact-Email`, `user.email` and `E-Mail` all end in the word "email".

- English names match the key's **last words**: `homePhoneNumber` ends in "phone number", `email_campaign`
  does not end in "email" and passes. A few words match only as the **whole** key, because as a last word
  they usually mean something else: `name` (`page_name`, `file_name` and `campaign_name` pass, `user_name`
  and `first_name` do not), `mail` (`direct_mail` is a channel), `mobile`, `address` (`ip_address`), `zip`.
- Japanese names match the key's **ending**: お名前, ご住所, 携帯電話番号, メールアドレス（確認用）; the short
  ones (姓, 名, メール, アドレス) only as the whole key, since 会社名, 商品名 or メール配信 are not personal.
- Names an operator lists (STAGETRACK_PERSONAL_KEYS) are read the same way and match the key's last words
  (`member_no` matches `memberNo` and `user.member-no`), or its ending when written in Japanese.

A company (会社名, company), a department (部署) or a job title (役職) is not personal data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from services.ingest.domain.personal_values import EMAIL, PHONE

NAME, ADDRESS, BIRTH = "a name", "a postal address", "a date of birth"
LISTED = "a key listed in STAGETRACK_PERSONAL_KEYS"

_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^\W\d_a-zA-Z]+")
_NOTE = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】|「[^」]*」|[*※]")
_QUALIFYING_WORDS = frozenset(
    "confirm confirmation again retype input field value text kana kanji primary secondary home work private "
    "personal other alt alternate".split()
)
_QUALIFYING_ENDINGS = ("確認用", "確認", "必須", "任意", "カナ", "かな", "漢字", "様")
_PERSON_WORDS = (
    "first last full given family middle maiden fore sur nick display user real legal contact customer person "
    "visitor member sender recipient your my".split()
)

_LAST_WORDS: dict[str, str] = {
    **dict.fromkeys(["email", "emails", "emailaddress", "emailaddr", "mailaddress", "mailaddr"], EMAIL),
    **dict.fromkeys(
        [
            *("phone", "phones", "phonenumber", "phonenumbers", "phoneno", "phonenum", "telephone"),
            *("telephonenumber", "tel", "telno", "telnumber", "mobilephone", "mobilenumber", "mobileno"),
            *("cellphone", "cellnumber", "cellular", "fax", "faxnumber", "faxno"),
            *(f"{word}mobile" for word in ("contact", "user", "customer", "personal", "your", "my")),
        ],
        PHONE,
    ),
    **dict.fromkeys([f"{word}name" for word in _PERSON_WORDS], NAME),
    **dict.fromkeys(
        [
            *(f"{word}address" for word in ("street", "home", "postal", "mailing", "billing", "shipping")),
            *(f"{word}address" for word in ("delivery", "residential", "contact", "user", "customer")),
            *("addressline", "street", "zipcode", "postalcode", "postcode"),
        ],
        ADDRESS,
    ),
    **dict.fromkeys(["birthday", "birthdate", "dateofbirth"], BIRTH),
}
_WHOLE_KEY: dict[str, str] = {
    "mail": EMAIL,
    "mobile": PHONE,
    "cell": PHONE,
    **dict.fromkeys(["name", "sei", "mei", "kana", "furigana"], NAME),
    **dict.fromkeys(["address", "zip"], ADDRESS),
    "dob": BIRTH,
}
# Objects whose own `name` is a thing's, not a person's: `{"product": {"name": ...}}`, `{"items": [{"name": ...}]}`.
_THINGS = frozenset(
    "product item page campaign event video file plan category categories company organization organisation "
    "account form field button experiment variant feature app application browser os device content document "
    "course webinar list tag step brand coupon promotion store shop site section screen widget library "
    "integration group team project report dashboard".split()
)
_JA_ENDINGS: dict[str, str] = {
    **dict.fromkeys(["メールアドレス", "mailアドレス", "メアド"], EMAIL),
    **dict.fromkeys(["電話", "電話番号", "携帯", "携帯番号", "tel番号", "fax番号", "ファックス", "ファクス"], PHONE),
    **dict.fromkeys(["氏名", "名前", "フリガナ", "ふりがな", "姓名", "名字", "苗字", "担当者名", "ご担当者"], NAME),
    **dict.fromkeys(["住所", "郵便番号", "番地"], ADDRESS),
    **dict.fromkeys(["生年月日", "誕生日"], BIRTH),
}
_JA_WHOLE_KEY: dict[str, str] = {
    **dict.fromkeys(["メール", "eメール", "アドレス"], EMAIL),
    **dict.fromkeys(["姓", "名", "氏", "セイ", "メイ", "せい", "めい", "カナ", "かな"], NAME),
}


def key_words(key: str) -> list[str]:
    """The words a key is read as: NFKC, notes in brackets dropped, split, lower-cased, numbers dropped."""
    text = key if key.isascii() else unicodedata.normalize("NFKC", key)
    if "(" in text or "[" in text or "*" in text or not text.isascii():
        text = _NOTE.sub(" ", text).replace("〒", "郵便番号")  # the postal mark is no word character
    words = [word.lower() for word in _TOKEN.findall(text) if not word.isdigit()]
    while len(words) > 1 and words[-1] in _QUALIFYING_WORDS:
        words.pop()
    return words


def names_a_thing(key: str) -> bool:
    """Whether the object under `key` is a thing (a product, a page...), so that its own `name` is no person's."""
    words = key_words(key)
    last = words[-1] if words else ""
    return last in _THINGS or (last.endswith("s") and last[:-1] in _THINGS)


class PersonalKeys:
    """Tells which kind of personal data a key names: the built-in names plus an operator's list."""

    def __init__(self, listed: Iterable[str] = ()) -> None:
        self._last_words = dict(_LAST_WORDS)
        self._ja_endings = dict(_JA_ENDINGS)
        for name in listed:
            compact = "".join(key_words(name))
            if not compact:
                raise ValueError(f"{name!r} has no letters or digits to match a key with")
            if compact.isascii():
                self._last_words.setdefault(compact, LISTED)
            else:
                self._ja_endings.setdefault(compact, LISTED)

    def kind(self, key: str) -> str | None:
        """EMAIL, PHONE, NAME, ADDRESS, BIRTH or LISTED when `key` names personal data, else None."""
        words = key_words(key)
        if not words:
            return None
        whole = "".join(words)
        kind = _WHOLE_KEY.get(whole)
        if kind is not None:
            return kind
        last_words = self._last_words
        for start in range(len(words)):
            kind = last_words.get("".join(words[start:]))
            if kind is not None:
                return kind
        return None if whole.isascii() else self._japanese_kind(whole)

    def _japanese_kind(self, whole: str) -> str | None:
        whole = _without_qualifying_endings(whole)
        kind = _JA_WHOLE_KEY.get(whole.removeprefix("お").removeprefix("ご"))
        if kind is not None:
            return kind
        for ending, ending_kind in self._ja_endings.items():
            if whole.endswith(ending):
                return ending_kind
        return None


def _without_qualifying_endings(whole: str) -> str:
    """メールアドレス確認用 -> メールアドレス, 氏名カナ -> 氏名; never down to nothing (カナ stays カナ)."""
    ending = next((end for end in _QUALIFYING_ENDINGS if whole.endswith(end) and whole != end), None)
    while ending is not None:
        whole = whole[: -len(ending)]
        ending = next((end for end in _QUALIFYING_ENDINGS if whole.endswith(end) and whole != end), None)
    return whole
