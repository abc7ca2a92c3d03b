"""An MCP server's tool as a Qira skill named ``SERVER.tool``.

The skill is a plain :class:`qira.sdk.Skill` (a subclass that keeps the tool's own
JSON schema), so the registry, the planner, grants, approvals, timeouts and the
audit log treat it like any other. Sans-I/O: calling the tool goes through a
:data:`CallTool` the connection supplies.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import SkillError
from ..sdk import InvalidArguments, Param, Permission, Reply, Risk, Skill, SkillContext

__all__ = ["CallTool", "McpToolSkill", "ToolOutcome", "risk_of", "tool_skill"]

_SKILL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}\.[A-Za-z0-9_.-]{1,128}$")
_TOOL_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]")
_JSON_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}


@dataclass(frozen=True, kw_only=True)
class ToolOutcome:
    """What a tool call gave back, in Qira's terms."""

    text: str
    structured: Any = None
    is_error: bool = False


CallTool = Callable[[str, dict[str, Any]], Awaitable[ToolOutcome]]  # (tool name, arguments) -> outcome


@dataclass(frozen=True, kw_only=True)
class _JsonParam(Param):
    """A parameter described by JSON schema rather than a Python type hint."""

    json_type: str = ""

    def coerce(self, value: Any) -> Any:
        # Light conversion of slot text to the declared scalar type; the server validates the rest.
        target = _JSON_TYPES.get(self.json_type)
        if target is None or isinstance(value, target) and not (target is int and isinstance(value, bool)):
            return value
        try:
            if target is bool:
                text = str(value).strip().lower()
                if text in ("true", "yes", "on", "1"):
                    return True
                if text in ("false", "no", "off", "0"):
                    return False
                raise ValueError("expected yes or no")
            if target is str:
                if isinstance(value, (dict, list)):
                    raise ValueError("expected text")
                return str(value).strip()
            return target(value)
        except (TypeError, ValueError) as exc:
            raise InvalidArguments(f"parameter {self.name!r}: {exc} (got {value!r})") from exc


@dataclass(frozen=True, kw_only=True)
class McpToolSkill(Skill):
    """A skill backed by a tool of an MCP server."""

    server: str = ""
    tool: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _SKILL_NAME.match(self.name):
            raise ValueError(f"MCP tool skill name {self.name!r}: SERVER.tool expected")
        if not self.description.strip():
            raise ValueError(f"skill {self.name}: a description is required")

    @property
    def tool_name(self) -> str:
        """The name a model calls it by: OpenAI function names allow no dots."""
        return _TOOL_NAME_BAD.sub("_", f"{self.server}__{self.tool}")[:64]

    def params_schema(self) -> dict[str, Any]:
        return dict(self.input_schema)

    def tool_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.tool_name, "description": self.description, "parameters": self.params_schema()},
        }


def risk_of(annotations: Mapping[str, Any] | None, override: str = "") -> Risk:
    """A risk level from the tool's annotations (hints from a third party, so the benefit of
    the doubt goes to safety): read-only is low, non-destructive writes medium, the rest high."""
    if override:
        return Risk(override)
    hints = annotations or {}
    if hints.get("readOnlyHint") is True:
        return Risk.LOW
    if hints.get("destructiveHint") is False:
        return Risk.MEDIUM
    return Risk.HIGH


def tool_skill(
    *,
    server: str,
    tool: Mapping[str, Any],
    call: CallTool,
    permissions: frozenset[Permission],
    risk: str = "",
    timeout_s: float | None = None,
) -> McpToolSkill:
    """Build the skill for one tool (``tool`` is the MCP ``Tool`` as wire JSON)."""
    name = str(tool["name"])
    schema = dict(tool.get("inputSchema") or {"type": "object", "properties": {}})
    schema.setdefault("type", "object")
    annotations = tool.get("annotations") or {}
    title = str(tool.get("title") or annotations.get("title") or "")
    description = " ".join(str(tool.get("description") or title or name.replace("_", " ")).split())
    required = set(schema.get("required") or [])
    params = tuple(
        _JsonParam(
            name=pname,
            annotation=Any,
            schema=dict(pschema) if isinstance(pschema, Mapping) else {},
            required=pname in required,
            description=str((pschema or {}).get("description", "")),
            json_type=str((pschema or {}).get("type", "")) if isinstance(pschema, Mapping) else "",
        )
        for pname, pschema in (schema.get("properties") or {}).items()
    )
    declared = frozenset(permissions)

    async def handler(ctx: SkillContext, **arguments: Any) -> Reply:
        for permission in sorted(declared):
            ctx.require(permission, f"use the MCP server {server!r}")
        sent = {k: v for k, v in arguments.items() if v is not None}
        outcome = await call(name, sent)
        if outcome.is_error:
            raise SkillError(f"{server}.{name} answered with an error: {outcome.text or 'no details'}")
        data = {"structured": outcome.structured} if outcome.structured is not None else {}
        return Reply(text=outcome.text or "Done.", data=data)

    handler.__module__ = f"mcp.{server}"  # its storage namespace, per server
    first_sentence = description.split(". ")[0]
    examples = tuple(dict.fromkeys(e for e in (first_sentence, title, name.replace("_", " ").replace("-", " ")) if e))
    return McpToolSkill(
        name=f"{server}.{name}",
        description=description[:1000],
        handler=handler,
        examples=examples,
        params=params,
        permissions=declared,
        risk=risk_of(annotations, risk),
        timeout_s=timeout_s,
        server=server,
        tool=name,
        input_schema=schema,
    )
