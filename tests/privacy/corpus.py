"""The privacy corpus: personal data in many forms and languages, each case with the exact
strings that must never leave the hub, and ordinary questions that must go out.

Built from templates so that every form meets several phrasings and languages; the
values are made up (valid checksums where a real one would have them).
"""

from __future__ import annotations

import itertools
import random

from stdnum import iban, luhn
from stdnum.es import dni

from tests.privacy._case import Case
from tests.privacy._ordinary import ordinary_cases

__all__ = ["CASES", "Case", "ORDINARY", "PERSONAL"]


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


PERSONAL = _personal()
ORDINARY = ordinary_cases()
CASES = PERSONAL + ORDINARY
