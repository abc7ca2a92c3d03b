"""Skills called directly, outside a conversation (an MCP client's tool calls): the
same grants, timeout, approval and audit as a planner turn's step."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..devices import DeviceInfo
from ._runner import StepResult

if TYPE_CHECKING:
    from ._agent import Agent

__all__ = ["DIRECT_THREAD", "call_directly"]

DIRECT_THREAD = "direct:"  # approvals for skills called directly (an MCP client), not by a planner turn


async def call_directly(
    agent: Agent, device: DeviceInfo, name: str, arguments: Mapping[str, Any], *, via: str = "direct"
) -> StepResult:
    """Run one skill for ``device`` outside a conversation (an MCP client's tool call):
    its grants, timeout and audit as in a turn, and a high-risk skill waits for the
    person's approval on their devices."""
    thread, turn = f"{DIRECT_THREAD}{device.id}", uuid.uuid4().hex[:12]
    call = {"id": f"{via}-1", "skill": name, "arguments": dict(arguments)}
    common: dict[str, Any] = {"device": device, "thread": thread, "turn": turn}
    skill = agent.registry.get(name)
    if skill is None or not skill.risk.needs_approval:
        return await agent.runner.run(call, text=f"({via}) {name}", **common)
    summary = skill.describe(arguments)
    if agent.gateway is None:
        return await agent.runner.refuse(
            call,
            approval="unavailable",
            **common,
            message=(f"Not done: {summary} needs approval on one of your devices, and no hub is running to ask them."),
        )
    approval_id = f"{via}-{turn}"
    waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    agent._waiters[approval_id] = waiter
    try:
        # not pushed to the asking client itself: it is a program, the person approves on their devices
        value = {
            "approval": approval_id,
            "skill": skill.name,
            "risk": skill.risk.value,
            "summary": f"{summary} (asked by {device.name} via {via})",
        }
        await agent._request_approval(thread, turn, value, {})
        status = await waiter
    finally:
        agent._waiters.pop(approval_id, None)
    if status != "approved":
        why = "you declined" if status == "denied" else "nobody approved it in time"
        return await agent.runner.refuse(call, approval=status, message=f"Not done ({why}): {summary}.", **common)
    return await agent.runner.run(call, text=f"({via}) {name}", approval=status, **common)
