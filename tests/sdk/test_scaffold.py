"""``qira skill new`` makes a package whose test passes, which installs with pip and which
``qira skill list`` then finds through its entry point."""

import json
import os
import subprocess
import sys


def run(*args, cwd=None, env=None):
    return subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120)


def test_skill_new_scaffolds_an_installable_package_with_a_passing_test(tmp_path):
    made = run(sys.executable, "-m", "qira.cli", "skill", "new", "weather_now", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    root = tmp_path / "qira-skill-weather-now"
    assert (root / "pyproject.toml").is_file() and (root / "qira_skill_weather_now" / "__init__.py").is_file()

    tests = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root, env={"PYTHONPATH": str(root)})
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout

    site = tmp_path / "site"
    pip = run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--target",
        str(site),
        str(root),
    )
    assert pip.returncode == 0, pip.stderr
    listed = run(
        sys.executable,
        "-m",
        "qira.cli",
        "skill",
        "list",
        "--json",
        "--data-dir",
        str(tmp_path / "data"),
        env={"PYTHONPATH": str(site)},
    )
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = next(r for r in rows if r.get("name") == "weather_now")
    assert mine["source"].startswith("qira-skill-weather-now:") and mine["risk"] == "low"
    assert {r.get("name") for r in rows} >= {"remember", "remind", "translate"}  # first-party ones too

    again = run(sys.executable, "-m", "qira.cli", "skill", "new", "weather_now", "--dir", str(tmp_path))
    assert again.returncode == 1 and "already exists" in again.stderr
