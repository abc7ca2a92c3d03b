"""A skill developer's loop (issue 12): `qira skill try` without a hub, then `qira skill reload`
makes a running hub use a changed pattern and a newly installed package, with no restart.

The skill packages live in a directory on PYTHONPATH with a ``.dist-info`` carrying the
entry point, exactly what ``pip install`` leaves, without touching the test environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests._devices import DeviceProcess
from tests._hub import HubProcess

QIRA = [sys.executable, "-m", "qira.cli"]

SKILL = """from qira.sdk import SkillContext, skill


@skill(description="Roll dice", examples=["roll some dice", "throw the dice"],
       patterns=[PATTERNS])
async def dice(ctx: SkillContext, count: int = 1, sides: int = 6) -> str:
    return f"rolled {count}d{sides}"


SKILLS = [dice]
"""


def install(site: Path, package: str, skill_source: str) -> None:
    (site / package).mkdir(parents=True, exist_ok=True)
    module = site / package / "__init__.py"
    module.write_text(skill_source)
    stat = module.stat()  # a visibly newer file, even within the filesystem's timestamp granularity
    os.utime(module, (stat.st_atime + 2, stat.st_mtime + 2))
    info = site / f"{package}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[qira.skills]\n{package} = {package}:SKILLS\n")


def test_try_then_reload_without_restarting_the_hub(tmp_path):
    site = tmp_path / "site"
    install(site, "qira_skill_dice", SKILL.replace("PATTERNS", '"roll {count}d{sides}"'))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def qira(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*QIRA, *args, "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=180, env=env
        )

    # Without a hub: which skill and slots, with scores; a slot that does not convert says so in the guide's words.
    tried = qira("skill", "try", "roll 2d20", "--json")
    assert tried.returncode == 0, tried.stderr
    body = json.loads(tried.stdout)
    assert body["runs"] == "dice"
    top = body["candidates"][0]
    assert top["pattern"] == "roll {count}d{sides}" and top["arguments"] == {"count": 2, "sides": 20}
    assert top["skill"] == "dice" and body["decision"] == "act"  # the score is the classifier's probability
    human = qira("skill", "try", "roll twod20")
    assert "by pattern 'roll {count}d{sides}'" in human.stdout
    assert "expected a whole number" in human.stdout and "invalid literal" not in human.stdout
    empty = qira("skill", "try", "  ")
    assert empty.returncode == 2 and "the utterance is empty" in empty.stderr and not empty.stdout

    hub = HubProcess(tmp_path / "data", env={"QIRA_HUB_WARM_UP": "false", "PYTHONPATH": env["PYTHONPATH"]}).start()
    device = None
    try:
        code = json.loads(qira("pair", "--name", "laptop", "--kind", "pc", "--json").stdout)["code"]
        device = DeviceProcess(hub.ws_url, name="laptop", kind="pc", state=tmp_path / "laptop", code=code)
        device.wait(lambda e: e["type"] == "session.ready", timeout=60)

        # A new pattern, and a second package installed while the hub runs.
        install(site, "qira_skill_dice", SKILL.replace("PATTERNS", '"roll {count}d{sides}", "throw {count} dice"'))
        install(
            site,
            "qira_skill_coin",
            SKILL.replace("dice", "coin")
            .replace("Roll dice", "Flip a coin")
            .replace("PATTERNS", '"flip {count} coins"'),
        )
        reloaded = qira("skill", "reload", "--json")
        assert reloaded.returncode == 0, reloaded.stderr
        result = json.loads(reloaded.stdout)
        assert result["added"] == ["coin"] and "qira_skill_dice" in result["reloaded_modules"]

        assert device.ask("throw 3 dice", timeout=120)["text"] == "rolled 3d6"
        assert (
            device.ask("flip 2 coins", timeout=120)["text"] == "rolled 2d6"
        )  # the coin skill answers with the template's words
    finally:
        if device is not None:
            device.close()
        hub.stop()
