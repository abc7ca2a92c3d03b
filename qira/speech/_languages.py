"""Language codes: Whisper speaks ISO 639-1 ("en", "pt"), Apertium mixes 639-1 and
639-3 ("eng-spa", "es-pt"), people type names. One normal form: ISO 639-1."""

from __future__ import annotations

__all__ = ["ESPEAK_VOICES", "language_name", "normalize_language", "parse_pair"]

_NAMES = {
    "en": "English",
    "pt": "Portuguese",
    "es": "Spanish",
    "ca": "Catalan",
    "fr": "French",
    "gl": "Galician",
    "it": "Italian",
    "de": "German",
    "nl": "Dutch",
    "ro": "Romanian",
    "oc": "Occitan",
    "eo": "Esperanto",
    "ja": "Japanese",
    "zh": "Chinese",
    "ko": "Korean",
    "ru": "Russian",
    "ar": "Arabic",
    "hi": "Hindi",
    "pl": "Polish",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "sv": "Swedish",
    "el": "Greek",
    "cs": "Czech",
}
# ISO 639-3 / 639-2 codes Apertium uses for the languages above
_THREE = {
    "eng": "en",
    "por": "pt",
    "spa": "es",
    "cat": "ca",
    "fra": "fr",
    "fre": "fr",
    "glg": "gl",
    "ita": "it",
    "deu": "de",
    "ger": "de",
    "nld": "nl",
    "ron": "ro",
    "oci": "oc",
    "epo": "eo",
}
_ALIASES = {name.lower(): code for code, name in _NAMES.items()} | {
    "português": "pt",
    "portugues": "pt",
    "brazilian portuguese": "pt",
    "pt-br": "pt",
    "pt_br": "pt",
    "español": "es",
    "espanol": "es",
    "castellano": "es",
    "inglês": "en",
    "ingles": "en",
    "english (us)": "en",
    "en-us": "en",
    "en-gb": "en",
    "français": "fr",
    "francais": "fr",
    "català": "ca",
    "catala": "ca",
}
# espeak-ng voice per language (Brazilian Portuguese: the wearer talks to someone in Brazil)
ESPEAK_VOICES = {
    "en": "en-us",
    "pt": "pt-br",
    "es": "es",
    "ca": "ca",
    "fr": "fr-fr",
    "gl": "gl",
    "it": "it",
    "de": "de",
    "nl": "nl",
    "ro": "ro",
    "eo": "eo",
    "ru": "ru",
    "pl": "pl",
    "tr": "tr",
    "sv": "sv",
    "el": "el",
    "cs": "cs",
    "uk": "uk",
    "hi": "hi",
    "ar": "ar",
    "ja": "ja",
    "zh": "cmn",
    "ko": "ko",
}


def normalize_language(value: str) -> str | None:
    """ "en", "eng", "English", "pt-BR" -> ISO 639-1; None when unknown."""
    key = value.strip().lower().replace("_", "-")
    if key in _NAMES:
        return key
    if key in _THREE:
        return _THREE[key]
    if key in _ALIASES:
        return _ALIASES[key]
    base = key.split("-")[0]
    if base in _NAMES:
        return base
    return _THREE.get(base)


def language_name(code: str) -> str:
    return _NAMES.get(code, code)


def parse_pair(text: str) -> tuple[str, str]:
    """ "en:pt" -> ("en", "pt"). Raises ValueError with a readable message."""
    mine, sep, theirs = text.partition(":")
    if not sep:
        raise ValueError(f"expected two languages as MINE:THEIRS (e.g. en:pt), got {text!r}")
    a, b = normalize_language(mine), normalize_language(theirs)
    if a is None or b is None:
        bad = mine if a is None else theirs
        raise ValueError(f"unknown language {bad.strip()!r} (use codes such as en, pt, es, fr)")
    if a == b:
        raise ValueError(f"the two languages must differ (got {a} twice)")
    return a, b
