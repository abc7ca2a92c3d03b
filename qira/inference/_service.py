"""The inference service: routes each request, streams the answer, falls back, counts tokens."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

import httpx

from ..config import InferenceConfig
from ..devices import DeviceKind
from ..errors import CircuitOpen, EndpointError, LocalModelError
from ..privacy import Restorer
from ._breaker import BreakerState
from ._budget import TokenLedger
from ._cloud import CloudChatModel
from ._local import LocalModel
from ._local_chat import LocalChatModel
from ._router import NO_CLOUD, CloudStatus, Router
from ._types import ChatRequest, Delta, Finish, RouteDecision, Target, TextDelta, ToolCall, ToolCallDelta, Usage
from ._wire import estimate_tokens

__all__ = ["InferenceService", "Turn"]

log = logging.getLogger("qira.inference")


class Turn:
    """One answer being streamed: ``async for delta in turn``. The last delta is a
    :class:`Finish`. ``decision`` says where it was routed and why; ``fallback`` says
    why it ended up elsewhere, if it did. ``aclose()`` (or leaving ``async with``) cancels."""

    def __init__(self, decision: RouteDecision, run: Callable[[Turn], AsyncGenerator[Delta, None]]) -> None:
        self.decision = decision
        self.answered_by: Target = decision.target
        self.fallback: str | None = None
        self._stream = run(self)

    def __aiter__(self) -> Turn:
        return self

    async def __anext__(self) -> Delta:
        return await self._stream.__anext__()

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> Turn:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def text(self) -> str:
        """Drain the turn and return the whole answer text."""
        return "".join([d.text async for d in self if isinstance(d, TextDelta)])


class InferenceService:
    """Owns both backends, the router and the usage ledger. One per hub."""

    def __init__(
        self,
        config: InferenceConfig,
        *,
        local: LocalModel,
        data_dir: Path,
        transport: httpx.AsyncBaseTransport | None = None,
        on_cloud_state: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.config = config
        self.local = LocalChatModel(local)
        self.cloud: CloudChatModel | None = None
        if config.cloud.base_url:
            self.cloud = CloudChatModel(config.cloud, transport, on_breaker_change=on_cloud_state)
        self.router = Router(config)
        self.ledger = TokenLedger(data_dir / "inference.db", daily_budget=config.daily_token_budget)
        self._pending: set[asyncio.Task[Any]] = set()

    def cloud_status(self) -> CloudStatus:
        if self.cloud is None:
            return NO_CLOUD
        breaker = self.cloud.breaker
        return CloudStatus(
            configured=True,
            breaker=breaker.state,
            breaker_available=breaker.available(),
            retry_in_s=breaker.retry_in(),
            tokens_left=self.ledger.cloud_tokens_left(),
        )

    def route(self, request: ChatRequest, *, device_kind: DeviceKind | None = None) -> RouteDecision:
        return self.router.decide(request, cloud=self.cloud_status(), device_kind=device_kind)

    def chat(self, request: ChatRequest, *, device_kind: DeviceKind | None = None) -> Turn:
        decision = self.route(request, device_kind=device_kind)
        # What the endpoint may see: memories that may not leave taken out, personal data
        # replaced by placeholders (redact mode); the local model always gets the request itself.
        outgoing = decision.cloud_request or request
        if decision.max_tokens is not None:
            request = dataclasses.replace(request, max_tokens=decision.max_tokens)
            outgoing = dataclasses.replace(outgoing, max_tokens=decision.max_tokens)
        return Turn(decision, lambda turn: self._run(turn, request, outgoing))

    async def _run(self, turn: Turn, request: ChatRequest, outgoing: ChatRequest) -> AsyncGenerator[Delta, None]:
        if turn.decision.target is Target.CLOUD and self.cloud is not None:
            partial: list[str] = []
            try:
                async with contextlib.aclosing(self._cloud_stream(outgoing, partial, turn.decision)) as stream:
                    async for delta in stream:
                        yield delta
                return
            except (EndpointError, CircuitOpen) as exc:
                text = "".join(partial)
                if text:
                    self._record(Target.CLOUD, request, text, None)  # the endpoint billed what it sent
                turn.answered_by = Target.LOCAL
                where = "in the middle of the answer" if text else "before answering"
                turn.fallback = f"the gigafactory endpoint failed {where} ({exc}); the local model answered"
                log.warning("cloud failed %s, continuing locally: %s", where, exc)
            async with contextlib.aclosing(self._local_stream(request, continue_from=text)) as stream:
                async for delta in stream:
                    if isinstance(delta, Finish) and text:
                        delta = Finish(reason=delta.reason, degraded=True)
                    yield delta
            return
        emitted = False
        try:
            async with contextlib.aclosing(self._local_stream(request)) as stream:
                async for delta in stream:
                    emitted = True
                    yield delta
        except LocalModelError as exc:
            if emitted or not turn.decision.cloud_allowed or self.cloud is None or not self.cloud.breaker.available():
                raise
            # Only a request the router would have let out anyway (no personal data, no
            # local-only policy) goes to the cloud when the local model is broken.
            turn.answered_by = Target.CLOUD
            turn.fallback = f"the local model failed ({exc}); the gigafactory endpoint answered"
            log.warning("local model failed, answering from the cloud: %s", exc)
            async with contextlib.aclosing(self._cloud_stream(outgoing, [], turn.decision)) as stream:
                async for delta in stream:
                    yield delta

    def _cloud_stream(
        self, request: ChatRequest, completion: list[str], decision: RouteDecision
    ) -> AsyncGenerator[Delta, None]:
        """The cloud answer, with redacted values put back; its text is collected in
        ``completion`` (the caller needs the partial answer if the stream breaks)."""
        assert self.cloud is not None
        stream = self.cloud.stream(request)
        if decision.redaction is not None:
            stream = _restored(stream, decision.redaction.restorer(), completion)
        return self._with_usage(Target.CLOUD, request, stream, completion)

    def _local_stream(self, request: ChatRequest, *, continue_from: str = "") -> AsyncGenerator[Delta, None]:
        return self._with_usage(Target.LOCAL, request, self.local.stream(request, continue_from=continue_from), [])

    async def _with_usage(
        self, target: Target, request: ChatRequest, stream: AsyncGenerator[Delta, None], completion: list[str]
    ) -> AsyncGenerator[Delta, None]:
        """Pass a backend's deltas through, recording its usage when it finishes."""
        usage: Usage | None = None
        async with contextlib.aclosing(stream):
            async for delta in stream:
                if isinstance(delta, TextDelta):
                    completion.append(delta.text)
                elif isinstance(delta, Usage):
                    usage = delta
                elif isinstance(delta, Finish):
                    self._record(target, request, "".join(completion), usage)
                yield delta

    def _record(self, target: Target, request: ChatRequest, completion: str, usage: Usage | None) -> None:
        if usage is None:
            prompt = estimate_tokens("".join(m.content for m in request.messages))
            usage = Usage(prompt_tokens=prompt, completion_tokens=estimate_tokens(completion))
        task = asyncio.ensure_future(
            asyncio.to_thread(self.ledger.record, target, usage.prompt_tokens, usage.completion_tokens)
        )
        self._pending.add(task)
        task.add_done_callback(self._recorded)

    def _recorded(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("could not record token usage: %s", task.exception())

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self.cloud is not None:
            await self.cloud.aclose()
        await asyncio.to_thread(self.ledger.close)


async def _restored(
    stream: AsyncGenerator[Delta, None], restorer: Restorer, completion: list[str]
) -> AsyncGenerator[Delta, None]:
    """Put redacted values back into the cloud's answer before anything else sees it. Text
    that may be the start of a placeholder waits for the next chunk; if the stream breaks,
    what was held back is added to ``completion`` so the local model continues after it."""
    async with contextlib.aclosing(stream):
        try:
            async for delta in stream:
                if isinstance(delta, TextDelta):
                    text = restorer.feed(delta.text)
                    if text:
                        yield TextDelta(text=text)
                    continue
                if isinstance(delta, Finish):
                    rest = restorer.flush()
                    if rest:
                        yield TextDelta(text=rest)
                elif isinstance(delta, ToolCallDelta):
                    call = delta.call
                    delta = ToolCallDelta(
                        call=ToolCall(
                            id=call.id, name=call.name, arguments=restorer.restore(call.arguments, json_string=True)
                        )
                    )
                yield delta
        except BaseException:
            completion.append(restorer.flush())
            raise
