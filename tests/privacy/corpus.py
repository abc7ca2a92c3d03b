"""The privacy corpus: personal data in many forms and languages, each case with the exact
strings that must never leave the hub, and ordinary questions that must go out.

Built from templates so that every form meets several phrasings and languages; the
values are made up (valid checksums where a real one would have them).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from stdnum import iban, luhn
from stdnum.es import dni

__all__ = ["CASES", "Case", "ORDINARY", "PERSONAL"]


@dataclass(frozen=True)
class Case:
    id: str
    turns: tuple[str, ...]  # the person's messages, in order (the hub answers each in between)
    secrets: tuple[str, ...] = ()  # exact strings that must never reach the endpoint
    kind: str = ""  # personal: what a reason should name (a PersonalData name); ordinary: ""
    redactable: bool = True  # a placeholder can stand for it (topics cannot)
    tags: tuple[str, ...] = field(default=())

    @property
    def personal(self) -> bool:
        return bool(self.secrets)


def _card(prefix: str, length: int = 16) -> str:
    rng = random.Random(prefix)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


def _grouped(number: str, sep: str = " ") -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def _iban(country: str, bban: str) -> str:
    return country + iban.calc_check_digits(country + "00" + bban) + bban


_WORDS_EN = "zero one two three four five six seven eight nine".split()
_WORDS = {
    "en": _WORDS_EN,
    "pt": "zero um dois três quatro cinco seis sete oito nove".split(),
    "es": "cero uno dos tres cuatro cinco seis siete ocho nueve".split(),
    "de": "null eins zwei drei vier fünf sechs sieben acht neun".split(),
    "fr": "zéro un deux trois quatre cinq six sept huit neuf".split(),
}


def _spelled(digits: str, lang: str) -> str:
    return " ".join(_WORDS[lang][int(d)] for d in digits if d.isdigit())


def _personal() -> list[Case]:
    cases: list[Case] = []

    def add(
        id_: str, turns: str | tuple[str, ...], secrets: tuple[str, ...], kind: str, *, redactable: bool = True
    ) -> None:
        turns = (turns,) if isinstance(turns, str) else turns
        cases.append(Case(id=f"{kind.lower()}-{id_}", turns=turns, secrets=secrets, kind=kind, redactable=redactable))

    # -- email ---------------------------------------------------------------
    emails = [
        "marta.quintela88@example.com",
        "joao_ferraz@correio.pt",
        "l.hernandez.ruiz@ejemplo.es",
        "klaus.meyer-brandt@beispiel.de",
        "amelie.dufresne@exemple.fr",
        "b.okafor+news@mail.co.uk",
    ]
    templates = [
        "write to {} tomorrow",
        "meu email é {}",
        "mi correo es {}",
        "Meine E-Mail-Adresse lautet {}",
        "mon adresse mail est {}",
        "cc {} on the invoice please",
    ]
    for i, (e, t) in enumerate(itertools.product(emails, templates)):
        if i % 2 == 0:
            add(f"email-{i}", t.format(e), (e,), "EMAIL")
    spelled = [
        ("marta dot quintela at gmail dot com", "marta dot quintela"),
        ("joaoferraz arroba sapo ponto pt", "joaoferraz arroba sapo"),
        ("lhernandez arroba gmail punto com", "lhernandez arroba gmail"),
        ("kmeyer at web dot de", "kmeyer at web"),
        ("amelie (at) orange (dot) fr", "amelie (at) orange"),
        ("bokafor [at] outlook [dot] com", "bokafor [at] outlook"),
        ("tom.reyes at protonmail.com", "tom.reyes at protonmail"),
    ]
    for i, (form, secret) in enumerate(spelled):
        for j, t in enumerate(("my email is {}", "send the tickets to {}", "escreve para {}")):
            add(f"spelled-{i}-{j}", t.format(form), (secret,), "EMAIL")
    add("confusable", "contact me at mаrta.quintelа@example.com", ("mаrta.quintelа",), "EMAIL")
    add("zero-width", "my address is ana\u200b.souza\u200b@example.com", ("ana\u200b.souza",), "EMAIL")
    add("json-escaped", 'my config: {"user": "pedro\\u0040example.com"}', ("pedro\\u0040example.com",), "EMAIL")

    # -- phone ---------------------------------------------------------------
    phones = [
        "(212) 555-0199",
        "+1 415 555 0134",
        "07700 900123",
        "+44 20 7946 0958",
        "(11) 98765-4321",
        "+55 11 98765 4321",
        "912 345 678",
        "+351 912 345 678",
        "612 34 56 78",
        "+34 612 34 56 78",
        "0151 23456789",
        "+49 30 901820",
        "06 12 34 56 78",
        "+33 6 12 34 56 78",
        "415.555.0134",
    ]
    templates = [
        "call me on {}",
        "o meu número é {}",
        "mi teléfono es el {}",
        "ruf mich unter {} an",
        "appelle-moi au {}",
        "text {} when you land",
    ]
    for i, p in enumerate(phones):
        for j in (i % 6, (i + 3) % 6):
            add(f"phone-{i}-{j}", templates[j].format(p), (p,), "PHONE")
    for lang, digits, t in (
        ("en", "4155550134", "my number is {}"),
        ("pt", "912345678", "liga para {}"),
        ("es", "612345678", "llámame al {}"),
        ("de", "015123456789", "meine Nummer ist {}"),
        ("fr", "0612345678", "mon numéro est le {}"),
    ):
        words = _spelled(digits, lang)
        add(f"words-{lang}", t.format(words), (words,), "PHONE")
    add("zero-width", "call me on +1 415 555\u200b 0134", ("555\u200b 0134",), "PHONE")
    add("fullwidth", "call me on ＋４４ ２０ ７９４６ ０９５８", ("７９４６ ０９５８",), "PHONE")

    # -- cards ---------------------------------------------------------------
    cards = [_card("4539"), _card("5425"), _card("3714", 15), _card("6011"), _card("2221"), _card("4916")]
    templates = [
        "my card is {}",
        "pay with {} please",
        "o número do cartão é {}",
        "mi tarjeta es {}",
        "meine Kreditkarte: {}",
        "ma carte bancaire est {}",
    ]
    for i, c in enumerate(cards):
        for j, (t, sep) in enumerate(zip(templates, (" ", "-", "", " ", "-", " "), strict=True)):
            if (i + j) % 2 == 0:
                shown = _grouped(c, sep) if sep else c
                add(f"card-{i}-{j}", t.format(shown), (shown,), "CARD")
    for lang in ("en", "pt", "es", "de", "fr"):
        c = cards[len(lang) % 3]
        words = _spelled(c, lang)
        add(f"card-words-{lang}", f"card: {words}", (words,), "CARD")
    for i, c in enumerate(cards[:4]):
        first, second = _grouped(c[:8]), _grouped(c[8:])
        add(
            f"card-split-{i}",
            (f"my card number starts with {first}", f"and the rest is {second}"),
            (first, second),
            "CARD",
        )
    add(
        "card-split-bare",
        (f"{_grouped(cards[4][:8])}", f"{_grouped(cards[4][8:])} is my card"),
        (_grouped(cards[4][:8]), _grouped(cards[4][8:])),
        "CARD",
    )

    # -- bank accounts ---------------------------------------------------------
    ibans = [
        _iban("DE", "370400440532013000"),
        _iban("GB", "NWBK60161331926819"),
        _iban("FR", "20041010050500013M02606"),
        _iban("ES", "21000418450200051332"),
        _iban("PT", "000201231234567890154"),
        _iban("NL", "ABNA0417164300"),
    ]
    for i, n in enumerate(ibans):
        spaced = " ".join(n[k : k + 4] for k in range(0, len(n), 4))
        add(f"iban-{i}", f"my IBAN is {spaced}", (spaced,), "ACCOUNT")
        add(f"iban-bare-{i}", f"transfer the money to {n}", (n,), "ACCOUNT")
    for i, (t, acct) in enumerate(
        (
            ("my account number is {}", "31926819"),
            ("conta {} agência 0001", "123456-7"),
            ("número de cuenta {}", "0049 1500 05 1234567892"),
            ("Kontonummer {}", "532013000"),
            ("numéro de compte {}", "00012345678"),
            ("sort code 60-16-13 account {}", "31926819"),
        )
    ):
        add(f"account-{i}", t.format(acct), (acct,), "ACCOUNT")

    # -- identity numbers ------------------------------------------------------
    cpf_body = "529982247"
    cpf = _cpf(cpf_body)
    ids = [
        ("my SSN is {}", "536-90-4399"),
        ("social security number {}", "078-05-1120"),
        ("meu CPF é {}", f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"),
        ("CPF {}", cpf),
        ("mi DNI es {}", "12345678" + dni.calc_check_digit("12345678")),
        ("NIE {}", "X1234567L"),
        ("my NI number is {}", "QQ 12 34 56 C"),
        ("mein Reisepass hat die Nummer {}", "C01X00T47"),
        ("Passnummer: {}", "C4J8KL21X"),
        ("passport number {}", "533380006"),
        ("o meu passaporte é {}", "CX123456"),
        ("mi pasaporte es {}", "PAA123456"),
        ("mon passeport: {}", "12AB34567"),
        ("driver's license D1234-56789-01234", "D1234-56789-01234"),
        ("Steuer-ID {}", "65929970489"),
        ("numéro de sécurité sociale {}", "1 85 05 78 006 084 36"),
        ("my NHS number is {}", "943 476 5919"),
        ("RG {}", "12.345.678-9"),
    ]
    for i, (t, v) in enumerate(ids):
        add(f"id-{i}", t.format(v) if "{}" in t else t, (v,), "ID_NUMBER")

    # -- street addresses ------------------------------------------------------
    addresses = [
        ("I live at 42 Wallaby Way, Sydney", "42 Wallaby Way"),
        ("my address is 1427 Maple Avenue", "1427 Maple Avenue"),
        ("i live at 7 acacia gardens crescent, london n1 9gu", "n1 9gu"),
        ("send it to flat 3, 18 dean street, london w1d 3rq", "18 dean street"),
        ("moro na rua das flores, 123", "rua das flores, 123"),
        ("moro na Rua Augusta, 1500, Lisboa", "Rua Augusta, 1500"),
        ("meu endereço é Avenida Paulista, 1578", "Avenida Paulista, 1578"),
        ("vivo en calle Mayor 5, Madrid", "calle Mayor 5"),
        ("mi dirección es Calle de Alcalá 48", "Alcalá 48"),
        ("ich wohne in der Hauptstraße 12, 10115 Berlin", "Hauptstraße 12"),
        ("meine Adresse ist Lindenweg 4a", "Lindenweg 4"),
        ("j'habite au 12 rue de la Paix, Paris", "12 rue de la Paix"),
        ("mon adresse est 8 avenue Victor Hugo", "8 avenue Victor Hugo"),
        ("deliver it to 221B Baker Street", "221B Baker Street"),
        ("ship to 350 Fifth Avenue, apt 12", "350 Fifth Avenue"),
        ("my home is 12 high street, london sw1a 2aa", "12 high street"),
    ]
    for i, (text, secret) in enumerate(addresses):
        add(f"address-{i}", text, (secret,), "ADDRESS")

    # -- names and dates of birth ------------------------------------------------
    names = [
        ("My name is Carla Mendes", "Carla Mendes"),
        ("my sister Beatriz Moura lives in Porto", "Beatriz Moura"),
        ("meu nome é Rafael Teixeira", "Rafael Teixeira"),
        ("me llamo Lucía Fernández", "Lucía Fernández"),
        ("ich heiße Jonas Becker", "Jonas Becker"),
        ("je m'appelle Chloé Lambert", "Chloé Lambert"),
        ("John Michael Smith, born 04/07/1986", "04/07/1986"),
        ("Ana Paula Lima, date of birth 12.03.1991", "12.03.1991"),
        ("I was born on 3 May 1984", "3 May 1984"),
        ("nasci em 17/09/1979", "17/09/1979"),
        ("nací el 5 de junio de 1990", "5 de junio de 1990"),
        ("Geburtsdatum: 21.08.1975", "21.08.1975"),
        ("date de naissance : 02/11/1988", "02/11/1988"),
        ("my daughter's birthday is March 14, 2015", "March 14, 2015"),
        ("my friend Tomás Vidal needs a lift", "Tomás Vidal"),
        ("minha mãe Helena Costa ligou", "Helena Costa"),
    ]
    for i, (text, secret) in enumerate(names):
        add(f"name-{i}", text, (secret,), "PERSON" if i < 6 or i > 13 else "BIRTH_DATE")

    # -- vehicles -------------------------------------------------------------
    for i, (text, secret) in enumerate(
        (
            ("my license plate is AB12 CDE", "AB12 CDE"),
            ("minha placa é ABC1D23", "ABC1D23"),
            ("mi matrícula es 1234 BCD", "1234 BCD"),
            ("mein Kennzeichen ist B-AB 1234", "B-AB 1234"),
            ("ma plaque d'immatriculation est AB-123-CD", "AB-123-CD"),
            ("my car registration is LV71 XKD", "LV71 XKD"),
        )
    ):
        add(f"vehicle-{i}", text, (secret,), "VEHICLE")

    # -- credentials ------------------------------------------------------------
    creds = [
        ("the wifi password is hunter2!", "hunter2!"),
        ("my password: Tr0ub4dor&3", "Tr0ub4dor&3"),
        ("a senha do banco é Lisboa#2024", "Lisboa#2024"),
        ("mi contraseña es gato-azul-77", "gato-azul-77"),
        ("mein Passwort ist Sonnenblume99", "Sonnenblume99"),
        ("mon mot de passe est chaton42", "chaton42"),
        ("my PIN is 4821", "4821"),
        ("use key sk-proj-A1b2C3d4E5f6G7h8I9j0KlMnOpQr", "sk-proj-A1b2C3d4E5f6G7h8I9j0KlMnOpQr"),
        (
            '```python\nclient = S3(aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")\n```',
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("```\nAWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n```", "AKIAIOSFODNN7EXAMPLE"),
        ('{"api_key": "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"}', "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("DATABASE_URL=postgres://admin:s3cr3tPassw0rd@db.internal:5432/app", "s3cr3tPassw0rd"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA7bq"),
        (
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0",
        ),
        ("slack token xoxb-1234567890-abcdefghijkl", "xoxb-1234567890-abcdefghijkl"),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ]
    for i, (text, secret) in enumerate(creds):
        add(f"credential-{i}", text, (secret,), "CREDENTIAL")

    # -- sensitive topics (cannot be redacted) --------------------------------------
    topics = {
        "HEALTH": [
            "I was diagnosed with type 2 diabetes last year and my blood sugar is 180",
            "my mother has breast cancer and starts chemo on Monday",
            "I take 20 mg of fluoxetine every morning",
            "remind me to take my antidepressants",
            "estou grávida de 12 semanas",
            "tenho ansiedade e tomo 50 mg de sertralina",
            "tengo depresión desde hace dos años",
            "mi médico dice que tengo la presión arterial alta",
            "ich habe Krebs und beginne eine Chemotherapie",
            "ich nehme 75 mg Venlafaxin",
            "je suis enceinte de trois mois",
            "j'ai une dépression et je vois un psychiatre",
            "my resting heart rate is 58 and I have an arrhythmia",
            "I'm HIV positive",
        ],
        "FINANCES": [
            "I owe 12,000 on my credit cards and I'm behind on my mortgage",
            "my salary is 3,200 a month",
            "tenho uma dívida de 5 mil reais",
            "mi sueldo es de 1.800 euros",
            "ich habe 20.000 Euro Schulden",
            "mon salaire est de 2 500 euros par mois",
        ],
        "SEXUALITY": [
            "I'm gay and haven't told my parents",
            "sou bissexual",
            "soy lesbiana",
            "ich bin schwul",
            "je suis bisexuel",
        ],
        "RELIGION": [
            "I'm a practising Muslim, where can I pray near work?",
            "sou católica",
            "soy judío",
            "ich bin Atheist",
            "je suis musulmane",
        ],
        "LEGAL": [
            "I was arrested last week for a DUI",
            "fui preso ano passado",
            "tengo antecedentes penales",
            "ich bin vorbestraft",
            "j'ai un casier judiciaire",
        ],
    }
    for kind, texts in topics.items():
        for i, text in enumerate(texts):
            add(f"topic-{i}", text, (text,), kind, redactable=False)

    # -- mixed: several items in one message (redaction numbering, restoring) ---------
    mixed = [
        (
            "My sister Ana Lima is at +44 20 7946 0958 and ana.lima@example.com",
            ("Ana Lima", "+44 20 7946 0958", "ana.lima@example.com"),
        ),
        ("Call me on (212) 555-0147 or (212) 555-0148", ("(212) 555-0147", "(212) 555-0148")),
        (
            "meu nome é Rui Campos, CPF 529.982.247-25, telefone +351 913 456 789",
            ("Rui Campos", "529.982.247-25", "+351 913 456 789"),
        ),
        ("ich heiße Lena Vogel, meine IBAN ist " + ibans[0], ("Lena Vogel", ibans[0])),
        ("je m'appelle Hugo Martin, appelle-moi au 06 98 76 54 32", ("Hugo Martin", "06 98 76 54 32")),
    ]
    for i, (text, secrets) in enumerate(mixed):
        add(f"mixed-{i}", text, secrets, "ACCOUNT" if i == 3 else "PHONE")
    # -- across turns: a cue in one message, the value in the next ------------------
    across = [
        (("what's the best way to share my phone number?", "it's 07700 900456"), ("07700 900456",), "PHONE"),
        (
            ("I need to update my email", "the new one is rafa.souza77@example.com"),
            ("rafa.souza77@example.com",),
            "EMAIL",
        ),
        (("here is my IBAN", ibans[1]), (ibans[1],), "ACCOUNT"),
        (("my wifi password?", "it's password: Correct-Horse-9"), ("Correct-Horse-9",), "CREDENTIAL"),
    ]
    for i, (turns, secrets, kind) in enumerate(across):
        add(f"across-{i}", turns, secrets, kind)
    # -- more phrasings --------------------------------------------------------------
    more = [
        ("reach me: j.silva [at] uol [dot] com [dot] br", "j.silva [at] uol", "EMAIL"),
        ("o meu telemóvel é 936 123 456", "936 123 456", "PHONE"),
        ("meu celular: (21) 99876-5432", "99876-5432", "PHONE"),
        ("Handy: 0171 1234567", "0171 1234567", "PHONE"),
        ("mon portable : 07 81 23 45 67", "07 81 23 45 67", "PHONE"),
        (
            "appelle-moi au zéro six douze trente-quatre cinquante-six soixante-dix-huit",
            "zéro six douze trente-quatre cinquante-six soixante-dix-huit",
            "PHONE",
        ),
        ("moro em Rua Visconde de Pirajá, 330, Ipanema", "Pirajá, 330", "ADDRESS"),
        ("c/ Gran Vía 28, 2ºB", "Gran Vía 28", "ADDRESS"),
        ("my address is 500 w madison st chicago il 60661", "500 w madison st", "ADDRESS"),
        ("Wohnung: Bergmannstr. 15, 10961 Berlin", "Bergmannstr. 15", "ADDRESS"),
        ("RIB: FR76 3000 6000 0112 3456 7890 189", "FR76 3000 6000 0112 3456 7890 189", "ACCOUNT"),
        ("DNI 12345678Z", "12345678Z", "ID_NUMBER"),
        ("mein Ausweis ist T22000129", "T22000129", "ID_NUMBER"),
        ("the door code is 4512#", "4512#", "CREDENTIAL"),
        ("login: admin / pass: Qwerty!2024", "Qwerty!2024", "CREDENTIAL"),
        ("export OPENAI_API_KEY=sk-abc123def456ghi789jkl012mno345", "sk-abc123def456ghi789jkl012mno345", "CREDENTIAL"),
        ("My name's Daniel Craig Johnson", "Daniel Craig Johnson", "PERSON"),
        ("I am Tomasz Kowalski and I need a visa letter", "Tomasz Kowalski", "PERSON"),
        ("meine Tochter hat am 14.02.2012 Geburtstag", "14.02.2012", "BIRTH_DATE"),
        ("Name: Maria Oliveira, DOB 1985-02-17", "1985-02-17", "BIRTH_DATE"),
        ("my plate number is 7ABC123", "7ABC123", "VEHICLE"),
    ]
    for i, (text, secret, kind) in enumerate(more):
        add(f"more-{i}", text, (secret,), kind)
    more_topics = [
        ("tengo VIH", "HEALTH"),
        ("mi hermano tiene esquizofrenia", "HEALTH"),
        ("I'm on the waiting list for a kidney transplant", "HEALTH"),
        ("eu tomo rivotril", "HEALTH"),
        ("j'ai fait une fausse couche", "HEALTH"),
        ("ich war im Gefängnis", "LEGAL"),
        ("my credit score is 540", "FINANCES"),
        ("soy ateo y mi familia no lo sabe", "RELIGION"),
    ]
    for i, (text, kind) in enumerate(more_topics):
        add(f"more-topic-{i}", text, (text,), kind, redactable=False)
    return cases


def _cpf(body: str) -> str:
    def digit(digits: str) -> str:
        total = sum(int(d) * w for d, w in zip(digits, range(len(digits) + 1, 1, -1), strict=True))
        r = total % 11
        return "0" if r < 2 else str(11 - r)

    first = digit(body)
    return body + first + digit(body + first)


def _ordinary() -> list[Case]:
    questions = [
        # famous addresses
        "Who lives at 1600 Pennsylvania Avenue?",
        "What is at 10 Downing Street?",
        "Who lived at 221B Baker Street?",
        "How tall is the building at 350 Fifth Avenue?",
        "What company is at 1 Infinite Loop, Cupertino?",
        "Who works at 1600 Amphitheatre Parkway?",
        "Which family lives at 742 Evergreen Terrace?",
        "Where is 4 Privet Drive in the Harry Potter books?",
        "What happened at 112 Mercer Street in Princeton?",
        "Quem morava na 221B Baker Street?",
        "¿Quién vive en el 10 de Downing Street?",
        # physical constants and numbers
        "The speed of light is 299792458 m/s: how long does light take to reach the Moon?",
        "Is the speed of light 299 792 458 metres per second exactly?",
        "What is Avogadro's number 6.02214076e23 used for?",
        "Planck's constant is 6.62607015e-34 J s: what does it measure?",
        "Why is g about 9.80665 m/s2?",
        "What is 17% of 240?",
        "What's 12 times 7?",
        "Is 2147483647 a prime number?",
        "What is 123456789 * 987654321?",
        "Convert 1000000 seconds to days",
        "How many bytes is 4294967296?",
        "What is 3.14159265358979 rounded to 4 places?",
        "Factor 1234567890",
        "What is the square root of 1522756?",
        "Sum the numbers 1 to 1000",
        "Is 4111 1111 1111 a valid number?",
        "A velocidade da luz é 299 792 458 m/s?",
        "¿Cuánto es 15% de 3.500?",
        "Was ist 1.000.000 geteilt durch 7?",
        "Combien font 250 000 divisé par 12 ?",
        "The population of Brazil is 203,062,512: is it growing?",
        # ISBNs, codes, dates, versions
        "Who wrote the book with ISBN 978-0-13-468599-1?",
        "Find ISBN 9780306406157",
        "What is ISBN 0-306-40615-2?",
        "Is ISBN 978-3-16-148410-0 a real book?",
        "What happened on 1969-07-20?",
        "Meet at 10:30 on 2024-05-01",
        "What day of the week was 14/07/1789?",
        "How many days between 01.01.2024 and 31.12.2024?",
        "Python 3.11.7 was released in 2023: what changed?",
        "Upgrade from node 20.11.1 to 22.3.0",
        "What does HTTP status 404 mean?",
        "Explain error code 0x80070005",
        "What is the EAN 4006381333931?",
        "What is the UPC 036000291452?",
        "What's the IP 192.168.0.1 used for?",
        "Which country uses the dialling code +351?",
        "What is the emergency number 112 for?",
        "What's at latitude 48.8584, longitude 2.2945?",
        "Which city has the zip code 90210?",
        "How long is flight BA 2490?",
        "Who won the 1998 World Cup?",
        "Einstein was born on 14 March 1879: where?",
        "When was Marie Curie born?",
        "Albert Einstein's date of birth?",
        "What year did World War 2 end?",
        # code
        "```python\nfor i in range(10):\n    print(i * 1234567)\n```\nwhat does this print?",
        "Why does `git checkout 3f9c0a1b2c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f` detach HEAD?",
        "Is 123e4567-e89b-12d3-a456-426614174000 a valid UUID?",
        'Parse this JSON: {"id": 12345678, "price": 19.99, "qty": 3}',
        "What does `chmod 755 script.sh` do?",
        "Explain `SELECT * FROM orders WHERE id = 1234567`",
        "```js\nconst total = 4111 + 1111 + 1111;\n```",
        "Why is 0.1 + 0.2 != 0.3 in Python?",
        "What does `docker run -p 8080:80 nginx` do?",
        "What is the SHA-256 of an empty string?",
        "What does the regex \\d{3}-\\d{4} match?",
        "How do I read an env var like API_KEY in Python?",
        "What is a password manager?",
        "How do I reset a forgotten password?",
        "What makes a strong password?",
        # general questions on sensitive subjects (about the world, not the person)
        "What causes Lyme disease?",
        "How does insulin work?",
        "What are the symptoms of diabetes?",
        "What is the maximum daily dose of ibuprofen?",
        "Is HIV curable?",
        "How do mortgages work?",
        "What is a credit score?",
        "What does LGBT stand for?",
        "What is Ramadan?",
        "What is a DUI?",
        "Explain how chemotherapy works",
        "What is the difference between a lawyer and an attorney?",
        "Como funciona a vacina contra a gripe?",
        "¿Qué es la diabetes tipo 2?",
        "Was ist eine Depression?",
        "Qu'est-ce que l'hypertension ?",
        "What is the average salary of a nurse in Portugal?",
        # everyday
        "What is the capital of France?",
        "Translate 'good morning' to Portuguese",
        "Write a haiku about rain",
        "Plan a three-day trip to Lisbon",
        "Summarise the plot of Don Quixote",
        "Explain photosynthesis simply",
        "How far is the Moon?",
        "What's the boiling point of water at 2000 m?",
        "Convert 10 miles to km",
        "Give me a recipe for pancakes for 4 people",
        "Turn off the lights in room 101",
        "It is 10 miles of road to the coast",
        "Wall Street closed 2 points up",
        "Set a timer for 10 minutes",
        "I walked 10000 steps today",
        "Tell me a joke",
        "What's the weather like in Oslo in March?",
        "Who painted the Mona Lisa?",
        "How many players are on a football team?",
        "Recommend a sci-fi novel",
        "Como se diz obrigado em japonês?",
        "¿Cuál es la capital de Argentina?",
        "Wie spät ist es in Tokio?",
        "Quelle est la hauteur de la tour Eiffel ?",
        "Qual é a montanha mais alta do mundo?",
        "¿Cuántos habitantes tiene México?",
        "Wer hat die Relativitätstheorie entwickelt?",
        "Quel est le plus long fleuve de France ?",
        "Explain how a bank transfer works",
        "What is an IBAN?",
        "What does a passport number look like in the UK?",
        "How do phone area codes work?",
        "What is the format of a US social security number?",
        "Why do credit card numbers have a check digit?",
        "Who is the president of Brazil?",
        "What is the tallest building in the world?",
        "Name three Greek gods",
        "What rhymes with orange?",
        "How do I boil an egg?",
        "Explain the Pythagorean theorem",
        "What is machine learning?",
        "List the planets in order",
        "What is the GDP of Germany?",
        "How do vaccines work?",
        "Who was Ada Lovelace?",
        "When did the Berlin Wall fall?",
        "What is the population of Tokyo?",
        "Describe the water cycle",
        "How does a rainbow form?",
        "What is inflation?",
        "How are interest rates set?",
        "What's a good name for a cat?",
        "Write a limerick about a programmer",
        "How many languages are spoken in India?",
        "My favourite colour is blue: what goes with it?",
        "I love pizza: what's the best topping?",
        "I'm learning German: how do I say 'thank you'?",
        "Can you tell me about the history of Rome?",
        "Help me understand how diabetes is diagnosed",
        "I'm planning a trip to 5 cities in Italy",
        "I have 3 apples and eat 1: how many are left?",
        "We are 4 people: how much pasta should I cook?",
        "My flight is at 10:45: when should I leave?",
        "I'm reading about 1984 by George Orwell",
        "I need 250 g of flour in cups",
        "Our team scored 3 goals in 2023",
        "I'm a software engineer: explain Kubernetes",
        "I went to the church of São Roque in Lisbon: its history?",
        "What is the Fibonacci number at position 40?",
        "Who discovered penicillin in 1928?",
        "What is the melting point of iron in kelvin?",
        "How many seconds are in a leap year?",
        "What's the distance from Lisbon to Madrid in km?",
        "Explain the 4-7-8 breathing technique",
        "What is the atomic number of gold?",
        "How many calories are in 100 g of rice?",
        "Which year did the Titanic sink?",
        "What are the 7 wonders of the ancient world?",
        "How do I file for bankruptcy in the US?",
        "The meeting ID is 845 2231 9087",
        "Is 1-800-273-8255 a hotline?",
        "What's the area code 212?",
        "How many people live in 10115 Berlin?",
        "Calculate 4539 * 1488",
        "I need a recipe with 200 ml of milk and 3 eggs",
        "My router IP is 192.168.1.1",
        "What is the dose of paracetamol for adults?",
        "Is being gay legal in Portugal?",
    ]
    return [Case(id=f"ordinary-{i}", turns=(q,)) for i, q in enumerate(questions)]


PERSONAL = _personal()
ORDINARY = _ordinary()
CASES = PERSONAL + ORDINARY
