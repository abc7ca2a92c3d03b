"""The detectors: each finds one kind of personal data in normalised text.

Checksummed identifiers are validated with python-stdnum, phone numbers with
libphonenumber (``phonenumbers``); the rest are patterns with context words in
en, pt, es, de and fr. Every detector answers spans of the normalised text; the
caller maps them back to what was typed. Cheap substring tests keep the common
case (no digits, no cue words) well under a millisecond for a 4 KB conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers
from stdnum import iban as std_iban
from stdnum import isbn as std_isbn
from stdnum import luhn
from stdnum.es import dni as std_dni
from stdnum.es import nie as std_nie

from ._kinds import PersonalData
from ._patterns import (
    _ACCOUNT_CUES,
    _ASSIGN_FIRSTS,
    _BIRTH_STRONG,
    _BIRTH_WEAK,
    _CARD_PREFIX,
    _CLAUSE_END,
    _CLAUSE_STOP,
    _CPF,
    _CREDENTIAL_ASSIGN,
    _CREDENTIAL_FIRSTS,
    _CREDENTIAL_MARKERS,
    _CREDENTIAL_NAMED,
    _CREDENTIAL_SHAPED,
    _CUE_TOKEN,
    _DATE,
    _DATEISH,
    _DIGIT,
    _DNI,
    _EMAIL,
    _FAMOUS,
    _FIRST_PERSON_BIRTH,
    _FULL_NAME_INTRO,
    _GERMAN_SUFFIXES,
    _IBAN,
    _ID_CUES,
    _LATIN_FIRSTS,
    _MATH_AROUND,
    _NAME_BEFORE,
    _NAME_CUE,
    _NAME_PREFIXES,
    _NINO,
    _NOT_SECRETS,
    _NUMBER,
    _NUMBER_CUES,
    _NUMERIC_DATE,
    _PHONE_SHAPED,
    _POSTCODE_AFTER,
    _PRODUCT_CUES,
    _REGIONS,
    _RESIDENCE,
    _RESIDENCE_FIRSTS,
    _RESIDENCE_SAID,
    _SSN,
    _STREET,
    _STREET_FRENCH,
    _STREET_GERMAN,
    _STREET_LATIN,
    _STREET_LOWER,
    _THOUSANDS,
    _UK_POSTCODE,
    _UNIT_AFTER,
    _URL_USERINFO,
    _VEHICLE_CUES,
)
from ._topics import TOKEN as _TOKEN
from ._topics import find_topics

__all__ = ["find_all"]

Span = tuple[PersonalData, int, int]


def find_all(text: str) -> list[Span]:
    """Every item in ``text`` (normalised), overlapping spans included; the caller merges.

    Patterns that start with a word are tried only where that word occurs (``words``:
    each lower-case word and its offsets): scanning 4 KB with a large alternation
    costs milliseconds, a few anchored matches cost microseconds."""
    found: list[Span] = []
    lower = text.lower()
    if len(lower) != len(text):  # "İ" lowers to two characters: keep offsets aligned
        lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(lower)]
    words: dict[str, list[int]] = {}
    for word, start, _ in tokens:
        words.setdefault(word, []).append(start)
    taken: list[tuple[int, int]] = []  # spans claimed by a precise detector: the number pass skips them
    if "@" in text:
        for m in _EMAIL.finditer(text):
            found.append((PersonalData.EMAIL, *m.span()))
            taken.append(m.span())
    found.extend(_credentials(text, words, taken))
    if _DIGIT.search(text):
        found.extend(_identifiers(text, lower, taken))
        found.extend(_cued_tokens(text, lower, taken))
        found.extend(_numbers(text, lower, taken))
        found.extend(_addresses(text, lower, words))
        found.extend(_birth_dates(text, lower, words))
    found.extend(_names(text, words))
    found.extend(find_topics(text, tokens))
    return found


def _matches_at(
    pattern: re.Pattern[str], text: str, words: dict[str, list[int]], firsts: frozenset[str]
) -> list[re.Match[str]]:
    """``pattern.match`` at every offset where one of ``firsts`` (lower-case words) starts."""
    out = []
    for word in firsts:
        for pos in words.get(word, ()):
            m = pattern.match(text, pos)
            if m:
                out.append(m)
    return out


def _any(text: str, needles: tuple[str, ...]) -> bool:
    return any(n in text for n in needles)


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(a < span[1] and span[0] < b for a, b in taken)


def _credentials(text: str, words: dict[str, list[int]], taken: list[tuple[int, int]]) -> list[Span]:
    out: list[Span] = []
    if any(marker in text for marker in _CREDENTIAL_MARKERS):
        for m in _CREDENTIAL_SHAPED.finditer(text):
            out.append((PersonalData.CREDENTIAL, *m.span()))
    if "://" in text:
        for m in _URL_USERINFO.finditer(text):  # postgres://user:secret@host
            out.append((PersonalData.CREDENTIAL, *m.span(1)))
    for pattern, firsts in ((_CREDENTIAL_NAMED, _CREDENTIAL_FIRSTS), (_CREDENTIAL_ASSIGN, _ASSIGN_FIRSTS)):
        for m in _matches_at(pattern, text, words, firsts):
            value = m.group(1).rstrip(".,;:)")  # a "!" or "?" may be part of a password: keep it
            if value.lower() in _NOT_SECRETS:
                continue
            out.append((PersonalData.CREDENTIAL, m.start(1), m.start(1) + len(value)))
    taken.extend((a, b) for _, a, b in out)
    return out


def _identifiers(text: str, lower: str, taken: list[tuple[int, int]]) -> list[Span]:
    """Identifiers with a checksum or a fixed national shape."""
    out: list[Span] = []
    for m in _IBAN.finditer(text):
        compact = m.group().replace(" ", "").upper()
        if std_iban.is_valid(compact) or _cue_distance(lower, m.start(), _ACCOUNT_CUES, 48) is not None:
            out.append((PersonalData.ACCOUNT, *m.span()))
    for m in _SSN.finditer(text):
        out.append((PersonalData.ID_NUMBER, *m.span()))  # the 3-2-4 shape is a US SSN (stdnum rejects famous test ones)
    for m in _CPF.finditer(text):
        out.append((PersonalData.ID_NUMBER, *m.span()))  # the punctuation alone says CPF/CNPJ
    for m in _DNI.finditer(text):
        if (
            std_dni.is_valid(m.group())
            or std_nie.is_valid(m.group())
            or _cue_distance(lower, m.start(), _ID_CUES, 48) is not None
        ):
            out.append((PersonalData.ID_NUMBER, *m.span()))
    for m in _NINO.finditer(text):
        out.append((PersonalData.ID_NUMBER, *m.span()))
    taken.extend((a, b) for _, a, b in out)
    return out


def _cued_tokens(text: str, lower: str, taken: list[tuple[int, int]]) -> list[Span]:
    """An alphanumeric token right after a word that says what it is ("Reisepass C01X00T47")."""
    out: list[Span] = []
    for cues, kind in (
        (_ID_CUES, PersonalData.ID_NUMBER),
        (_VEHICLE_CUES, PersonalData.VEHICLE),
        (_ACCOUNT_CUES, PersonalData.ACCOUNT),
    ):
        for cue in cues:
            start = lower.find(cue)
            while start >= 0:
                if start == 0 or not lower[start - 1].isalnum():
                    tail = start + len(cue)
                    window = _CLAUSE_END.split(text[tail : tail + 40], maxsplit=1)[0]  # "CPF ..., telefone ..."
                    for m in _CUE_TOKEN.finditer(window):
                        token = m.group().strip()
                        for part in _id_parts(token):
                            a = tail + m.start() + token.find(part)
                            span = (a, a + len(part))
                            if not _overlaps(span, taken):
                                out.append((kind, *span))
                                taken.append(span)
                start = lower.find(cue, start + 1)
    return out


def _id_parts(token: str) -> list[str]:
    """The pieces of a cue's window that look like an identifier: 5+ characters with 2+ digits."""
    whole = token.replace(" ", "").replace("-", "").replace(".", "").replace("/", "")
    if whole.isdigit() and len(whole) >= 5:
        return [token]  # "1 85 05 78 006 084 36": one number in groups
    if len(whole) <= 14 and sum(c.isdigit() for c in whole) >= 2 and len(whole) >= 5 and " " in token:
        if all(len(w) <= 6 for w in token.split()):  # "C01X 00T47", "AB12 CDE": one identifier in groups
            return [token]
    return [
        w
        for w in re.split(r"\s+", token)
        if len(w) >= 5 and sum(c.isdigit() for c in w) >= 2 and not _DATEISH.fullmatch(w)
    ]


