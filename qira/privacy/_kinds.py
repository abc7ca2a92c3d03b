"""The kinds of personal data the detector names, and what each allows."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Finding", "PersonalData"]


class PersonalData(enum.StrEnum):
    """A kind of personal data; the value is how a reason names it ("a phone number")."""

    EMAIL = "an email address"
    PHONE = "a phone number"
    ADDRESS = "a street address"
    CARD = "a payment card number"
    ACCOUNT = "a bank account number"
    ID_NUMBER = "an identity number"
    PERSON = "a name"
    BIRTH_DATE = "a date of birth"
    VEHICLE = "a vehicle registration"
    CREDENTIAL = "a password or credential"
    HEALTH = "health information"
    FINANCES = "personal finances"
    SEXUALITY = "sexuality"
    RELIGION = "religious beliefs"
    LEGAL = "legal trouble"

    @property
    def tag(self) -> str:
        """The placeholder's stem: ``<PHONE_1>``."""
        return _TAGS.get(self, self.name)

    @property
    def redactable(self) -> bool:
        """An item a placeholder can stand for. A sensitive *topic* cannot be cut out of
        a question without losing the question, so it always keeps the request local."""
        return self not in _TOPICS


_TAGS = {PersonalData.ID_NUMBER: "ID", PersonalData.CREDENTIAL: "SECRET", PersonalData.BIRTH_DATE: "DATE_OF_BIRTH"}
_TOPICS = frozenset(
    {PersonalData.HEALTH, PersonalData.FINANCES, PersonalData.SEXUALITY, PersonalData.RELIGION, PersonalData.LEGAL}
)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One item found, as a span of the *original* text (``start``..``end``)."""

    kind: PersonalData
    start: int
    end: int
