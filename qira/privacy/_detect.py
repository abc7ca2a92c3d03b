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
from ._topics import TOKEN as _TOKEN
from ._topics import find_topics

__all__ = ["find_all"]

Span = tuple[PersonalData, int, int]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
# digit runs with the separators people type in phone, card and account numbers
_NUMBER = re.compile(r"(?<![\w.,])\+?\(?\d[\d ()./-]{5,}\d(?![\w]|[.,]\d)")
_UNIT_AFTER = re.compile(
    r"\s*(?:m/s|km/h|km|kg|mm|cm|nm|m\b|g\b|s\b|ms\b|%|mph|hz|khz|mhz|ghz|j\b|kcal|cal\b|mol|k\b|ev\b|bytes?|kb|mb|gb|"
    r"tb|years?|anos?|años|jahre|ans\b|people|pessoas|personas|dollars|euros?|reais|usd|eur|brl|x\b|times)",
    re.I,
)
_MATH_AROUND = re.compile(r"[=*×÷^/+<>]\s*$")
_DATEISH = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}:\d{2}(?::\d{2})?")
_THOUSANDS = re.compile(r"^\d{1,3}(?:[,.]\d{3}){2,}$|^\d{1,3}(?: \d{3}){2,}$")
_PHONE_SHAPED = re.compile(
    r"^(?:\+|00)\d|^\(\d{2,4}\)\s?\d|^\d{2,4}[ .-]\d{3,4}[ .-]\d{3,4}(?:[ .-]\d{2,4})?$|^0\d{9,10}$|"
    r"^\d{2}\s?9?\d{4}-\d{4}$|^0\d{3,4}[ .-]?\d{5,7}$|^\d{2,4}(?:[ .-]\d{2,4}){2,4}$"
)
_PHONE_CUES = (
    "phone",
    "call",
    "ring me",
    "text me",
    "whatsapp",
    "mobile",
    "cell",
    "tel",
    "number is",
    "my number",
    "contact",
    "reach me",
    "fax",
    "telefone",
    "telemóvel",
    "celular",
    "ligue",
    "ligar",
    "liga",
    "número",
    "contato",
    "contacto",
    "teléfono",
    "móvil",
    "llama",
    "llámame",
    "handy",
    "telefon",
    "nummer",
    "anrufen",
    "ruf",
    "erreichbar",
    "téléphone",
    "portable",
    "appelle",
    "numéro",
    "joindre",
)
_CARD_CUES = (
    "card",
    "visa",
    "mastercard",
    "amex",
    "cartão",
    "cartao",
    "tarjeta",
    "karte",
    "kreditkarte",
    "carte",
    "cvv",
    "expir",
    "validade",
    "caducidad",
    "ablauf",
)
_ACCOUNT_CUES = (
    "account",
    "acct",
    "routing",
    "sort code",
    "iban",
    "swift",
    "bic",
    "conta",
    "agência",
    "agencia",
    "cuenta",
    "konto",
    "blz",
    "compte",
    "rib",
    "bank",
)
_ID_CUES = (
    "ssn",
    "social security",
    "passport",
    "passaporte",
    "pasaporte",
    "reisepass",
    "pass-nr",
    "passnummer",
    "ausweis",
    "personalausweis",
    "passeport",
    "carte d'identité",
    "identity card",
    "id card",
    "id number",
    "identity number",
    "national id",
    "dni",
    "nie",
    "nif",
    "nir",
    "rg",
    "cnh",
    "cpf",
    "cnpj",
    "steuer-id",
    "steuernummer",
    "steueridentifikationsnummer",
    "sozialversicherungsnummer",
    "tax id",
    "tin",
    "nhs number",
    "national insurance",
    "ni number",
    "driver's licen",
    "drivers licen",
    "driving licen",
    "licence number",
    "license number",
    "führerschein",
    "permis de conduire",
    "carteira de motorista",
    "carné de conducir",
    "sécurité sociale",
    "codice fiscale",
    "bsn",
    "curp",
    "rfc",
    "policy number",
    "member number",
    "membership number",
    "customer number",
    "patient id",
    "medical record",
    "insurance number",
    "número de identidade",
    "documento",
    "cédula",
    "cedula",
    "identidade",
    "carte vitale",
    "numéro fiscal",
)
_VEHICLE_CUES = (
    "license plate",
    "licence plate",
    "number plate",
    "plate number",
    "registration",
    "car reg",
    "matrícula",
    "matricula",
    "placa",
    "kennzeichen",
    "nummernschild",
    "immatriculation",
    "plaque",
)
_PRODUCT_CUES = (
    "isbn",
    "issn",
    "ean",
    "doi",
    "upc",
    "gtin",
    "sku",
    "order",
    "tracking",
    "invoice",
    "flight",
    "meeting",
    "zoom",
    "webex",
    "ticket",
    "booking",
    "confirmation",
    "reference",
    "ref",
)
_NUMBER_CUES = (
    (PersonalData.ID_NUMBER, _ID_CUES, 40),
    (PersonalData.CARD, _CARD_CUES, 60),
    (PersonalData.ACCOUNT, _ACCOUNT_CUES, 40),
    (PersonalData.PHONE, _PHONE_CUES, 50),
)
_CLAUSE_END = re.compile(r"(?<=\w)[,;\n]|\.\s")
_CUE_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]{3,26}[A-Za-z0-9]")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", re.I)
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_CPF = re.compile(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b|\b\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}\b")
_DNI = re.compile(r"\b(?:\d{8}|[XYZ]\d{7})-?[A-Z]\b", re.I)
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_REGIONS = ("US", "GB", "BR", "PT", "ES", "DE", "FR", "IT", "MX", "AR", "CA", "AU", "IN", "NL", "CH", "AT", "BE")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|2)|50|5[6-8]|63|67)")

