"""``qira skill list`` (skills, permissions, grants) and ``qira skill new NAME`` (a
pip-installable skill package with a passing test)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from ..agent import SkillRegistry
from ..errors import QiraError
from ._common import add_config_options, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("skill", help="list installed skills, or scaffold a new one")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    lister = actions.add_parser("list", help="skills, their permissions and what the config grants")
    add_config_options(lister)
    lister.add_argument("--json", action="store_true", help="one JSON object per skill")
    lister.set_defaults(func=run_list)
    new = actions.add_parser("new", help="create a pip-installable skill package with a passing test")
    new.add_argument("name", help="the skill's name: lowercase letters, digits and _")
    new.add_argument("--dir", default=".", help="where to create qira-skill-NAME/ (default: here)")
    new.set_defaults(func=run_new)


def run_list(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    registry = SkillRegistry.from_entry_points(config.skills)
    rows = []
    for s in sorted(registry, key=lambda s: s.name):
        rules = config.skills.grants.get(s.name, [])
        rows.append({"name": s.name, "risk": s.risk.value, "declares": sorted(p.value for p in s.permissions),
                     "granted": sorted(p.value for p in registry.granted(s)), "grant_rules": list(rules),
                     "approval": s.risk.needs_approval, "source": registry.sources.get(s.name, ""),
                     "description": s.description})
    servers, tools = _mcp_rows(config, registry)  # issue 16: MCP servers' tools and why any are disabled
    rows += tools
    if args.json:
        for row in rows:
            print(json.dumps(row))
        for server in servers:
            print(json.dumps(server))
        for name in registry.disabled:
            print(json.dumps({"name": name, "disabled": True}))
        for p in registry.problems:
            print(json.dumps({"problem": p.entry_point, "error": p.error}))
        return 0
    for row in rows:
        granted = ",".join(row["granted"]) or "-"
        extra = f"  rules: {' '.join(row['grant_rules'])}" if row["grant_rules"] else ""
        needs = "  (asks for approval)" if row["approval"] else ""
        print(f"{row['name']:<16} risk={row['risk']:<6} granted={granted:<28} {row['description']}{needs}{extra}")
    for name in registry.disabled:
        print(f"{name:<16} disabled in [skills] disabled")
    for p in registry.problems:
        print(f"not loaded: {p.entry_point}: {p.error}")
    for server in servers:
        print(f"MCP server {server['server']}: {server['state']}: {server['reason']} (as seen by {server['seen_by']})")
    print(f"{len(rows)} skills")
    return 0


def _mcp_rows(config, registry: SkillRegistry) -> tuple[list[dict], list[dict]]:
    from ..agent import Grant
    from ..config import ensure_data_dir
    from ..mcp import server_report

    report, seen_by = server_report(config, ensure_data_dir(config))
    servers, tools = [], []
    for server in report:
        servers.append({k: server.get(k) for k in ("server", "state", "reason", "tools")} | {"seen_by": seen_by})
        rules = [*config.mcp.servers[server["server"]].grants] if server["server"] in config.mcp.servers else []
        for name, info in (server.get("info") or {}).items():
            rules_here = rules + list(config.skills.grants.get(name, []))
            granted = set(info["declares"])
            for rule in (Grant.parse(t) for t in rules_here):
                if rule.where is None:
                    (granted.add if rule.allow else granted.discard)(rule.permission.value)
            tools.append({"name": name, "risk": info["risk"], "declares": info["declares"], "granted": sorted(granted),
                          "grant_rules": rules_here, "approval": info["risk"] == "high",
                          "source": f"mcp:{server['server']}", **({"description": info["description"]}
                          if server["state"] == "ready" else {"description": f"{info['description']} [disabled]",
                                                              "disabled": server["reason"]})})
    return servers, tools


def run_new(args: argparse.Namespace) -> int:
    name = args.name.strip().lower().replace("-", "_")
    if not re.match(r"^[a-z][a-z0-9_]{0,40}$", name):
        raise QiraError(f"skill name {args.name!r}: use lowercase letters, digits and _, starting with a letter")
    root = Path(args.dir).expanduser() / f"qira-skill-{name.replace('_', '-')}"
    if root.exists():
        raise QiraError(f"{root} already exists")
    package = f"qira_skill_{name}"
    files = {
        "pyproject.toml": PYPROJECT, "README.md": README, f"{package}/__init__.py": MODULE,
        f"tests/test_{name}.py": TEST,
    }
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.replace("NAME_DASH", name.replace("_", "-")).replace("PACKAGE", package)
                        .replace("NAME", name))
    print(f"created {root}")
    print(f"  cd {root}")
    print("  pip install -e .          # registers the skill with Qira (entry point qira.skills)")
    print("  python -m pytest -q       # the test passes as it is")
    print("  qira skill list           # shows it; restart `qira serve` to load it")
    return 0


PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "qira-skill-NAME_DASH"
version = "0.1.0"
description = "A Qira skill: NAME"
requires-python = ">=3.11"
dependencies = ["qira"]

# This is how Qira finds the skill: an entry point in the group qira.skills that
# names a Skill or a list of Skills.
[project.entry-points."qira.skills"]
NAME = "PACKAGE:SKILLS"

[tool.setuptools]
packages = ["PACKAGE"]
'''

MODULE = '''"""The NAME skill for Qira. See docs/skills-sdk.md in Qira for the whole SDK."""

from __future__ import annotations

from typing import Annotated

from qira.sdk import Risk, SkillContext, skill


@skill(
    name="NAME",
    description="Greet someone (replace with what your skill does)",
    # Phrases a person would say: the hub matches new utterances against them locally.
    examples=["NAME greet Ana", "ask NAME to say hello to Bob", "NAME say hi"],
    # Patterns with {slots} fill the parameters without any model.
    patterns=["ask NAME to greet {who}", "ask NAME to say hello to {who}", "NAME greet {who}"],
    permissions=[],  # e.g. [Permission.MEMORY_READ, Permission.NOTIFY]
    risk=Risk.LOW,  # Risk.HIGH asks the person to approve on a device first
)
async def NAME(ctx: SkillContext, who: Annotated[str, "who to greet"] = "there") -> str:
    count = await ctx.get("greetings", 0) + 1  # the skill's own storage: no permission needed
    await ctx.put("greetings", count)
    return f"Hello, {who}! (greeting number {count})"


SKILLS = [NAME]
'''

TEST = '''from qira.sdk.testing import FakeHost

from PACKAGE import NAME


def test_greets_and_counts():
    host = FakeHost()
    assert host.call(NAME, who="Ana").text == "Hello, Ana! (greeting number 1)"
    assert host.call(NAME, who="Bob").text == "Hello, Bob! (greeting number 2)"


def test_declares_a_tool_schema_for_cloud_planning():
    schema = NAME.tool_schema()["function"]
    assert schema["name"] == "NAME"
    assert schema["parameters"]["properties"]["who"]["type"] == "string"
'''

README = '''# qira-skill-NAME_DASH

A skill for [Qira](https://github.com/qira). Install it next to Qira and restart the hub:

    pip install -e .
    qira skill list
    python -m pytest -q
'''
