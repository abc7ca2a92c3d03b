"""A recording OpenAI-compatible endpoint that answers with the placeholders it was sent.

Every request body is kept (``requests``) so a test can scan all that left the hub.
The answer names each placeholder of the request several times, in several forms and
orders ("<PHONE_1>", "[EMAIL_1]", reversed, repeated), streamed three characters at
a time so that placeholders are split across chunks: the hub must put every value
back exactly.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from tests.inference.servers import Fault, FaultServer, _chunk, _event

__all__ = ["EchoServer", "PLACEHOLDER"]

PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*_\d+)>")


class EchoServer(FaultServer):
    def __init__(self, *, chunk_chars: int = 3) -> None:
        super().__init__(answer="")
        self.chunk_chars = chunk_chars

    @staticmethod
    def answer_for(body: dict[str, Any]) -> str:
        text = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
        names = list(dict.fromkeys(PLACEHOLDER.findall(text)))
        if not names:
            return "A cloud answer."
        forward = " ".join(f"<{n}>" for n in names)
        backward = " ".join(f"[{n}]" for n in reversed(names))
        return f"Noted {forward}. Again, backwards: {backward}; once more {forward.lower()} and {names[0]}."

    async def _respond(self, writer: asyncio.StreamWriter, fault: Fault, body: dict[str, Any]) -> bool:
        if fault is not Fault.OK:
            return await super()._respond(writer, fault, body)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            b"Cache-Control: no-cache\r\n\r\n"
        )
        answer = self.answer_for(body)
        _event(writer, _chunk({"role": "assistant", "content": ""}))
        for i in range(0, len(answer), self.chunk_chars):
            _event(writer, _chunk({"content": answer[i : i + self.chunk_chars]}))
        _event(writer, _chunk({}, finish="stop"))
        _event(writer, "[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    def bodies(self) -> list[str]:
        """Each recorded body as sent (JSON) plus its message texts decoded (escapes undone)."""
        out = []
        for r in self.requests:
            texts = [str(m.get("content") or "") for m in r.body.get("messages", [])]
            texts += [
                c.get("function", {}).get("arguments", "")
                for m in r.body.get("messages", [])
                for c in m.get("tool_calls") or []
            ]
            out.append(json.dumps(r.body, ensure_ascii=False) + "\n" + "\n".join(texts))
        return out