def _cue_distance(lower: str, pos: int, cues: tuple[str, ...], before: int) -> int | None:
    """How far before ``pos`` the nearest of ``cues`` ends (as a whole word), or None."""
    lo = max(0, pos - before)
    best: int | None = None
    for cue in cues:
        at = lower.rfind(cue, lo, pos)
        while at >= 0:
            end = at + len(cue)
            if (at == 0 or not lower[at - 1].isalnum()) and (
                len(cue) > 5 or end >= len(lower) or not lower[end].isalnum()
            ):
                if best is None or pos - end < best:
                    best = pos - end
                break
            at = lower.rfind(cue, lo, at)
    return best


def _numbers(text: str, lower: str, taken: list[tuple[int, int]]) -> list[Span]:
    out: list[Span] = []
    for m in _NUMBER.finditer(text):
        raw = m.group().rstrip(" (-./")
        start, end = m.start(), m.start() + len(raw)
        if raw.startswith("(") and ")" not in raw:
            raw, start = raw[1:], start + 1
        if _overlaps((start, end), taken):
            continue
        kind = _classify(raw, text, lower, start, end)
        if kind is not None:
            out.append((kind, start, end))
    return out


def _classify(raw: str, text: str, lower: str, start: int, end: int) -> PersonalData | None:
    digits = "".join(c for c in raw if c.isdigit())
    n = len(digits)
    if n < 7:
        return None
    if _cue_distance(lower, start, _PRODUCT_CUES, 30) is not None or (
        n in (10, 13) and std_isbn.is_valid(digits) and digits.startswith(("978", "979"))
    ):
        return None
    # the nearest word that says what the number is wins ("CPF ..., telefone +351 ...")
    cued = [
        (d, kind) for kind, cues, before in _NUMBER_CUES if (d := _cue_distance(lower, start, cues, before)) is not None
    ]
    kind = min(cued, key=lambda c: c[0])[1] if cued else None
    if kind is PersonalData.CARD and not 13 <= n <= 19:
        kind = None
    if kind is not None and not (kind is PersonalData.PHONE and n > 15):
        return kind
    if 13 <= n <= 19 and luhn.is_valid(digits) and _CARD_PREFIX.match(digits):
        return PersonalData.CARD
    if n > 15:
        return None
    # no word says what it is: decide from its shape, its surroundings and libphonenumber
    if (
        _THOUSANDS.match(raw)
        or _DATEISH.fullmatch(raw)
        or _UNIT_AFTER.match(text, end)
        or _MATH_AROUND.search(text[max(0, start - 3) : start])
        or text[end : end + 1] in ("*", "×", "^", "=", "+")
    ):
        return None
    if not _PHONE_SHAPED.match(raw):
        return None
    return PersonalData.PHONE if _valid_phone(raw) else None


