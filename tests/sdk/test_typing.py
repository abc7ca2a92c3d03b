"""The public SDK stays typed for skill authors: a skill written the way the guide shows
passes ``mypy --strict``, and one that misuses the SDK is caught (``py.typed`` is true)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import qira

GOOD = textwrap.dedent("""
    from __future__ import annotations

    from typing import Annotated, Literal

    from qira.sdk import Permission, Risk, SkillContext, skill


    async def fetch_forecast(city: str, day: str) -> str:
        return "sunny"


    @skill(
        description="Tell the weather forecast for a city",
        examples=["what's the weather in Lisbon", "forecast for Faro"],
        patterns=["what's the weather in {city}", "forecast for {city}"],
        permissions=[Permission.NETWORK],
        risk=Risk.LOW,
        timeout_s=8,
    )
    async def weather(
        ctx: SkillContext,
        city: Annotated[str, "the city"],
        day: Literal["today", "tomorrow"] = "today",
    ) -> str:
        forecast = await fetch_forecast(city, day)
        seen = await ctx.get("seen", 0)
        await ctx.put("seen", seen + 1)
        return f"{day.capitalize()} in {city}: {forecast} (asked from {ctx.device.name})"


    SKILLS = [weather]
""")

# The same skill with two mistakes a checker must see through the SDK's annotations.
BAD = GOOD.replace("timeout_s=8", 'timeout_s="8 seconds"').replace("ctx.device.name", "ctx.device.nickname")

# Only Qira is followed: third-party packages are skipped, which keeps the check to seconds.
CONFIG = """
[mypy]
strict = True
follow_imports = skip
[mypy-qira.*]
follow_imports = silent
"""


def mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "my_skill.py").write_text(source)
    (tmp_path / "mypy.ini").write_text(CONFIG)
    # The editable install's import hook is invisible to type checkers, so point mypy at
    # the directory the running ``qira`` package was imported from (site-packages for a wheel).
    root = Path(qira.__file__).resolve().parent.parent
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "my_skill.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        env={**os.environ, "MYPYPATH": str(root)},
    )


def test_a_skill_written_as_the_guide_shows_type_checks_strictly(tmp_path):
    result = mypy(tmp_path, GOOD)
    assert result.returncode == 0, result.stdout + result.stderr


def test_misusing_the_sdk_is_a_type_error(tmp_path):
    result = mypy(tmp_path, BAD)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"DeviceInfo" has no attribute "nickname"' in result.stdout
    assert '"timeout_s" to "skill" has incompatible type "str"' in result.stdout
