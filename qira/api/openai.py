"""An OpenAI-compatible API backed by the agent (memory, skills, approvals), so any
OpenAI client can talk to Qira: ``POST /v1/chat/completions`` (streaming and not)
and ``GET /v1/models``. The bearer token is a device token: the request acts as
that device (memory scopes, grants, the audit log).

Each request is one turn in a fresh thread seeded with the messages it carries,
as OpenAI clients resend the whole conversation every time.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..agent import Agent
from ..devices import DeviceInfo

__all__ = ["MODEL_ID", "Authenticate", "openai_routes"]

MODEL_ID = "qira"

# token -> the device it belongs to (None: unknown or revoked)
Authenticate = Callable[[str], DeviceInfo | None | Awaitable[DeviceInfo | None]]


def _error(status: int, message: str, type_: str, code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": type_, "param": None, "code": code}}, status_code=status)


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
        return JSONResponse({"object": "list", "data": [
            {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "qira"}]})

    async def completions(request: Request) -> Response:
        device = await device_of(request)
        if device is None:
            return _error(401, "a device token is required as the bearer", "invalid_request_error", "invalid_api_key")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON", "invalid_request_error")
        parsed = _parse(body)
        if isinstance(parsed, str):
            return _error(400, parsed, "invalid_request_error")
        text, history, stream, model = parsed
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        events = agent.ask(device, text, history=history)
        if stream:
            return StreamingResponse(_sse(events, completion_id, created, model), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        answer = ""
        async for event in events:
            if event.kind == "done":
                answer = event.text
        return JSONResponse({
            "id": completion_id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        })

    return [Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", completions, methods=["POST"])]


def _parse(body: Any) -> tuple[str, list[dict[str, str]], bool, str] | str:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    history: list[dict[str, str]] = []
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer", "tool"):
            return "each message needs a role: system, user or assistant"
        content = m.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if m["role"] in ("user", "assistant") and isinstance(content, str):
            history.append({"role": m["role"], "content": content})
    if not history or history[-1]["role"] != "user" or not history[-1]["content"].strip():
        return "the last message must be the user's, with text"
    model = body.get("model") if isinstance(body.get("model"), str) else MODEL_ID
    return history[-1]["content"], history[:-1], bool(body.get("stream")), model


async def _sse(events: AsyncIterator[Any], completion_id: str, created: int, model: str) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    streamed = False
    async for event in events:
        if event.kind == "delta":
            streamed = True
            yield chunk({"content": event.text})
        elif event.kind == "done" and not streamed and event.text:
            yield chunk({"content": event.text})  # an answer that only came whole (an error, say)
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"
