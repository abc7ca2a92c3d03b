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
_NUMBER = re.compile(r"(?<![\w.])\+?\(?\d[\d ().-]{6,}\d(?![\w])")
_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|"
    r"Square|Sq|Parkway|Pkwy|Highway|Hwy|Close|Crescent|Strasse|Straße)\b"
    r"|\b(?:Rua|Avenida|Av\.|Travessa|Alameda|Calle|Via|Rue)\s+[A-Z][\w' -]{2,40},?\s*(?:n[ºo°.]?\s*)?\d{1,5}\b"
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")
_ACCOUNT = re.compile(r"\b(?:account|acct|routing|sort code|iban|agência|conta)\b\W{0,3}(?:n(?:o|umber|º)\.?\W{0,3}|#\s?)?[\w:# -]{0,6}\d{4,}", re.I)
_ID = re.compile(r"\b\d{3}-\d{2}-\d{4}\b|\b\d{3}\.\d{3}\.\d{3}-\d{2}\b|\b(?:ssn|social security|passport|cpf)\b\D{0,20}\d{4,}", re.I)
_HEALTH = re.compile(
    r"\b(?:diagnos\w*|prescri\w*|medication|medicine|dosage|symptom\w*|therap(?:y|ist)|psychiatr\w*|"
    r"depress(?:ion|ed)|anxiety|panic attack|cancer|tumou?r|chemo\w*|diabet\w*|insulin|hiv|aids|std|"
    r"pregnan\w*|miscarriage|blood (?:pressure|test|sugar)|cholesterol|surgery|allerg\w*|asthma|"
    r"disease|disorder|mental health|medical|clinic|hospital|my doctor|antidepressant\w*|adhd|autism|"
    r"epilep\w*|seizure\w*|rehab|addiction)\b",
    re.I,
)
_CREDENTIAL = re.compile(
    r"\b(?:password|passcode|passphrase|passwd|pwd|pin(?: code)?|api[ _-]?key|secret|token)\b\s*(?:is|was|:|=)\s*\S+"
    r"|\bsk-[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bAKIA[0-9A-Z]{16}\b|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"
    r"|\bbearer\s+[A-Za-z0-9._~+/-]{16,}",
    re.I,
)


def detect_personal_data(text: str) -> tuple[PersonalData, ...]:
    """The kinds of personal data in ``text``, in a stable order (empty when none)."""
    found: set[PersonalData] = set()
    if "@" in text and _EMAIL.search(text):
        found.add(PersonalData.EMAIL)
    for match in _NUMBER.finditer(text):
        kind = _classify_number(match.group())
        if kind is not None:
            found.add(kind)
    if _STREET.search(text):
        found.add(PersonalData.ADDRESS)
    if _IBAN.search(text) or _ACCOUNT.search(text):
        found.add(PersonalData.ACCOUNT)
    if _ID.search(text):
        found.add(PersonalData.ID_NUMBER)
    if _HEALTH.search(text):
        found.add(PersonalData.HEALTH)
    if _CREDENTIAL.search(text):
        found.add(PersonalData.CREDENTIAL)
    return tuple(kind for kind in PersonalData if kind in found)


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
