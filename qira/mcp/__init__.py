"""MCP both ways: Qira's skills (and read-only memory) as an MCP server, over stdio
(``qira mcp``) and Streamable HTTP (``/mcp`` on the hub's port); and MCP servers from
``[mcp.servers.NAME]`` as skills ``NAME.tool`` under Qira's grants, approvals and
audit. See ``docs/mcp.md``."""

from ._http import McpHttp
from ._server import MEMORY_SEARCH, AgentTools, ToolHost, build_server, memory_search
from ._servers import McpServers, ServerState, ServerStatus
from ._skills import McpToolSkill, risk_of, tool_skill
from ._status import read_status, server_report, write_status
from ._stdio import device_token, hub_url, serve_stdio

__all__ = [
    "MEMORY_SEARCH",
    "AgentTools",
    "McpHttp",
    "McpServers",
    "McpToolSkill",
    "ServerState",
    "ServerStatus",
    "ToolHost",
    "build_server",
    "device_token",
    "hub_url",
    "memory_search",
    "read_status",
    "risk_of",
    "serve_stdio",
    "server_report",
    "tool_skill",
    "write_status",
]
