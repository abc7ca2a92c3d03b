"""Finds personal data in text, so the router can keep such requests on the hub.

Tuned to err on the side of staying local: a false positive costs answer quality
for one request, a false negative sends someone's card number to a third party.
The detector reports *kinds* only; the matched text is never logged or returned.
"""

from __future__ import annotations

import enum
import re

__all__ = ["PersonalData", "detect_personal_data"]


class PersonalData(enum.StrEnum):
    EMAIL = "an email address"
    PHONE = "a phone number"
    ADDRESS = "a street address"
    CARD = "a payment card number"
    ACCOUNT = "a bank account number"
    ID_NUMBER = "an identity number"
    HEALTH = "health information"
    CREDENTIAL = "a password or credential"


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Any run of digits with the separators people type in phone and card numbers;
# classified by digit count and checksum below.
_NUMBER = re.compile(r"[+(\d][\d ().-]{6,}\d")
_STREET_SUFFIXES = (
    "street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive", "dr", "court", "ct",
    "way", "place", "pl", "terrace", "square", "sq", "parkway", "pkwy", "highway", "hwy", "close", "crescent",
    "strasse", "straße",
)
_STREET = re.compile(
    r"\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){1,4}(?:" + "|".join(s.capitalize() for s in _STREET_SUFFIXES) + r")\b"
)
_STREET_LATIN_MARKERS = ("Rua ", "Avenida ", "Av. ", "Travessa ", "Alameda ", "Calle ", "Via ", "Rue ")
_STREET_LATIN = re.compile("(?:" + "|".join(re.escape(m.strip()) for m in _STREET_LATIN_MARKERS) + r")\s+[A-Z][\w' -]{2,40},?\s*(?:n[ºo°.]?\s*)?\d{1,5}\b")
# Typed in lower case: only the unambiguous suffixes ("road" or "drive" would catch "10 miles of road").
_STREET_LOWER = re.compile(r"\d{1,5}[a-z]?,?\s+(?:[a-z][\w'.-]*\s+){1,3}(?:street|avenue|boulevard)\b")
_STREET_MARKERS = tuple(" " + s.capitalize() for s in _STREET_SUFFIXES)
_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")
_ACCOUNT_WORDS = ("account", "acct", "routing", "sort code", "iban", "agência", "agencia", "conta")
_ACCOUNT = re.compile(r"\b(?:" + "|".join(_ACCOUNT_WORDS) + r")\b\W{0,3}(?:n(?:o|umber|º)\.?\W{0,3}|#\s?)?[\w:# -]{0,6}\d{4,}", re.I)
_ID_NUMBER = re.compile(r"\d{3}(?:-\d{2}-\d{4}|\.\d{3}\.\d{3}-\d{2})\b")  # US SSN, Brazilian CPF
_ID_WORDS = ("ssn", "social security", "passport", "cpf")
_ID_NAMED = re.compile(r"\b(?:" + "|".join(_ID_WORDS) + r")\b\D{0,20}\d{4,}", re.I)
# Stems and phrases; a cheap substring test finds candidates, a word-boundary regex confirms them.
_HEALTH_TERMS = (
    "diagnos", "prescri", "medication", "medicine", "dosage", "symptom", "therapy", "therapist", "psychiatr",
    "depression", "depressed", "anxiety", "panic attack", "cancer", "tumor", "tumour", "chemo", "diabet", "insulin",
    "hiv", "aids", "std", "pregnan", "miscarriage", "blood pressure", "blood test", "blood sugar", "cholesterol",
    "surgery", "allerg", "asthma", "disease", "disorder", "mental health", "medical", "clinic", "hospital",
    "my doctor", "antidepressant", "adhd", "autism", "epilep", "seizure", "rehab", "addiction",
)
_HEALTH_STEMS = frozenset({"diagnos", "prescri", "symptom", "psychiatr", "chemo", "diabet", "pregnan", "allerg", "epilep", "seizure", "antidepressant"})
_CREDENTIAL_WORDS = ("password", "passcode", "passphrase", "passwd", "pwd", "pin", "api", "secret", "token")
_CREDENTIAL_NAMED = re.compile(r"\b(?:password|passcode|passphrase|passwd|pwd|pin(?: code)?|api[ _-]?key|secret|token)\b\s*(?:is|was|:|=)\s*\S+", re.I)
_CREDENTIAL_MARKERS = ("sk-", "gh", "akia", "xox", "-----begin", "eyj", "bearer")
_CREDENTIAL_SHAPED = re.compile(
    r"\bsk-[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bAKIA[0-9A-Z]{16}\b|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"
    r"|\bbearer\s+[A-Za-z0-9._~+/-]{16,}",
    re.I,
)
_DIGIT = re.compile(r"\d")


