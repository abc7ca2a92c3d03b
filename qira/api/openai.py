"""An OpenAI-compatible API backed by the agent (memory, skills, approvals), so any
OpenAI client can talk to Qira: ``POST /v1/chat/completions`` (streaming and not)
and ``GET /v1/models``. The bearer token is a device token: the request acts as
that device (memory scopes, grants, the audit log).

Each request is one turn in a fresh thread seeded with the messages it carries,
as OpenAI clients resend the whole conversation every time. What is honoured:
``max_tokens`` / ``max_completion_tokens``, ``temperature``, ``stop``, system (and
developer) messages, ``stream`` with ``stream_options.include_usage``. What the agent
cannot do is refused with a 400 rather than ignored: ``n`` > 1, ``tools`` /
``functions``, ``logprobs``, a JSON ``response_format``, an unknown ``model``.

Qira's additions (documented in docs/protocol.md, "OpenAI-compatible API"): a
``qira`` object in the response (and in the last stream chunk) with ``route``,
``fallback`` and, for a paused turn, ``approval``; the headers ``X-Qira-Route`` and
``X-Qira-Fallback`` on a non-streamed answer. A turn that needs the person's approval
answers at once that it is pending; the same request sent again (a client's retry)
gets the same pending approval, never a second one.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..agent import Agent, TurnEvent
from ..devices import DeviceInfo

__all__ = ["MODEL_ID", "Authenticate", "openai_routes"]

MODEL_ID = "qira"
MAX_STOP = 4  # as OpenAI

# token -> the device it belongs to (None: unknown or revoked)
Authenticate = Callable[[str], DeviceInfo | None | Awaitable[DeviceInfo | None]]


class BadRequest(ValueError):
    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass(frozen=True, kw_only=True)
class _Call:
    text: str
    history: list[dict[str, str]]
    stream: bool
    include_usage: bool
    model: str
    options: dict[str, Any]
    key: str  # names the request: retries of it share the approval


def _error(status: int, message: str, type_: str, code: str | None = None, param: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}, status_code=status
    )


def openai_routes(agent: Agent, authenticate: Authenticate) -> list[Route]:
    async def device_of(request: Request) -> DeviceInfo | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        found = authenticate(token.strip())
        if isinstance(found, Awaitable):
            found = await found
        return found

    async def models(request: Request) -> Response:
        if await device_of(request) is None:
            return _error(401, "a device token is required as the bearer", "invalid_request_error", "invalid_api_key")
        return JSONResponse(
            {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "qira"}]}
        )

    async def completions(request: Request) -> Response:
        device = await device_of(request)
        if device is None:
            return _error(401, "a device token is required as the bearer", "invalid_request_error", "invalid_api_key")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON", "invalid_request_error")
        try:
            call = _parse(body, idempotency_key=request.headers.get("idempotency-key"))
        except BadRequest as exc:
            return _error(400, str(exc), "invalid_request_error", exc.code, exc.param)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        events = agent.ask(device, call.text, history=call.history, options=call.options, request_key=call.key)
        if call.stream:
            return StreamingResponse(
                _sse(events, call, completion_id, created),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        answer, last = "", None
        async for event in events:
            if event.kind in ("done", "pending"):
                answer, last = event.text, event
        answer, cut = _cut_at_stop(answer, call.options.get("stop") or ())
        finish = "stop" if cut or last is None else _finish(last)
        extra = _qira(last)
        headers = {"X-Qira-Route": extra["route"]}
        if extra.get("fallback"):
            headers["X-Qira-Fallback"] = _header_safe(extra["fallback"])
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": call.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer, "refusal": None},
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "usage": _usage(call, last, answer),
                "qira": extra,
            },
            headers=headers,
        )

    return [Route("/v1/models", models, methods=["GET"]), Route("/v1/chat/completions", completions, methods=["POST"])]


def _parse(body: Any, *, idempotency_key: str | None = None) -> _Call:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    model = body.get("model", MODEL_ID)
    if not isinstance(model, str) or model != MODEL_ID:
        raise BadRequest(
            f"the model {model!r} does not exist: this server has one model, {MODEL_ID!r}",
            param="model",
            code="model_not_found",
        )
    n = body.get("n")
    if n is not None and n != 1:
        raise BadRequest("n must be 1: Qira gives one answer per request", param="n")
    for name in ("tools", "functions"):
        if body.get(name):
            raise BadRequest(
                f"{name} are not supported: Qira acts through its own skills, not the caller's functions", param=name
            )
    if body.get("logprobs"):
        raise BadRequest("logprobs are not supported", param="logprobs")
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") not in (None, "text"):
        raise BadRequest("only the text response_format is supported", param="response_format")
    options: dict[str, Any] = {}
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest(f"{name} must be a whole number of at least 1", param=name)
        options.setdefault("max_tokens", value)  # max_completion_tokens wins: it is read first
    temperature = body.get("temperature")
    if temperature is not None:
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not 0 <= temperature <= 2
            or math.isnan(temperature)
        ):
            raise BadRequest("temperature must be a number from 0 to 2", param="temperature")
        options["temperature"] = float(temperature)
    stop = body.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops) or len(stops) > MAX_STOP:
            raise BadRequest(f"stop must be a string or a list of up to {MAX_STOP} strings", param="stop")
        if stops:
            options["stop"] = stops
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list", param="messages")
    history: list[dict[str, str]] = []
    system: list[str] = []
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer", "tool"):
            raise BadRequest("each message needs a role: system, developer, user or assistant", param="messages")
        content = m.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if not isinstance(content, str):
            continue
        if m["role"] in ("system", "developer") and content.strip():
            system.append(content.strip())
        elif m["role"] in ("user", "assistant"):
            history.append({"role": m["role"], "content": content})
    if not history or history[-1]["role"] != "user" or not history[-1]["content"].strip():
        raise BadRequest("the last message must be the user's, with text", param="messages")
    if system:
        options["system"] = "\n".join(system)
    stream_options = body.get("stream_options")
    include_usage = bool(isinstance(stream_options, dict) and stream_options.get("include_usage"))
    key = idempotency_key or hashlib.sha256(json.dumps([messages, options], sort_keys=True).encode()).hexdigest()
    return _Call(
        text=history[-1]["content"],
        history=history[:-1],
        stream=bool(body.get("stream")),
        include_usage=include_usage,
        model=model,
        options=options,
        key=key,
    )


def estimate_tokens(text: str) -> int:
    """About four characters a token, as the inference ledger estimates when no model counted."""
    return max(1, len(text) // 4) if text else 0


def _finish(event: TurnEvent) -> str:
    return "length" if event.finish == "length" else "stop"


def _qira(event: TurnEvent | None) -> dict[str, Any]:
    """Qira's own fields: where the answer came from, why the local model stood in, the approval."""
    if event is None:
        return {"route": "local", "fallback": None}
    stood_in = event.fallback or event.degraded  # the local model answered, or finished, for a failed cloud
    out: dict[str, Any] = {"route": event.route, "fallback": (event.reason or "the cloud failed") if stood_in else None}
    if event.kind == "pending" and event.approval:
        out["approval"] = {
            k: event.approval[k] for k in ("approval", "skill", "summary", "risk", "expires_at") if k in event.approval
        }
        out["approval"]["status"] = "pending"
    return out


