"""Where MCP servers stand, for ``qira skill list``: the running hub's view (a status
file it rewrites on every change), or, with no hub, a probe that starts each server once."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import Config
from ..sdk import Skill
from ._servers import McpServers, ServerStatus

__all__ = ["read_status", "server_report", "tool_info", "write_status"]

STATUS_FILE = "mcp/status.json"


def tool_info(s: Skill) -> dict[str, Any]:
    return {"risk": s.risk.value, "declares": sorted(p.value for p in s.permissions), "description": s.description}


def write_status(data_dir: Path, statuses: Sequence[ServerStatus], skills: Mapping[str, Skill]) -> None:
    path = data_dir / STATUS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "pid": os.getpid(),
        "servers": [
            {**s.as_json(), "info": {t: tool_info(skills[t]) for t in s.tools if t in skills}} for s in statuses
        ],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body))
    tmp.replace(path)  # readers never see half a file


def read_status(data_dir: Path) -> list[dict[str, Any]] | None:
    """The running hub's statuses, or None when no hub is running (or it never wrote any)."""
    try:
        body = json.loads((data_dir / STATUS_FILE).read_text())
        os.kill(int(body["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    servers = body.get("servers")
    return servers if isinstance(servers, list) else None


class _Collect:
    def __init__(self) -> None:
        self.skills: dict[str, Skill] = {}

    async def add_skills(self, skills: Sequence[Skill], *, source: str, grants: Sequence[str] = ()) -> list[str]:
        for s in skills:
            self.skills[s.name] = s
        return [s.name for s in skills]

    def remove_skills(self, names: Sequence[str]) -> None:
        for name in names:
            self.skills.pop(name, None)


def server_report(config: Config, data_dir: Path) -> tuple[list[dict[str, Any]], str]:
    """Each configured server's status and tools, and where that view comes from."""
    if not config.mcp.servers:
        return [], "none configured"
    running = read_status(data_dir)
    if running is not None:
        return running, "the running hub"
    return asyncio.run(_probe(config, data_dir)), "a probe (no hub running)"


async def _probe(config: Config, data_dir: Path) -> list[dict[str, Any]]:
    sink = _Collect()
    servers = McpServers(config.mcp.servers, sink, log_dir=data_dir / "mcp" / "logs")
    await servers.start()
    try:
        await servers.wait_settled(max(s.start_timeout_s for s in config.mcp.servers.values()) + 1)
        known = servers.known()
        return [
            {**s.as_json(), "info": {t: tool_info(known[t]) for t in s.tools if t in known}} for s in servers.statuses()
        ]
    finally:
        await servers.stop()
