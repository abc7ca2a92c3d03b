"""The local backend as a :class:`ChatModel`: xllamacpp's in-process stream, bridged to asyncio.

``Server.handle_chat_completions`` blocks and calls back on the calling thread
once per chunk (releasing the GIL while it computes), so it runs in a worker
thread and hands chunks to the event loop through ``call_soon_threadsafe``.
Returning ``True`` from the callback is how llama.cpp is told to stop: closing
the async iterator sets a flag the next callback sees.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from ..errors import LocalModelError
from ._local import LocalModel
from ._types import ChatMessage, ChatRequest, Delta, Finish, TextDelta
from ._wire import ChunkParser, request_json

__all__ = ["LocalChatModel", "grammar_json"]

_DONE = object()

# SmolLM2-135M falls into loops ("I like tea. I like tea. ..."): llama.cpp's repetition
# penalty and DRY sampler make a loop unlikely, a length bound makes it short, and
# RepeatGuard stops the stream when a sentence or a run of words comes round again.
SAMPLING = {
    "repeat_penalty": 1.15,
    "repeat_last_n": 128,
    "dry_multiplier": 0.8,
    "dry_base": 1.75,
    "dry_allowed_length": 3,
}
MAX_LOCAL_TOKENS = 512  # the longest answer asked of the local model, whatever the request says


class LocalChatModel:
    """SmolLM2 in-process. Tools in the request are ignored (see ``request_json``)."""

    name = "local"

    def __init__(self, local: LocalModel) -> None:
        self.local = local
        self.active_streams = 0  # worker threads still inside llama.cpp (cancelled ones stop at the next token)
        self._count_lock = threading.Lock()

    async def stream(self, request: ChatRequest, *, continue_from: str = "") -> AsyncGenerator[Delta, None]:
        """Stream an answer. ``continue_from`` is a partial assistant answer (from a cloud
        stream that broke): llama.cpp prefills it and the model carries on from there."""
        extra = (ChatMessage(role="assistant", content=continue_from),) if continue_from else ()
        messages = list(request.messages)
        for _ in range(3):
            bounded = dataclasses.replace(
                request, messages=messages, max_tokens=min(request.max_tokens, MAX_LOCAL_TOKENS)
            )
            body = request_json(bounded, local=True, extra_messages=extra)
            if request.json_schema is None:  # a grammar already constrains structured output
                body.update(SAMPLING)
            guard = RepeatGuard() if request.json_schema is None else None
            try:
                async for delta in self.stream_raw(body):
                    if guard is not None and isinstance(delta, Finish):
                        rest = guard.flush()
                        if rest:
                            yield TextDelta(text=rest)
                    if guard is not None and isinstance(delta, TextDelta):
                        keep = guard.feed(delta.text)
                        if keep:
                            yield TextDelta(text=keep)
                        if guard.looping:
                            yield Finish(reason="stop")  # closing stream_raw stops llama.cpp
                            return
                        continue
                    yield delta
                return
            except _ContextExceeded as exc:
                # The router sends long conversations to the cloud, but privacy can keep one
                # here: the oldest turns are dropped (llama.cpp said by how much) rather than
                # refusing to answer.
                # Half the context at most: a 135M model gains little from a long history and
                # every kept token is prompt processing on the hub's CPU.
                budget = min(exc.n_ctx - request.max_tokens - 32, exc.n_ctx // 2)
                messages = _trim(messages, keep=budget, have=exc.n_prompt)
        raise LocalModelError("the conversation does not fit the local model's context, even trimmed")

    async def stream_raw(self, body: Mapping[str, Any]) -> AsyncGenerator[Delta, None]:
        server = self.local.loaded_server() or await asyncio.to_thread(self.local.load)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            if stop.is_set():
                return True
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            return False

        def work() -> None:
            with self._count_lock:
                self.active_streams += 1
            try:
                server.handle_chat_completions(dict(body, stream=True), on_chunk)
                outcome: Any = _DONE
            except Exception as exc:  # handed to the consumer, translated there
                outcome = exc
            finally:
                with self._count_lock:
                    self.active_streams -= 1
            if not stop.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, outcome)

        worker = loop.run_in_executor(None, work)
        parser = ChunkParser()
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, Exception):
                    raise LocalModelError(f"local model failed: {item}") from item
                if isinstance(item, Mapping) and "error" in item:
                    raise _error(item["error"])
                for delta in parser.feed(item):
                    yield delta
            for delta in parser.finish():
                yield delta
        finally:
            # Closing early (the consumer went away, or cancelled): llama.cpp stops at
            # the next token; the worker thread is not awaited so closing never blocks.
            stop.set()
            worker.add_done_callback(_consume_result)


class RepeatGuard:
    """Watches a streamed answer; ``looping`` turns true when a sentence (or line) comes
    round a second time, or one word repeats on and on. ``feed`` returns the text to pass
    on: a sentence that starts like an earlier one is held back until it differs, so a
    repeat is never shown; ``flush`` returns what is still held at the end."""

    MIN_SENTENCE = 12  # shorter "sentences" ("Yes.", "1.") may honestly repeat
    SAME_WORD_RUN = 6

    def __init__(self) -> None:
        self.looping = False
        self._seen: set[str] = set()
        self._sentence = ""  # the sentence being written
        self._unsent = ""  # its part not passed on yet

    @staticmethod
    def _key(text: str) -> str:
        return " ".join(text.lower().split()).strip(" .!?-*")

    def feed(self, text: str) -> str:
        if self.looping:
            return ""
        out: list[str] = []
        for ch in text:
            self._sentence += ch
            self._unsent += ch
            if ch in ".!?\n" and self._sentence.strip():
                key = self._key(self._sentence)
                if len(key) >= self.MIN_SENTENCE and key in self._seen:
                    self.looping = True
                    return "".join(out)
                self._seen.add(key)
                out.append(self._unsent)
                self._sentence = self._unsent = ""
        words = self._sentence.lower().split()
        if len(words) >= self.SAME_WORD_RUN and len(set(words[-self.SAME_WORD_RUN :])) == 1:
            self.looping = True
            return "".join(out)
        key = self._key(self._sentence)
        if key and any(seen.startswith(key) for seen in self._seen if len(seen) >= self.MIN_SENTENCE):
            return "".join(out)  # could be a repeat in the making: hold it
        cut = self._unsent.rfind(" ")
        if cut >= 0:
            out.append(self._unsent[: cut + 1])
            self._unsent = self._unsent[cut + 1 :]
        return "".join(out)

    def flush(self) -> str:
        rest, self._unsent = ("" if self.looping else self._unsent), ""
        return rest


class _ContextExceeded(LocalModelError):
    def __init__(self, message: str, *, n_prompt: int, n_ctx: int) -> None:
        super().__init__(message)
        self.n_prompt = n_prompt
        self.n_ctx = n_ctx


def _error(error: Any) -> LocalModelError:
    if isinstance(error, Mapping) and error.get("type") == "exceed_context_size_error":
        return _ContextExceeded(
            str(error.get("message")),
            n_prompt=int(error.get("n_prompt_tokens") or 0),
            n_ctx=int(error.get("n_ctx") or 0),
        )
    return LocalModelError(f"local model returned an error: {error!r}"[:500])


def _trim(messages: list[ChatMessage], *, keep: int, have: int) -> list[ChatMessage]:
    """Drop the oldest non-system messages (then the start of the last one) so that about
    ``keep`` of the ``have`` prompt tokens remain."""
    if keep <= 0 or have <= 0:
        raise LocalModelError("the answer asked for does not fit the local model's context")
    budget = int(sum(len(m.content) for m in messages) * keep / have * 0.9)
    system = [m for m in messages if m.role == "system"]
    budget -= sum(len(m.content) for m in system)
    kept: list[ChatMessage] = []
    for message in reversed([m for m in messages if m.role != "system"]):
        if len(message.content) <= budget:
            kept.insert(0, message)
            budget -= len(message.content)
        elif not kept:  # the newest message alone is too long: keep its end
            kept.insert(0, dataclasses.replace(message, content=message.content[-max(budget, 0) :]))
            break
        else:
            break
    return [*system, *kept]


def _consume_result(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def grammar_json(
    model: LocalChatModel,
    messages: Sequence[ChatMessage],
    schema: Mapping[str, Any],
    *,
    max_tokens: int = 256,
    temperature: float = 0.0,
) -> Any:
    """Structured output from the local model, constrained by a grammar built from ``schema``.

    SmolLM2 cannot be trusted to write JSON on its own; llama.cpp compiles the schema
    (with ``additionalProperties: false`` added to every object) into a grammar. The
    output is only complete when the model stopped by itself, so anything else
    (``length``) raises :class:`LocalModelError` rather than returning a fragment."""
    request = ChatRequest(messages=messages, max_tokens=max_tokens, temperature=temperature, json_schema=schema)
    parts: list[str] = []
    reason = ""
    async for delta in model.stream(request):
        if isinstance(delta, TextDelta):
            parts.append(delta.text)
        elif isinstance(delta, Finish):
            reason = delta.reason
    text = "".join(parts)
    if reason != "stop":
        raise LocalModelError(f"structured output incomplete (finish reason {reason or 'none'}): raise max_tokens")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LocalModelError(f"structured output is not valid JSON: {text[:200]!r}") from exc