_STREET_SUFFIXES = (
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "court",
    "ct",
    "way",
    "place",
    "pl",
    "terrace",
    "square",
    "sq",
    "parkway",
    "pkwy",
    "highway",
    "hwy",
    "close",
    "crescent",
    "gardens",
    "grove",
    "mews",
    "row",
    "hill",
    "plaza",
    "loop",
)
_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){1,4}(?:"
    + "|".join(s.capitalize() for s in _STREET_SUFFIXES)
    + r")\b\.?"
)
_STREET_LOWER = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:[a-z][\w'.-]*\s+){1,3}(?:street|avenue|"
    r"boulevard|crescent|terrace)\b"
)  # "10 miles of road" is no address
_STREET_LATIN = re.compile(
    r"\b(?:rua|r\.|avenida|av\.|travessa|alameda|largo|praça|estrada|calle|c/|paseo|plaza|carrer|camino|ronda|"
    r"via|viale|piazza|rue|boulevard|bd|chemin|allée|impasse|quai|route)\s+[\w'. -]{2,40}?,?\s*(?:n[ºo°.]?\s*)?"
    r"\d{1,5}[A-Za-z]?\b",
    re.I,
)
_STREET_FRENCH = re.compile(
    r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|chemin|allée|impasse|"
    r"place|quai|route)\s+(?:d[eu']\s?|de la\s|des\s)?[\w'-]+(?:\s[\w'-]+){0,3}",
    re.I,
)
_LATIN_FIRSTS = frozenset(
    "rua r avenida av travessa alameda largo praça estrada calle c paseo plaza carrer camino "
    "ronda via viale piazza rue boulevard bd chemin allée impasse quai route".split()
)
_GERMAN_SUFFIXES = ("straße", "strasse", "str", "weg", "gasse", "platz", "allee", "ring", "damm")
_STREET_GERMAN = re.compile(
    r"[\wäöüß-]*?(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)\s+\d{1,4}\s?[a-z]?\b", re.I
)
_POSTCODE_AFTER = re.compile(r",?\s*(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|\d{5}-\d{3}|\d{4,5})\b", re.I)
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b", re.I)
_RESIDENCE = re.compile(
    r"\b(?:i live|we live|my address|my home|our address|ship (?:it )?to|deliver (?:it )?to|"
    r"remember|profile|lembr|recuerd|merk|rappel|"
    r"send (?:it )?to|moro|minha morada|meu endereço|vivo en|mi dirección|ich wohne|meine adresse|"
    r"j'habite|mon adresse|address:|endereço:|dirección:|adresse:)",
    re.I,
)
_RESIDENCE_SAID = re.compile(
    r"(?:my (?:home )?address(?: is|:)|i live (?:at|on)|we live (?:at|on)|moro (?:na|no|em)|"
    r"minha morada é|meu endereço é|vivo en|mi dirección es|ich wohne (?:in|im|an|am)|"
    r"meine (?:adresse|anschrift)(?: ist|:)|j'habite(?: au| à)?|mon adresse(?: est| :|:))\s*"
)
_RESIDENCE_FIRSTS = frozenset("my i we moro minha meu vivo mi ich meine j'habite mon".split())
_CLAUSE_STOP = re.compile(r"[;\n]|\.\s|,\s(?=(?:and|but|e|y|und|et|mas|pero|aber|mais)\b)")
# Famous addresses people ask about; they are not anyone's own unless the person says they live there.
_FAMOUS = (
    "1600 pennsylvania avenue",
    "10 downing street",
    "221b baker street",
    "350 fifth avenue",
    "1 infinite loop",
    "1600 amphitheatre parkway",
    "4 privet drive",
    "742 evergreen terrace",
    "11 wall street",
    "30 rockefeller plaza",
    "112 mercer street",
    "1 apple park way",
    "405 lexington avenue",
    "1060 west addison street",
    "350 5th avenue",
    "1 microsoft way",
    "12 grimmauld place",
    "124 conch street",
    "2311 north los robles avenue",
    "177a bleecker street",
    "55 rue du faubourg",
    "11 downing street",
    "20 ingram street",
    "1313 mockingbird lane",
    "10 rillington place",
    "31 spooner street",
    "1640 riverside drive",
    "120 avenue des champs",
)