def _usage(call: _Call, event: TurnEvent | None, answer: str) -> dict[str, int]:
    """The model's own token counts when a model answered; otherwise (a skill answered) the
    text measured the way the ledger estimates it."""
    if event is not None and event.usage is not None:
        prompt, completion = event.usage
    else:
        prompt = estimate_tokens(
            "".join(m["content"] for m in call.history) + call.text + call.options.get("system", "")
        )
        completion = estimate_tokens(answer)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _cut_at_stop(text: str, stops: Any) -> tuple[str, bool]:
    cuts = [text.find(s) for s in stops if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def _header_safe(text: str) -> str:
    return text.encode("ascii", "replace").decode()[:300].replace("\r", " ").replace("\n", " ")


async def _sse(events: AsyncIterator[TurnEvent], call: _Call, completion_id: str, created: int) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": call.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n"

    stops = list(call.options.get("stop") or ())
    hold = max((len(s) for s in stops), default=1) - 1  # a stop may straddle two deltas
    yield chunk({"role": "assistant", "content": ""})
    streamed, sent, buffer, stopped, last = False, "", "", False, None
    async for event in events:
        if event.kind == "delta" and not stopped:
            streamed = True
            buffer += event.text
        elif event.kind in ("done", "pending"):
            last = event
            if not streamed and event.text:
                buffer += event.text  # an answer that only came whole (an error, a pending approval)
        cut, found = _cut_at_stop(buffer, stops)
        if found:
            stopped, buffer = True, cut
        ready = buffer if (found or last is not None) else buffer[: len(buffer) - hold] if hold else buffer
        if ready:
            sent += ready
            buffer = buffer[len(ready) :]
            yield chunk({"content": ready})
    finish = "stop" if stopped or last is None else _finish(last)
    yield chunk({}, finish, qira=_qira(last))
    if call.include_usage:
        usage = _usage(call, last, sent)
        yield (
            "data: "
            + json.dumps(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": call.model,
                    "choices": [],
                    "usage": usage,
                }
            )
            + "\n\n"
        )
    yield "data: [DONE]\n\n"