def _valid_phone(raw: str) -> bool:
    candidate = raw if not raw.startswith("00") else "+" + raw[2:]
    regions: tuple[str | None, ...] = (None,) if candidate.startswith("+") else _REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def _addresses(text: str, lower: str, words: dict[str, list[int]]) -> list[Span]:
    out: list[Span] = []
    matches = [m for pattern in (_STREET, _STREET_LOWER, _STREET_FRENCH) for m in pattern.finditer(text)]
    matches += _matches_at(_STREET_LATIN, text, words, _LATIN_FIRSTS)
    matches += _matches_at(_STREET_GERMAN, text, words, frozenset(w for w in words if w.endswith(_GERMAN_SUFFIXES)))
    if matches:
        for m in matches:
            start, end = m.span()
            tail = _POSTCODE_AFTER.match(text, end)
            if tail:
                end = tail.end()
            said = lower[start : m.end()]
            if any(said.startswith(f) or f in said for f in _FAMOUS) and not _RESIDENCE.search(
                lower[max(0, start - 40) : start]
            ):
                continue
            out.append((PersonalData.ADDRESS, start, end))
    for m in _matches_at(_RESIDENCE_SAID, lower, words, _RESIDENCE_FIRSTS):
        clause = _CLAUSE_STOP.split(text[m.end() : m.end() + 70], maxsplit=1)[0]
        digit = _DIGIT.search(clause)
        if digit:  # "my address is 500 w madison st chicago il 60661"
            out.append((PersonalData.ADDRESS, m.end() + digit.start(), m.end() + len(clause.rstrip())))
    if "live" in lower or "moro" in lower or "wohne" in lower or "habite" in lower or "vivo" in lower:
        for m in _UK_POSTCODE.finditer(text):  # "i live at flat 3, 12 high st, sw1a 2aa"
            if _RESIDENCE.search(lower[max(0, m.start() - 80) : m.start()]):
                out.append((PersonalData.ADDRESS, m.start(), m.end()))
    return out