_CREDENTIAL_NAMED = re.compile(
    r"\b(?:password|passcode|passphrase|passwd|pwd|pin(?: code)?|api[ _-]?key|secret|token|senha|palavra-passe|"
    r"contraseña|clave|passwort|kennwort|mot de passe|mdp|code pin|código|"
    r"(?:door|alarm|gate|access|security|safe|lock|entry|garage|building) code|pass|pw)\b(?:\s+[\w-]+){0,3}?\s*"
    r"(?:is|was|:|=|é|era|es|ist|war|est|était)\s*[\"'`]?([^\s\"'`]{2,})",
    re.I,
)
_CREDENTIAL_ASSIGN = re.compile(
    r"(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"client[_-]?secret|auth[_-]?key|accountkey|credentials?)[\w.-]*[\"']?\s*[:=]\s*[\"']?([^\s\"',;}]{6,})",
    re.I,
)
_CREDENTIAL_SHAPED = re.compile(
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bgithub_pat_[A-Za-z0-9_]{20,}|\bglpat-[A-Za-z0-9_-]{16,}|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_-]{30,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.|\n)*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]+)?|\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*",
    re.I,
)
_URL_USERINFO = re.compile(r"://[^\s:/@]+:([^\s@/]+)@")
_CREDENTIAL_FIRSTS = frozenset(
    "password passcode passphrase passwd pwd pin api secret token senha palavra contraseña "
    "clave passwort kennwort mot mdp code código door alarm gate access security safe lock "
    "entry garage building pass pw".split()
)
_ASSIGN_FIRSTS = frozenset(
    "password passwd pwd secret token api apikey access private client auth accountkey credential credentials".split()
)
_CREDENTIAL_MARKERS = (
    "sk-",
    "sk_",
    "rk_",
    "pk_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "AKIA",
    "ASIA",
    "AIza",
    "xox",
    "-----BEGIN",
    "eyJ",
    "earer",
    "EARER",
    "glpat-",
)
_NOT_SECRETS = frozenset(
    "on in at the a an my your written stored saved same different wrong correct incorrect "
    "somewhere under taped expired not too very what where which".split()
)

