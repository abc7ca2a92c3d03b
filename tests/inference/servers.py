"""Endpoints for tests and benchmarks, all on 127.0.0.1.

- :class:`LlamaServer`: a real llama.cpp server (``xllamacpp.Server``) with an API
  key, standing in for the gigafactory endpoint.
- :class:`FaultServer`: a small OpenAI-compatible streaming endpoint of our own that
  misbehaves on request (5xx, 429 + Retry-After, hangs, resets, malformed SSE, wrong
  content type) and records every request body it receives.
- :func:`closed_port` and :class:`Blackhole`: addresses that refuse, or never
  complete, a TCP connect (for connect errors and connect timeouts).

Reusable from other test packages and from ``bench/``: import, start, use ``base_url``.
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
import random
import socket
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Blackhole", "Fault", "FaultServer", "LlamaServer", "RecordedRequest", "closed_port"]


class LlamaServer:
    """``xllamacpp.Server`` with SmolLM2 on 127.0.0.1 (a free port), requiring ``api_key``."""

    def __init__(
        self, *, api_key: str = "test-key", threads: int = 2, parallel: int = 2, context_size: int = 2048
    ) -> None:
        import xllamacpp

        from qira.inference import default_model_path

        params = xllamacpp.CommonParams()
        params.model.path = str(default_model_path())
        params.n_ctx = context_size * parallel
        params.n_parallel = parallel
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = -1
        params.endpoint_metrics = False
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.api_keys = [api_key]
        self.api_key = api_key
        self.server = xllamacpp.Server(params)
        self.url = self.server.listening_address  # http://127.0.0.1:<port>
        self.base_url = self.url + "/v1"

    def close(self) -> None:
        self.server = None


class Fault(enum.StrEnum):
    OK = "ok"
    HTTP_500 = "http-500"
    HTTP_503 = "http-503"
    RATE_LIMIT = "429"  # with Retry-After: FaultServer.retry_after
    BAD_REQUEST = "http-400"
    HANG = "hang"  # accept the request, never answer (read timeout)
    HANG_MID = "hang-mid"  # send a few tokens, then go silent
    RESET = "reset"  # reset the connection before answering
    RESET_MID = "reset-mid"  # reset after a few tokens
    MALFORMED = "malformed"  # an SSE event that is not JSON, after a few tokens
    WRONG_TYPE = "wrong-type"  # 200 with text/html
    TRUNCATED = "truncated"  # a clean end of stream with no finish_reason and no [DONE]


TRANSIENT_FAULTS = (
    Fault.HTTP_500,
    Fault.HTTP_503,
    Fault.RATE_LIMIT,
    Fault.RESET,
    Fault.RESET_MID,
    Fault.MALFORMED,
    Fault.TRUNCATED,
)


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    fault: Fault
    at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        """Everything the request carried, as sent (for "did this string leave?" checks)."""
        return json.dumps(self.body, ensure_ascii=False)


class FaultServer:
    """A streaming ``/v1/chat/completions`` on 127.0.0.1:<free port>, in its own thread.

    Faults come from ``script()`` (one per request, in order) and then, if set, from
    ``fault_rate`` (random, seeded); otherwise requests are answered with ``answer``
    split into word tokens, ``token_delay_s`` apart."""

    def __init__(
        self,
        *,
        answer: str = "Paris is the capital of France.",
        token_delay_s: float = 0.0,
        retry_after: float = 0.2,
        fault_rate: float = 0.0,
        faults: Iterable[Fault] = TRANSIENT_FAULTS,
        seed: int = 7,
        hang_s: float = 30.0,
    ) -> None:
        self.answer = answer
        self.token_delay_s = token_delay_s
        self.retry_after = retry_after
        self.fault_rate = fault_rate
        self.random_faults = tuple(faults)
        self.hang_s = hang_s
        self.models: tuple[str, ...] = ("test",)  # what GET /v1/models lists (issue 12's probe)
        self.requests: list[RecordedRequest] = []
        self._script: list[Fault] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-server", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FaultServer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *faults: Fault) -> None:
        with self._lock:
            self._script.extend(faults)

    def reset(self) -> None:
        """Forget the script and the recorded requests."""
        with self._lock:
            self._script.clear()
            self.requests.clear()

    def _next_fault(self) -> Fault:
        with self._lock:
            if self._script:
                return self._script.pop(0)
            if self.fault_rate and self._rng.random() < self.fault_rate:
                return self._rng.choice(self.random_faults)
            return Fault.OK

    # -- HTTP/1.1, by hand, so that every byte (and every reset) is ours to choose ----------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                _method, path, _version = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body_bytes = await reader.readexactly(int(headers.get("content-length", "0")))
                body = json.loads(body_bytes or b"{}")
                if _method == "GET" and path.endswith("/models"):  # the probe; it never takes a scripted fault
                    listing = {"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]}
                    await _plain(writer, "200 OK", json.dumps(listing).encode(), "application/json")
                    continue
                fault = self._next_fault()
                self.requests.append(RecordedRequest(path=path, headers=headers, body=body, fault=fault))
                if not await self._respond(writer, fault, body):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping
        finally:
            if not writer.is_closing():
                writer.close()

    async def _respond(self, writer: asyncio.StreamWriter, fault: Fault, body: dict[str, Any]) -> bool:
        """Answer one request; returns whether the connection can be reused."""
        if fault in (Fault.HTTP_500, Fault.HTTP_503, Fault.BAD_REQUEST):
            status = {
                Fault.HTTP_500: "500 Internal Server Error",
                Fault.HTTP_503: "503 Service Unavailable",
                Fault.BAD_REQUEST: "400 Bad Request",
            }[fault]
            await _plain(writer, status, b'{"error": {"message": "injected fault"}}', "application/json")
            return True
        if fault is Fault.RATE_LIMIT:
            await _plain(
                writer,
                "429 Too Many Requests",
                b'{"error": "slow down"}',
                "application/json",
                {"Retry-After": f"{self.retry_after:g}"},
            )
            return True
        if fault is Fault.WRONG_TYPE:
            await _plain(writer, "200 OK", b"<html>login required</html>", "text/html")
            return True
        if fault is Fault.HANG:
            await asyncio.sleep(self.hang_s)
            return False
        if fault is Fault.RESET:
            _reset(writer)
            return False

        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n"
        )
        tokens = _tokens(self.answer)
        limit = int(body.get("max_tokens") or len(tokens))
        broken_at = 2 if fault in (Fault.HANG_MID, Fault.RESET_MID, Fault.MALFORMED, Fault.TRUNCATED) else None
        sent = 0
        _event(writer, _chunk({"role": "assistant", "content": ""}))
        for token in tokens[:limit]:
            if broken_at is not None and sent == broken_at:
                break
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            _event(writer, _chunk({"content": token}))
            sent += 1
            await writer.drain()
        if fault is Fault.HANG_MID:
            await asyncio.sleep(self.hang_s)
            return False
        if fault is Fault.RESET_MID:
            await writer.drain()
            _reset(writer)
            return False
        if fault is Fault.MALFORMED:
            _event(writer, '{"choices": [{"delta": {"content": "oops"')
        elif fault is Fault.TRUNCATED:
            pass
        else:
            reason = "length" if limit < len(tokens) else "stop"
            _event(writer, _chunk({}, finish=reason))
            if (body.get("stream_options") or {}).get("include_usage"):
                prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
                _event(
                    writer,
                    json.dumps(
                        {
                            "object": "chat.completion.chunk",
                            "choices": [],
                            "usage": {"prompt_tokens": prompt, "completion_tokens": sent},
                        }
                    ),
                )
            _event(writer, "[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


def _tokens(answer: str) -> list[str]:
    words = answer.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-fault",
            "object": "chat.completion.chunk",
            "model": "fault",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def _event(writer: asyncio.StreamWriter, data: str) -> None:
    payload = f"data: {data}\n\n".encode()
    writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")


async def _plain(
    writer: asyncio.StreamWriter, status: str, body: bytes, content_type: str, extra: dict[str, str] | None = None
) -> None:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (extra or {}).items())
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER 0: close() sends RST instead of FIN, a real "connection reset by peer".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connect is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Blackhole:
    """A listener whose accept queue is full, so new connects hang until they time out."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self._fillers: list[socket.socket] = []
        for _ in range(4):  # the kernel accepts backlog+1 before dropping SYNs
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self._fillers.append(filler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self.sock.close()


def pid_threads() -> int:
    """Threads of this process (to check cancelled local streams do not leak workers)."""
    return len(os.listdir(f"/proc/{os.getpid()}/task"))