def _health_regex() -> re.Pattern[str]:
    parts = [re.escape(t) + (r"\w*" if t in _HEALTH_STEMS else "") for t in _HEALTH_TERMS]
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.I)


_HEALTH = _health_regex()


def detect_personal_data(text: str) -> tuple[PersonalData, ...]:
    """The kinds of personal data in ``text``, in a stable order (empty when none).

    Substring tests (fast, in C) rule most patterns out before any regular
    expression runs: a routing decision has to stay well under a millisecond."""
    found: set[PersonalData] = set()
    lower = text.lower()
    if "@" in text and _EMAIL.search(text):
        found.add(PersonalData.EMAIL)
    if _DIGIT.search(text):
        for match in _NUMBER.finditer(text):
            kind = _classify_number(match.group())
            if kind is not None:
                found.add(kind)
        if (_any_in(text, _STREET_MARKERS) and _STREET.search(text)) or (
            _any_in(text, (" street", " avenue", " boulevard")) and _STREET_LOWER.search(text)
        ) or (
            _any_in(text, _STREET_LATIN_MARKERS) and _STREET_LATIN.search(text)
        ):
            found.add(PersonalData.ADDRESS)
        if _IBAN.search(text) or (_any_in(lower, _ACCOUNT_WORDS) and _ACCOUNT.search(text)):
            found.add(PersonalData.ACCOUNT)
        if ("-" in text and _ID_NUMBER.search(text)) or (_any_in(lower, _ID_WORDS) and _ID_NAMED.search(text)):
            found.add(PersonalData.ID_NUMBER)
    if _any_in(lower, _HEALTH_TERMS) and _HEALTH.search(text):
        found.add(PersonalData.HEALTH)
    if (_any_in(lower, _CREDENTIAL_WORDS) and _CREDENTIAL_NAMED.search(text)) or (
        _any_in(lower, _CREDENTIAL_MARKERS) and _CREDENTIAL_SHAPED.search(text)
    ):
        found.add(PersonalData.CREDENTIAL)
    return tuple(kind for kind in PersonalData if kind in found)


def _any_in(text: str, needles: tuple[str, ...]) -> bool:
    return any(needle in text for needle in needles)


def _classify_number(raw: str) -> PersonalData | None:
    digits = [int(c) for c in raw if c.isdigit()]
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return PersonalData.CARD
    if 7 <= len(digits) <= 15 and (raw.startswith("+") or _phone_shaped(raw, len(digits))):
        return PersonalData.PHONE
    if len(digits) > 15:
        return PersonalData.ACCOUNT  # a long digit string that is no card: an account, most likely
    return None


def _phone_shaped(raw: str, n_digits: int) -> bool:
    # Dates (2024-05-01), times and decimals are digit runs too: a phone number has
    # at least nine digits, or seven with the usual separators (555-1234 style).
    separators = {c for c in raw if not c.isdigit()}
    if separators == {"."} and raw.count(".") == 1:
        return False  # a decimal number
    if "." in separators and n_digits < 9:
        return False  # a date or a version
    return n_digits >= 9 or bool(re.fullmatch(r"\(?\d{3}\)?[ -]\d{4}|\d{3}[ -]\d{3,4}[ -]?\d{0,4}", raw))


def _luhn(digits: list[int]) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0
