"""Hand the conversation (or a piece of text) to another of the person's devices."""

from __future__ import annotations

from typing import Annotated

from qira.sdk import DeviceInfo, Permission, SkillContext, skill
from qira.sdk.words import your

_ALIASES = {"computer": "pc", "laptop": "pc", "desktop": "pc", "watch": "wearable", "mobile": "phone", "ipad": "tablet"}


def find_device(devices: list[DeviceInfo], wanted: str) -> DeviceInfo | None:
    wanted = wanted.lower().strip().removeprefix("my ").removeprefix("the ").strip()
    exact = [d for d in devices if d.name.lower() == wanted]
    if exact:
        return exact[0]
    kind = _ALIASES.get(wanted, wanted)
    same_kind = sorted(
        (d for d in devices if d.kind.value == kind), key=lambda d: (not d.online, -(d.last_active or 0))
    )
    if same_kind:
        return same_kind[0]
    partial = [d for d in devices if wanted in d.name.lower()]
    return partial[0] if partial else None


@skill(
    description="Send this conversation, or a text, to another of the person's devices",
    examples=[
        "send this to my tablet",
        "hand this off to my phone",
        "continue on my pc",
        "open this on my laptop",
        "send the recipe to my tablet",
        "move this conversation to my computer",
        "let me pick this up on my phone",
        "switch this chat to my watch",
        "forward this to my tablet",
        "show this on my computer",
        "continue this conversation on my phone",
        "send that answer to my laptop",
        "beam this to my tablet",
        "i want to finish this on my pc",
        "send it over to my watch",
        "transfer this chat to my tablet",
        "carry on with this on my phone",
        "can I continue this on my watch",
        "throw this over to my laptop",
        "send the last reply to my phone",
        "put this conversation on my tablet",
        "pass this to my computer",
        "move this to my other device",
        "send these directions to my phone",
    ],
    patterns=[
        "send this to my {device}",
        "send this to the {device}",
        "send it to my {device}",
        "hand this off to my {device}",
        "hand this over to my {device}",
        "continue on my {device}",
        "open this on my {device}",
        "move this conversation to my {device}",
        "send {text} to my {device}",
        "send this to {device}",
        "send it to {device}",
    ],
    permissions=[Permission.NOTIFY],
    summary="send this to your {device}",
)
async def handoff(
    ctx: SkillContext,
    device: Annotated[str, "the device to send to: a name or tablet, phone, pc, watch"],
    text: Annotated[str, "what to send; empty: the last answer"] = "",
) -> str:
    target = find_device(ctx.devices(), device)
    if target is None:
        return f"I couldn't find your {device}."
    if not text or text.lower() in ("this", "it", "that"):
        last = next((m["content"] for m in reversed(ctx.history) if m["role"] == "assistant" and m["content"]), "")
        text = last or "Continue the conversation here."
    await ctx.notify(
        text, title=f"From your {ctx.device.name}", device=target.id, kind="handoff", data={"thread": ctx.thread}
    )
    state = "" if target.online else " It's offline now; it will get it when it reconnects."
    return f"Sent to {your(target.name)}.{state}"
