"""How the hub's machine (usually the PC) is doing."""

from __future__ import annotations

from qira.sdk import Permission, SkillContext, skill


@skill(
    description="Report system information about the computer: CPU, memory, disk, uptime",
    examples=[
        "how is my computer doing",
        "system info",
        "how much memory is free on my pc",
        "how much disk space is left",
        "what's the cpu load",
        "what's the uptime of my computer",
        "show system information",
        "how much ram is free",
        "is my disk almost full",
        "how hard is my processor working",
        "how long has the computer been running",
        "check the health of this computer",
        "what's the memory usage on the hub",
        "is the machine overloaded",
        "storage left on my pc",
        "how busy is the cpu",
        "what's the disk usage",
        "how long since the last reboot",
        "is the hub running out of memory",
        "computer stats",
        "how much storage is free",
        "processor load",
    ],
    patterns=["system info", "system information", "show system info", "show system information", "system status"],
    read_only=True,
    permissions=[Permission.SYSTEM],
)
async def system_info(ctx: SkillContext) -> str:
    info = ctx.system_info()
    parts = [f"{info.get('hostname', 'this machine')} runs {info.get('os', '?')} on {info.get('cpu_count', '?')} CPUs"]
    if info.get("load_1m") is not None:
        parts.append(f"load {info['load_1m']}")
    if info.get("memory_total_mb"):
        parts.append(f"{info['memory_available_mb']} of {info['memory_total_mb']} MB memory free")
    if info.get("disk_free_gb") is not None:
        parts.append(f"{info['disk_free_gb']} of {info['disk_total_gb']} GB disk free")
    if info.get("uptime_s"):
        hours, rest = divmod(int(info["uptime_s"]), 3600)
        parts.append(f"up {hours} h {rest // 60} min")
    return "; ".join(parts) + "."