_NAME = r"[A-ZÀ-Ý][a-zà-ÿ'-]+(?:\s+(?:de|da|do|dos|das|del|la|van|von|der|di|le)?\s*[A-ZÀ-Ý][a-zà-ÿ'-]+){0,3}"
_NAME_INTROS = (
    "my name is",
    "my name's",
    "i'm called",
    "i am called",
    "call me",
    "name:",
    "full name:",
    "full name",
    "meu nome é",
    "me chamo",
    "mi nombre es",
    "me llamo",
    "mein name ist",
    "ich heiße",
    "ich heisse",
    "je m'appelle",
    "mon nom est",
    "nome:",
    "nombre:",
    "nom:",
)
_RELATIVES = {
    "my": "sister brother mother mom mum father dad wife husband son daughter friend boss partner girlfriend boyfriend "
    "colleague neighbour neighbor aunt uncle cousin grandmother grandfather grandma grandpa niece nephew child "
    "doctor therapist landlord ex",
    "minha": "irmã mãe esposa mulher filha amiga chefe namorada tia prima avó sobrinha",
    "meu": "irmão pai marido filho amigo chefe namorado tio primo avô sobrinho",
    "mi": "hermana hermano madre padre esposa esposo marido hija hijo amiga amigo jefe jefa novia novio tía tío prima "
    "primo abuela abuelo",
    "meine": "schwester mutter frau tochter freundin chefin tante cousine oma",
    "mein": "bruder vater mann sohn freund chef onkel cousin opa",
    "ma": "sœur soeur mère femme fille amie copine tante cousine",
    "mon": "frère père mari fils ami copain patron oncle cousin",
}
_NAME_PREFIXES = _NAME_INTROS + tuple(f"{first} {rel}" for first, rels in _RELATIVES.items() for rel in rels.split())
_NAME_CUE = re.compile(
    r"(?i:"
    + "|".join(re.escape(c) for c in _NAME_INTROS)
    + "|"
    + "|".join(f"{first} (?:{'|'.join(rels.split())})" for first, rels in _RELATIVES.items())
    + r")(?:'s name is|,| is called| named| called|)\s+("
    + _NAME
    + r")"
)
_FULL_NAME_INTRO = re.compile(
    r"(?i:i'm|i am|this is)\s+([A-ZÀ-Ý][a-zà-ÿ'-]+(?:\s+(?:de|da|do|dos|das|del|van|von)?\s*"
    r"[A-ZÀ-Ý][a-zà-ÿ'-]+){1,3})"
)
_BIRTH_STRONG = re.compile(
    r"\b(?:date of birth|d\.?o\.?b\.?|birth ?date|data de nascimento|fecha de nacimiento"
    r"|geburtsdatum|geb\.|date de naissance|né le|née le|nascid[oa] em|nacid[oa] el)\b",
    re.I,
)
_BIRTH_WEAK = re.compile(
    r"\b(?:born|birthday|nasci|nasceu|aniversário|cumpleaños|nací|nació|geboren|geburtstag"
    r"|anniversaire|né|née)\b",
    re.I,
)
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august|"
    "september|october|november|december|janeiro|fevereiro|março|abril|maio|junho|julho|agosto|setembro|outubro|"
    "novembro|dezembro|enero|febrero|marzo|mayo|junio|julio|septiembre|octubre|noviembre|diciembre|januar|"
    "februar|märz|juni|juli|oktober|dezember|janvier|février|mars|avril|mai|juin|juillet|août|septembre|"
    "octobre|novembre|décembre"
)
_DATE = re.compile(
    r"\b\d{1,4}[./-]\d{1,2}[./-]\d{2,4}\b"
    r"|\b\d{1,2}(?:st|nd|rd|th|º)?\.?\s+(?:de\s+)?(?:" + _MONTHS + r")\.?(?:\s+(?:de\s+)?\d{4})?\b"
    r"|\b(?:" + _MONTHS + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?,?(?:\s+\d{4})?\b",
    re.I,
)
_NUMERIC_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}")
_FIRST_PERSON_BIRTH = re.compile(
    r"\b(?:i was|i'm|my|our|eu|meu|minha|yo|mi|ich|mein|meine|unser|unsere|je|mon|ma|"
    r"nasci|nací)\b",
    re.I,
)
_NAME_BEFORE = re.compile(r"(" + _NAME + r")\s*[,(]?\s*$")
_DIGIT = re.compile(r"\d")


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
