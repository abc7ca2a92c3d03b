import pytest

from qira.inference import PersonalData, detect_personal_data

PERSONAL = [
    ("write to maria.silva@example.com tomorrow", PersonalData.EMAIL),
    ("my number is +1 415 555 0134", PersonalData.PHONE),
    ("call (212) 555-0199 after lunch", PersonalData.PHONE),
    ("ligue para 11 98765-4321", PersonalData.PHONE),
    ("I live at 221B Baker Street, London", PersonalData.ADDRESS),
    ("ship it to 1600 Pennsylvania Avenue", PersonalData.ADDRESS),
    ("moro na Rua Augusta, 1500", PersonalData.ADDRESS),
    ("i live at 12 baker street now", PersonalData.ADDRESS),
    ("card 4111 1111 1111 1111 exp 12/27", PersonalData.CARD),
    ("pay with 5500-0000-0000-0004", PersonalData.CARD),
    ("IBAN DE89 3704 0044 0532 0130 00", PersonalData.ACCOUNT),
    ("my account number is 12345678", PersonalData.ACCOUNT),
    ("SSN 078-05-1120", PersonalData.ID_NUMBER),
    ("meu CPF é 123.456.789-09", PersonalData.ID_NUMBER),
    ("I was diagnosed with diabetes last year", PersonalData.HEALTH),
    ("remind me to take my antidepressants", PersonalData.HEALTH),
    ("my blood pressure was high", PersonalData.HEALTH),
    ("the wifi password is hunter2", PersonalData.CREDENTIAL),
    ("use key sk-abcdefghijklmnopqrstuvwx1234", PersonalData.CREDENTIAL),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", PersonalData.CREDENTIAL),
    ("-----BEGIN OPENSSH PRIVATE KEY----- abc", PersonalData.CREDENTIAL),
]

ORDINARY = [
    "What is the capital of France?",
    "What's 12 times 7?",
    "Set a timer for 10 minutes",
    "Meet at 10:30 on 2024-05-01",
    "Python 3.11.7 was released in 2023",
    "Pi is about 3.14159265",
    "I walked 10000 steps today",
    "Translate 'good morning' to Portuguese",
    "Turn off the lights in room 101",
    "Summarise the news about the 2026 election",
    "It is 10 miles of road to the coast",
    "Wall Street closed 2 points up",
]


@pytest.mark.parametrize(("text", "kind"), PERSONAL)
def test_finds_personal_data(text, kind):
    assert kind in detect_personal_data(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_clean(text):
    assert detect_personal_data(text) == ()


def test_reports_kinds_in_a_stable_order():
    found = detect_personal_data("password: x1 and mail a@b.io")
    assert found == (PersonalData.EMAIL, PersonalData.CREDENTIAL)