_BIRTH_GATE = (
    "born",
    "birth",
    "nasc",
    "naci",
    "nací",
    "nació",
    "naiss",
    "geb",
    "anniv",
    "né",
    "d.o.b",
    "dob",
    "cumple",
    "aniver",
)
_BIRTH_FIRSTS = frozenset(
    "date d dob birth birthdate data fecha geburtsdatum geb né née nascido nascida nacido nacida "
    "born birthday nasci nasceu aniversário cumpleaños nací nació geboren geburtstag "
    "anniversaire".split()
)


def _birth_dates(text: str, lower: str, words: dict[str, list[int]]) -> list[Span]:
    """A date right after a birth cue; a weak cue ("born") counts only for the person or a form's date."""
    out: list[Span] = []
    if not any(g in lower for g in _BIRTH_GATE):
        return out
    cues = [m for pattern in (_BIRTH_STRONG, _BIRTH_WEAK) for m in _matches_at(pattern, lower, words, _BIRTH_FIRSTS)]
    for cue in cues:
        strong = cue.re is _BIRTH_STRONG
        m = _DATE.search(text, cue.end(), cue.end() + 45)
        if m is None or ". " in text[cue.end() : m.start()]:
            # "meine Tochter hat am 14.02.2012 Geburtstag": the date may come first
            m = None if strong else _last(_DATE.finditer(text, max(0, cue.start() - 30), cue.start()))
            if m is None or ". " in text[m.end() : cue.start()]:
                continue
        sentence_start = max(lower.rfind(c, 0, min(m.start(), cue.start())) for c in "?!\n") + 1
        sentence_start = max(sentence_start, lower.rfind(". ", 0, min(m.start(), cue.start())) + 1)
        before = lower[sentence_start : cue.start() + len(cue.group())]
        if strong or _FIRST_PERSON_BIRTH.search(before) or _NUMERIC_DATE.fullmatch(m.group()):
            out.append((PersonalData.BIRTH_DATE, *m.span()))
            # the person it belongs to: a capitalised name just before the cue ("Ana Lima, born 03/02/1990")
            name = _NAME_BEFORE.search(text[max(0, cue.start() - 60) : cue.start()])
            if name and name.group(1).split()[0] not in _NOT_NAMES:
                a = max(0, cue.start() - 60) + name.start(1)
                out.append((PersonalData.PERSON, a, a + len(name.group(1))))
    return out


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    m = None
    for m in matches:  # noqa: B007  (the last one is wanted)
        pass
    return m


_NOT_NAMES = frozenset(
    "The A An I It This That My Our Your Please Thanks Hi Hello Dear Sorry Yes No Ok Okay Also And "
    "But So Then Today Tomorrow Here There What When Where Who How Why".split()
)


_NAME_FIRSTS = frozenset("my i i'm call name full meu me mi mein ich je mon nome nombre nom minha meine ma".split())


def _names(text: str, words: dict[str, list[int]]) -> list[Span]:
    out: list[Span] = []
    lower = text.lower()
    starts = [pos for word in _NAME_FIRSTS for pos in words.get(word, ()) if lower.startswith(_NAME_PREFIXES, pos)]
    for m in filter(None, (_NAME_CUE.match(text, pos) for pos in starts)):
        out.extend(_name_span(m))
    # "I'm Tomasz Kowalski": a full name (two capitalised words or more), not "I'm Brazilian"
    for word in ("i'm", "i", "this"):
        for pos in words.get(word, ()):
            full = _FULL_NAME_INTRO.match(text, pos)
            if full:
                out.extend(_name_span(full))
    return out


def _name_span(m: re.Match[str]) -> list[Span]:
    """The name a cue introduced, without trailing words that are no name ("Ana Then")."""
    name = m.group(1)
    parts = name.split()
    while parts and parts[-1] in _NOT_NAMES:
        parts.pop()
    if not parts or parts[0] in _NOT_NAMES:
        return []
    start = m.start(1)
    return [(PersonalData.PERSON, start, start + name.rfind(parts[-1]) + len(parts[-1]))]
