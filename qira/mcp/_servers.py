"""MCP servers from ``[mcp.servers.NAME]``, their tools attached as skills ``NAME.tool``.

One supervisor task per server: start it (or connect to its URL), list its tools,
attach them, then ping it now and then. A server that fails to start, exits, hangs
or stops answering has its tools detached and a readable reason in its status,
and is tried again after ``retry_s``; nothing it does reaches the rest of the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from ..config import McpServerConfig
from ..errors import SkillError
from ..sdk import Permission, Skill
from ._skills import ToolOutcome, tool_skill

__all__ = ["McpServers", "ServerState", "ServerStatus", "SkillSink"]

log = logging.getLogger("qira.mcp.servers")

PROBE_EVERY_S = 15.0


class ServerState(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    ERROR = "error"


@dataclass(frozen=True, kw_only=True)
class ServerStatus:
    name: str
    state: ServerState
    reason: str = ""
    tools: tuple[str, ...] = ()  # the skill names attached (ready) or last known (error)
    since: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"server": self.name, "state": self.state.value, "reason": self.reason, "tools": list(self.tools)}


class SkillSink(Protocol):
    """Where the tools go: the agent (``Agent.add_skills`` / ``remove_skills``)."""

    async def add_skills(self, skills: Sequence[Skill], *, source: str, grants: Sequence[str] = ()) -> list[str]: ...
    def remove_skills(self, names: Sequence[str]) -> None: ...


class _Gone(Exception):
    """The server went away; the message says how."""


class McpServers:
    def __init__(
        self,
        servers: Mapping[str, McpServerConfig],
        sink: SkillSink,
        *,
        log_dir: Path,
        on_status: Callable[[ServerStatus], None] | None = None,
    ) -> None:
        self.servers = dict(servers)
        self.sink = sink
        self.log_dir = log_dir
        self.on_status = on_status
        self._status: dict[str, ServerStatus] = {}
        self._clients: dict[str, Any] = {}
        self._kick: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._known: dict[str, Skill] = {}  # every tool skill seen, kept while its server is down (for reports)

    def known(self) -> dict[str, Skill]:
        return dict(self._known)

    def statuses(self) -> list[ServerStatus]:
        return [self._status[n] for n in sorted(self._status)]

    async def start(self) -> None:
        for name, cfg in self.servers.items():
            self._set(name, ServerState.STARTING, "starting")
            self._kick[name] = asyncio.Event()
            task = asyncio.ensure_future(self._supervise(name, cfg))
            task.set_name(f"mcp-server-{name}")
            self._tasks.append(task)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def wait_settled(self, timeout: float) -> None:
        """Until no server is still starting (tests and ``qira mcp`` in-process)."""
        deadline = time.monotonic() + timeout
        while any(s.state is ServerState.STARTING for s in self._status.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    # -- one server ----------------------------------------------------------

    def _set(self, name: str, state: ServerState, reason: str = "", tools: tuple[str, ...] | None = None) -> None:
        previous = self._status.get(name)
        kept = previous.tools if previous is not None and tools is None else (tools or ())
        status = ServerStatus(name=name, state=state, reason=reason, tools=kept, since=time.time())
        self._status[name] = status
        if previous is None or (previous.state, previous.reason) != (state, reason):
            (log.warning if state is ServerState.ERROR else log.info)("MCP server %s %s: %s", name, state.value, reason)
        if self.on_status is not None:
            try:
                self.on_status(status)
            except Exception:  # a status listener must not stop the supervisor
                log.exception("MCP status listener failed")

    async def _supervise(self, name: str, cfg: McpServerConfig) -> None:
        from ._server import import_sdk

        await asyncio.to_thread(import_sdk)  # seconds: not on the event loop
        while True:
            attached: list[str] = []
            try:
                await self._serve_one(name, cfg, attached)
                reason = "closed the connection"
            except _Gone as exc:
                reason = str(exc)
            except Exception as exc:  # whatever the server or the SDK raise: contained here
                reason = _describe(exc, cfg)
            finally:
                self._clients.pop(name, None)
                if attached:
                    self.sink.remove_skills(attached)
            reason = self._with_stderr(name, reason)
            self._set(name, ServerState.ERROR, f"{reason}; its tools are disabled, retrying in {cfg.retry_s:g} s")
            await asyncio.sleep(cfg.retry_s)
            self._set(name, ServerState.STARTING, "restarting")

    async def _serve_one(self, name: str, cfg: McpServerConfig, attached: list[str]) -> None:
        import anyio
        from mcp import Client

        # One cancel scope around the whole connection (the SDK's task groups must nest
        # inside it), with a deadline only until the tools are listed.
        with anyio.CancelScope(deadline=anyio.current_time() + cfg.start_timeout_s) as scope:
            async with contextlib.AsyncExitStack() as stack:
                transport = self._transport(name, cfg, stack)
                client = await stack.enter_async_context(Client(transport, read_timeout_seconds=cfg.timeout_s))
                listing = await _all_tools(client)
                scope.deadline = math.inf
                await self._attach(name, cfg, client, listing, attached)
                kick = self._kick[name]
                while True:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(kick.wait(), PROBE_EVERY_S)
                    kick.clear()
                    try:  # the liveness probe: ping is gone from the 2026-07-28 revision, listing is not
                        with anyio.fail_after(min(cfg.timeout_s, 10.0)):
                            fresh = await _all_tools(client, cache_mode="bypass")
                    except TimeoutError as exc:
                        raise _Gone("stopped answering (listing its tools timed out)") from exc
                    if [t["name"] for t in fresh] != [t["name"] for t in listing]:  # its tools changed
                        self.sink.remove_skills(attached)
                        attached.clear()
                        listing = fresh
                        await self._attach(name, cfg, client, listing, attached)
        if scope.cancelled_caught:
            raise _Gone(f"did not start and list its tools within {cfg.start_timeout_s:g} s (hung?)")

    async def _attach(
        self, name: str, cfg: McpServerConfig, client: Any, listing: list[dict[str, Any]], attached: list[str]
    ) -> None:
        self._clients[name] = client
        skills, skipped = self._skills(name, cfg, listing)
        self._known.update({s.name: s for s in skills})
        try:
            added = await self.sink.add_skills(skills, source=f"mcp:{name}", grants=cfg.grants)
        except ValueError as exc:
            raise _Gone(f"[mcp.servers.{name}] grants: {exc}") from exc
        attached.extend(added)
        clash = sorted({s.name for s in skills} - set(added))
        note = f"; not attached (name taken or disabled): {', '.join(clash)}" if clash else ""
        note += f"; skipped: {'; '.join(skipped)}" if skipped else ""
        self._set(name, ServerState.READY, f"{len(added)} tools{note}", tuple(added))

    def _transport(self, name: str, cfg: McpServerConfig, stack: contextlib.AsyncExitStack) -> Any:
        if cfg.url:
            return cfg.url
        from mcp.client.stdio import StdioServerParameters, stdio_client

        self.log_dir.mkdir(parents=True, exist_ok=True)
        errlog: TextIO = stack.enter_context((self.log_dir / f"{name}.log").open("a", encoding="utf-8"))
        params = StdioServerParameters(command=cfg.command, args=list(cfg.args), env=dict(cfg.env) or None)
        return stdio_client(params, errlog=errlog)

    def _skills(self, name: str, cfg: McpServerConfig, listing: list[dict[str, Any]]) -> tuple[list[Skill], list[str]]:
        perms = cfg.permissions or (["network"] if cfg.url else ["system"])
        declared = frozenset(Permission(p) for p in perms)
        skills: list[Skill] = []
        skipped: list[str] = []
        for tool in listing:
            try:
                skills.append(
                    tool_skill(
                        server=name,
                        tool=tool,
                        call=self._caller(name),
                        permissions=declared,
                        risk=cfg.risk,
                        timeout_s=cfg.timeout_s,
                    )
                )
            except (ValueError, TypeError, KeyError) as exc:
                skipped.append(f"{tool.get('name')!r}: {exc}")
        return skills, skipped

    def _caller(self, name: str) -> Callable[[str, dict[str, Any]], Awaitable[ToolOutcome]]:
        async def call(tool: str, arguments: dict[str, Any]) -> ToolOutcome:
            from mcp.shared.exceptions import MCPError

            client = self._clients.get(name)
            if client is None:
                raise SkillError(f"the MCP server {name!r} is not running: {self._status[name].reason}")
            try:
                result = await client.call_tool(tool, arguments)
            except MCPError as exc:  # a refusal (unknown tool, bad arguments), or the connection closed
                self._kick[name].set()  # either way a cheap look: is the server still there?
                raise SkillError(f"the MCP server {name!r} failed on {tool}: {exc.error.message}") from exc
            except (TimeoutError, asyncio.CancelledError):
                raise
            except Exception as exc:  # the connection broke: have the supervisor look at once
                self._kick[name].set()
                raise SkillError(f"the MCP server {name!r} failed: {_describe(exc, self.servers[name])}") from exc
            return _outcome(result)

        return call

    def _with_stderr(self, name: str, reason: str) -> str:
        """The server's last words on stderr say more than a closed pipe."""
        path = self.log_dir / f"{name}.log"
        try:
            with path.open("rb") as fh:
                fh.seek(max(0, path.stat().st_size - 2000))
                lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        except OSError:
            return reason
        return f"{reason} (stderr: {lines[-1][:200]})" if lines else reason


async def _all_tools(client: Any, cache_mode: str = "use") -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):  # a server paging forever is not trusted further
        page = await client.list_tools(cursor=cursor, cache_mode=cache_mode)
        tools.extend(t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _outcome(result: Any) -> ToolOutcome:
    parts = []
    for block in result.content:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')}]")
    text = "\n".join(parts).strip()
    return ToolOutcome(text=text, structured=result.structured_content, is_error=bool(result.is_error))


def _describe(exc: BaseException, cfg: McpServerConfig) -> str:
    """One line for a failure, however deep the SDK's task groups wrapped it."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"cannot start {cfg.command!r}: command not found"
    if isinstance(exc, OSError) and cfg.command:
        return f"cannot start {cfg.command!r}: {exc.strerror or exc}"
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if any(k in lowered for k in ("closed", "end of stream", "broken", "connection")) or type(exc).__name__ in (
        "ClosedResourceError",
        "EndOfStream",
        "BrokenResourceError",
    ):
        return (
            f"exited or closed the connection ({type(exc).__name__}: {text})"
            if cfg.command
            else f"connection to {cfg.url} failed ({type(exc).__name__}: {text})"
        )
    return f"{type(exc).__name__}: {text}"
