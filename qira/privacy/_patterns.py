"""The patterns, cue words and word lists the detectors use (``_detect``), in one place
so the detectors read as logic. en, pt, es, de and fr."""

from __future__ import annotations

import re

from ._kinds import PersonalData

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
