"""The cloud backend: any OpenAI-compatible ``/v1/chat/completions`` (NIM, vLLM, TGI, llama.cpp).

Retries happen only before the first token reaches the caller: after that a
retry would repeat text the person has already seen, so a mid-stream failure is
raised and the service continues the answer locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..config import CloudConfig
from ..errors import (
    ConfigError,
    EndpointBadResponse,
    EndpointError,
    EndpointRateLimited,
    EndpointUnavailable,
)
from ._breaker import BreakerState, CircuitBreaker
from ._types import ChatRequest, Delta
from ._wire import ChunkParser, request_json

__all__ = ["CloudChatModel", "FirstTokenTimeout", "ProbeResult", "judge_models", "probe_endpoint"]

log = logging.getLogger("qira.inference.cloud")


class _Retryable(EndpointUnavailable):
    """Connect errors and 5xx: the request never reached a model, or the model failed."""


class _StaleConnection(_Retryable):
    """A pooled keep-alive connection the server had already closed (llama.cpp's server
    closes after each stream): retried at once, and not held against the endpoint."""


class CloudChatModel:
    """Streams from the gigafactory endpoint through one ``httpx.AsyncClient``.

    ``transport`` is the test seam, as in httpx. ``api_key`` defaults to the variable
    named by ``config.api_key_env`` (read by :mod:`qira.config`)."""

    name = "cloud"

    def __init__(
        self,
        config: CloudConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        api_key: str | None = None,
        on_breaker_change: Callable[[BreakerState], None] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.breaker = CircuitBreaker(
            failures=config.breaker_failures, reset_s=config.breaker_reset_s, on_change=on_breaker_change
        )
        self._sleep = sleep
        key = api_key if api_key is not None else config.api_key()
        headers = {"Accept": "text/event-stream"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        timeout = httpx.Timeout(
            connect=config.connect_timeout_s,
            read=config.read_timeout_s,
            write=config.read_timeout_s,
            pool=config.connect_timeout_s,
        )
        try:
            self._client = httpx.AsyncClient(
                base_url=config.base_url.rstrip("/") + "/", headers=headers, timeout=timeout, transport=transport
            )
        except httpx.InvalidURL as exc:
            raise ConfigError(f"inference.cloud.base_url: not a valid URL ({exc}): {config.base_url!r}") from exc
        if self._client.base_url.scheme not in ("http", "https"):
            raise ConfigError(
                f"inference.cloud.base_url: must start with http:// or https:// (got {config.base_url!r})"
            )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        body = request_json(request, model=self.config.model or None)
        attempt = 0
        stale_retried = False
        # One deadline for the first token across every attempt: a hanging endpoint must
        # not hold the turn for the read timeout (60 s) before the local model starts.
        first_token_by = time.monotonic() + self.config.first_token_timeout_s
        while True:
            self.breaker.acquire()
            emitted = False
            outcome: bool | None = None
            delay: float | None = None
            try:
                async with contextlib.aclosing(self._attempt(body)) as attempt_stream:
                    async for delta in _first_by(attempt_stream, first_token_by, self.config.first_token_timeout_s):
                        emitted = True
                        yield delta
                outcome = True
            except EndpointError as exc:
                if isinstance(exc, _StaleConnection) and not stale_retried:
                    stale_retried = True  # at once, and only once: a second one is a real failure
                else:
                    outcome = False
                    delay = None if emitted else self._retry_delay(exc, attempt)
                    if delay is None:
                        raise
                    log.info("endpoint attempt %d failed (%s); retrying in %.2fs", attempt + 1, exc, delay)
            finally:
                if outcome is True:
                    self.breaker.record_success()
                elif outcome is False:
                    self.breaker.record_failure()
                else:
                    self.breaker.release()  # cancelled by the caller, or a stale connection
            if outcome:
                return
            if delay is not None:
                if time.monotonic() + delay >= first_token_by:  # the failure is already counted
                    raise EndpointUnavailable(
                        f"no answer from the endpoint within the first-token deadline "
                        f"({self.config.first_token_timeout_s:g}s)"
                    )
                attempt += 1
                await self._sleep(delay)

    def _retry_delay(self, exc: EndpointError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up now."""
        if attempt >= self.config.max_retries:
            return None
        if isinstance(exc, EndpointRateLimited):
            if exc.retry_after is not None:
                # A wait longer than our own backoff cap is better spent answering locally.
                return exc.retry_after if exc.retry_after <= self.config.backoff_max_s else None
        elif not isinstance(exc, _Retryable):
            return None
        ceiling = min(self.config.backoff_max_s, self.config.backoff_base_s * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter: clients that failed together spread out

    async def _attempt(self, body: Mapping[str, Any]) -> AsyncGenerator[Delta, None]:
        answered = False
        try:
            async with self._client.stream("POST", "chat/completions", json=body) as response:
                answered = True
                await _check_response(response)
                parser = ChunkParser()
                async for data in _sse_data(response):
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                        if not isinstance(chunk, dict):
                            raise ValueError("not an object")
                        if "error" in chunk:
                            raise EndpointUnavailable(
                                f"endpoint reported an error mid-stream: {chunk['error']!r}"[:300]
                            )
                        deltas = list(parser.feed(chunk))
                    except (ValueError, TypeError, AttributeError) as exc:
                        raise EndpointBadResponse(f"malformed SSE event from the endpoint: {data[:120]!r}") from exc
                    for delta in deltas:
                        yield delta
                if not parser.finished:
                    raise EndpointUnavailable("the endpoint's stream ended before the answer finished")
                for delta in parser.finish():
                    yield delta
        except httpx.HTTPError as exc:
            if not answered and isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
                raise _StaleConnection(
                    f"the connection to the endpoint broke before an answer: {type(exc).__name__}: {exc}"
                ) from exc
            raise _translate(exc) from exc


class FirstTokenTimeout(EndpointUnavailable):
    """The endpoint sent nothing before the first-token deadline."""


async def _first_by(stream: AsyncIterator[Delta], deadline: float, budget: float) -> AsyncIterator[Delta]:
    """``stream``, failing with :class:`FirstTokenTimeout` if its first delta is not there by ``deadline``."""
    try:
        async with asyncio.timeout_at(asyncio.get_running_loop().time() + max(0.0, deadline - time.monotonic())):
            first = await anext(stream)
    except StopAsyncIteration:
        return
    except TimeoutError as exc:
        raise FirstTokenTimeout(
            f"the endpoint sent no first token within {budget:g}s (inference.cloud.first_token_timeout_s)"
        ) from exc
    yield first
    async for delta in stream:
        yield delta


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    """What ``GET <base_url>/models`` said: ``ok`` only when the configured model is served."""

    ok: bool
    detail: str  # one readable line, with the fix when there is one
    models: tuple[str, ...] = ()


async def probe_endpoint(
    config: CloudConfig, *, transport: httpx.AsyncBaseTransport | None = None, api_key: str | None = None
) -> ProbeResult:
    """Ask the endpoint which models it serves. Never raises for endpoint faults."""
    key = api_key if api_key is not None else config.api_key()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = config.base_url.rstrip("/") + "/models"
    timeout = httpx.Timeout(config.first_token_timeout_s, connect=config.connect_timeout_s)
    try:
        async with httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport) as client:
            response = await client.get(url)
    except httpx.InvalidURL as exc:
        return ProbeResult(ok=False, detail=f"{url}: not a valid URL ({exc}): check inference.cloud.base_url")
    except httpx.TimeoutException as exc:
        return ProbeResult(ok=False, detail=f"{url}: no answer in time ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return ProbeResult(ok=False, detail=f"cannot reach {url}: {type(exc).__name__}: {exc}")
    return judge_models(config, url, response.status_code, response.content, key_set=bool(key))


def judge_models(config: CloudConfig, url: str, status: int, body: bytes, *, key_set: bool) -> ProbeResult:
    """The verdict on a ``/models`` answer (sans-I/O: the status and body in, a readable line out)."""
    if status in (401, 403):
        if not key_set and config.api_key_env:
            return ProbeResult(
                ok=False,
                detail=f"{url}: HTTP {status}: the key variable {config.api_key_env} is not "
                f"set in this environment (export {config.api_key_env}=...)",
            )
        return ProbeResult(
            ok=False,
            detail=f"{url}: HTTP {status}: the endpoint refused the key in {config.api_key_env or 'the configuration'}",
        )
    if status == 404:
        return ProbeResult(
            ok=False, detail=f"{url}: HTTP 404: no /models there; does inference.cloud.base_url end in /v1?"
        )
    if status != 200:
        return ProbeResult(ok=False, detail=f"{url}: HTTP {status}")
    try:
        data = json.loads(body)
        models = tuple(str(m["id"]) for m in data["data"] if isinstance(m, dict) and "id" in m)
    except (ValueError, KeyError, TypeError):
        return ProbeResult(ok=False, detail=f"{url}: not an OpenAI-compatible model list")
    if config.model and config.model not in models:
        served = ", ".join(models[:8]) + (" …" if len(models) > 8 else "") if models else "none"
        return ProbeResult(
            ok=False,
            models=models,
            detail=f"the endpoint does not serve model {config.model!r} (it serves: {served}); "
            "set inference.cloud.model to one of them",
        )
    if not models:
        return ProbeResult(ok=False, detail=f"{url}: the endpoint lists no models")
    model = config.model or f"{models[0]} (no inference.cloud.model set: the endpoint's default)"
    return ProbeResult(ok=True, models=models, detail=f"{config.base_url} serves {model}")


async def _check_response(response: httpx.Response) -> None:
    status = response.status_code
    if status == 200:
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith("text/event-stream"):
            raise EndpointBadResponse(
                f"the endpoint answered with {content_type or 'no content type'}, not an event stream"
            )
        return
    detail = (await response.aread())[:300].decode("utf-8", "replace")
    if status == 429:
        retry_after = _retry_after(response.headers.get("retry-after"))
        raise EndpointRateLimited(f"the endpoint is rate limiting (HTTP 429): {detail}", retry_after=retry_after)
    if status >= 500:
        raise _Retryable(f"the endpoint failed (HTTP {status}): {detail}")
    raise EndpointBadResponse(f"the endpoint refused the request (HTTP {status}): {detail}")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined by newlines)."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
        elif line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
        elif line.startswith(":") or line.partition(":")[0] in ("event", "id", "retry"):
            continue  # comments (keep-alive pings) and fields we do not use
        else:
            raise EndpointBadResponse(f"malformed SSE line from the endpoint: {line[:120]!r}")
    if lines:
        yield "\n".join(lines)


def _translate(exc: httpx.HTTPError) -> EndpointError:
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return _Retryable(f"cannot reach the endpoint: {type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.TimeoutException):
        return EndpointUnavailable(f"the endpoint did not answer in time ({type(exc).__name__})")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return EndpointUnavailable(f"the connection to the endpoint broke: {type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.DecodingError):
        return EndpointBadResponse(f"undecodable answer from the endpoint: {exc}")
    return EndpointError(f"endpoint request failed: {type(exc).__name__}: {exc}")
