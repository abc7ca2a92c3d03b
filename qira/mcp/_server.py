"""Qira as an MCP server: the person's skills as tools, and their memory read-only.

One low-level ``mcp`` :class:`~mcp.server.lowlevel.Server` serves every transport
(stdio for ``qira mcp``, Streamable HTTP at ``/mcp``). What it serves comes from a
:class:`ToolHost`: the agent in the hub or in-process (:class:`AgentTools`), or a
running hub's ``/mcp`` when ``qira mcp`` is a bridge. The caller's device comes from
the transport: the bearer token on HTTP, the token ``qira mcp`` runs with on stdio.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Protocol

from ..devices import DeviceInfo
from ..sdk import Permission, Reply, Risk, Scope, Skill, SkillContext, skill

__all__ = ["MEMORY_SEARCH", "AgentTools", "ToolHost", "build_server", "import_sdk", "memory_search"]

MEMORY_SEARCH = "memory_search"
SERVER_NAME = "qira"
_MEMORY = {Permission.MEMORY_READ, Permission.MEMORY_WRITE}


@skill(
    name=MEMORY_SEARCH,
    permissions=[Permission.MEMORY_READ],
    timeout_s=60.0,  # the first call may load the model
    description="Search the person's memories (facts, preferences, recent context) by meaning and words. "
    "Read-only; private memories are never returned.",
)
async def memory_search(
    ctx: SkillContext,
    query: Annotated[str, "what to look for"],
    k: Annotated[int, "how many memories at most (1-20)"] = 5,
) -> Reply:
    k = min(max(int(k), 1), 20)
    hits = [h for h in await ctx.recall(query, k=k + 8) if h.memory.scope is not Scope.PRIVATE][:k]
    found = [
        {
            "id": h.memory.id,
            "text": h.memory.text,
            "kind": h.memory.kind.value,
            "scope": h.memory.scope.value,
            "score": round(h.score, 4),
        }
        for h in hits
    ]
    text = "\n".join(f"- {m['text']}" for m in found) or f"No memories about {query!r}."
    return Reply(text=text, data={"memories": found})


def import_sdk() -> None:
    """Import the ``mcp`` SDK (seconds on a busy machine): callers run this in a thread."""
    import mcp  # noqa: F401
    import mcp.client.stdio  # noqa: F401
    import mcp.client.streamable_http  # noqa: F401
    import mcp.server.lowlevel  # noqa: F401
    import mcp.server.streamable_http_manager  # noqa: F401


class ToolHost(Protocol):
    """What an MCP server offers to one device."""

    async def list_tools(self, device: DeviceInfo) -> list[dict[str, Any]]: ...
    async def call_tool(self, device: DeviceInfo, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]: ...
    def input_schema(self, name: str) -> Mapping[str, Any] | None: ...


class _Agent(Protocol):  # the parts of qira.agent.Agent used here
    registry: Any

    async def call_skill(
        self, device: DeviceInfo, name: str, arguments: Mapping[str, Any], *, via: str = "direct"
    ) -> Any: ...


def exposed(s: Skill) -> bool:
    """Memory reaches MCP clients only through the read-only search, which drops private
    memories; skills that read or write memory are not offered."""
    return s.name == MEMORY_SEARCH or not (s.permissions & _MEMORY)


def tool_json(s: Skill) -> dict[str, Any]:
    """The MCP ``Tool`` for a skill, with the JSON schema the skill SDK builds."""
    hints = {
        "readOnlyHint": s.risk is Risk.LOW and Permission.MEMORY_WRITE not in s.permissions,
        "destructiveHint": s.risk is Risk.HIGH,
        "openWorldHint": Permission.NETWORK in s.permissions,
    }
    return {"name": s.name, "description": s.description, "inputSchema": s.params_schema(), "annotations": hints}


class AgentTools:
    """The person's skills through the agent: grants, approvals and audit per device."""

    def __init__(self, agent: _Agent, *, via: str = "mcp") -> None:
        self.agent = agent
        self.via = via

    async def list_tools(self, device: DeviceInfo) -> list[dict[str, Any]]:
        return [tool_json(s) for s in sorted(self.agent.registry, key=lambda s: s.name) if exposed(s)]

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        s = self.agent.registry.get(name)
        return s.params_schema() if s is not None and exposed(s) else None

    async def call_tool(self, device: DeviceInfo, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        s = self.agent.registry.get(name)
        if s is None or not exposed(s):
            return _result(f"There is no tool named {name!r}.", error=True)
        step = await self.agent.call_skill(device, s.name, arguments, via=self.via)
        ok = step.outcome.value == "ok"
        return _result(step.text, error=not ok, structured=dict(step.data) if ok and step.data else None)


def _result(text: str, *, error: bool = False, structured: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": error}
    if structured:
        out["structuredContent"] = dict(structured)
    return out


def build_server(host: ToolHost, device_of: Callable[[Any], DeviceInfo | None], *, version: str = "") -> Any:
    """The MCP server over ``host``; ``device_of(ctx)`` names the calling device from the
    request context (None: refuse)."""
    import mcp_types as types
    from mcp.server.lowlevel import Server

    def caller(ctx: Any) -> DeviceInfo:
        device = device_of(ctx)
        if device is None:  # the HTTP front door already refuses; this is the second lock
            from mcp.shared.exceptions import MCPError

            raise MCPError(types.INVALID_REQUEST, "a device token is required")
        return device

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        tools = await host.list_tools(caller(ctx))
        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in tools])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        result = await host.call_tool(caller(ctx), params.name, params.arguments or {})
        return types.CallToolResult.model_validate(result)

    return Server(
        SERVER_NAME,
        version=version,
        title="Qira",
        instructions="The person's Qira skills. High-risk tools wait for the person's approval on "
        "one of their devices; memory is read-only and never includes private memories.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        # the 2026-07-28 HTTP entry checks Mcp-Param headers against this; without it
        # the SDK would list every tool on every call
        get_tool_input_schema=host.input_schema,
    )
