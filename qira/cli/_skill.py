"""``qira skill list`` (skills, permissions, grants), ``qira skill new NAME`` (a
pip-installable skill package with a passing test), ``qira skill try "utterance"``
(which skill and slots would run, without a hub) and ``qira skill reload`` (the
running hub re-imports changed skill packages)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import QiraError
from ._common import add_config_options, admin_call, config_from_args, positive_int, running_hub

# One rule for skill names, wherever a name is typed: lowercase letters, digits and _,
# starting with a letter. `skill new` turns "Dice Roller" or "my-weather" into such a name.
SKILL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("skill", help="list installed skills, or scaffold a new one")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    lister = actions.add_parser("list", help="skills, their permissions and what the config grants")
    add_config_options(lister)
    lister.add_argument("--json", action="store_true", help="one JSON object per skill")
    lister.set_defaults(func=run_list)
    new = actions.add_parser("new", help="create a pip-installable skill package with a passing test")
    new.add_argument(
        "name",
        help='the skill\'s name, e.g. weather, my_weather, my-weather or "Dice Roller" '
        "(made lowercase, with _ between words)",
    )
    new.add_argument("--dir", default=".", help="where to create qira-skill-NAME/ (default: here)")
    new.set_defaults(func=run_new)
    trier = actions.add_parser("try", help="which skill and slots an utterance would run, with scores (no hub needed)")
    add_config_options(trier)
    trier.add_argument("utterance", help="what a person would say")
    trier.add_argument("-k", type=positive_int, default=3, help="how many candidate skills to show (default 3)")
    trier.add_argument("--json", action="store_true", help="one JSON object")
    trier.set_defaults(func=run_try)
    reload = actions.add_parser("reload", help="make the running hub re-import changed skill packages (no restart)")
    add_config_options(reload)
    reload.add_argument("--json", action="store_true", help="one JSON object")
    reload.set_defaults(func=run_reload)


def run_list(args: argparse.Namespace) -> int:
    from ..agent import SkillRegistry

    config = config_from_args(args)
    registry = SkillRegistry.from_entry_points(config.skills)
    rows: list[dict[str, Any]] = []
    for s in sorted(registry, key=lambda s: s.name):
        rules = config.skills.grants.get(s.name, [])
        rows.append(
            {
                "name": s.name,
                "risk": s.risk.value,
                "declares": sorted(p.value for p in s.permissions),
                "granted": sorted(p.value for p in registry.granted(s)),
                "grant_rules": list(rules),
                "approval": s.risk.needs_approval,
                "source": registry.sources.get(s.name, ""),
                "description": s.description,
            }
        )
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
        return 1 if registry.problems else 0
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
    print(f"{len(rows)} skills" + (f", {len(registry.problems)} failed to load" if registry.problems else ""))
    return 1 if registry.problems else 0


def skill_name(text: str) -> str:
    """The skill name for what a person typed: "Dice Roller", "my-weather" -> dice_roller, my_weather."""
    name = re.sub(r"[\s\-]+", "_", text.strip().lower())
    if not SKILL_NAME.match(name):
        raise QiraError(
            f"skill name {text!r}: use letters, digits, spaces, - or _, starting with a letter "
            '(e.g. weather, my-weather, "Dice Roller")'
        )
    return name


def _mcp_rows(config: Any, registry: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
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
            tools.append(
                {
                    "name": name,
                    "risk": info["risk"],
                    "declares": info["declares"],
                    "granted": sorted(granted),
                    "grant_rules": rules_here,
                    "approval": info["risk"] == "high",
                    "source": f"mcp:{server['server']}",
                    **(
                        {"description": info["description"]}
                        if server["state"] == "ready"
                        else {"description": f"{info['description']} [disabled]", "disabled": server["reason"]}
                    ),
                }
            )
    return servers, tools


def run_new(args: argparse.Namespace) -> int:
    name = skill_name(args.name)
    root = Path(args.dir).expanduser() / f"qira-skill-{name.replace('_', '-')}"
    if root.exists():
        raise QiraError(f"{root} already exists")
    package = f"qira_skill_{name}"
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{package}/__init__.py": MODULE,
        f"tests/test_{name}.py": TEST,
    }
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            template.replace("NAME_DASH", name.replace("_", "-"))
            .replace("PACKAGE", package)
            .replace("NAME_WORDS", name.replace("_", " "))
            .replace("NAME", name)
        )
    # pip and python of the environment Qira runs in (a bare `pip` may belong to another one)
    python = sys.executable
    print(f"created {root}" + (f" (skill name: {name})" if name != args.name else ""))
    print(f"  cd {root}")
    print(f"  {python} -m pip install -e .   # into Qira's own environment: registers the skill")
    print(f"  {python} -m pytest -q          # the test passes as it is")
    print(f'  qira skill try "ask {name.replace("_", " ")} to greet Ana"   # what would run, without a hub')
    print("  qira skill reload        # a running hub picks it up (or restart `qira serve`)")
    return 0


def run_try(args: argparse.Namespace) -> int:
    """Classify an utterance the way the hub's planner does (the same classifier and
    thresholds), without a hub."""
    from ..agent import IntentMatcher, SkillRegistry, Thresholds, normalize
    from ..memory import Embedder
    from ._common import progress

    if not args.utterance.strip():
        print("qira skill try: error: the utterance is empty: say what a person would say", file=sys.stderr)
        return 2
    config = config_from_args(args)
    registry = SkillRegistry.from_entry_points(config.skills)
    embedder = Embedder(batch_size=config.memory.embed_batch_size)
    matcher = IntentMatcher(list(registry), embedder, thresholds=Thresholds.from_config(config.agent))

    with progress("loading the embedding model and training the intent classifier", stream=sys.stderr):
        embedder.load()
        result = asyncio.run(matcher.classify(args.utterance))
    clean = normalize(args.utterance)
    rows: list[dict[str, Any]] = []
    for m in result.candidates[: args.k]:
        skill = registry.get(m.skill)
        pattern, slots, arguments, problem = _pattern(skill, clean) if skill else (None, {}, {}, None)
        rows.append(
            {
                "skill": m.skill,
                "score": m.score,
                "similarity": m.similarity,
                "pattern": pattern,
                "slots": slots,
                "arguments": arguments or (dict(m.arguments) if m.arguments else {}),
                "problem": problem,
            }
        )
    if args.json:
        print(
            json.dumps(
                {
                    "utterance": args.utterance,
                    "normalized": clean,
                    "read_as": matcher.reading(args.utterance),  # typos and shorthand repaired
                    "candidates": rows,
                    "out_of_scope": result.out_of_scope,
                    "decision": result.decision.value,
                    "runs": result.skill if result.decision.value == "act" else None,
                    "asks": result.skill if result.decision.value == "ask" else None,
                    "reason": result.reason,
                    "problems": [{"entry_point": p.entry_point, "error": p.error} for p in registry.problems],
                }
            )
        )
        return 0
    print(f"utterance: {args.utterance!r}" + (f"  (matched as {clean!r})" if clean != args.utterance else ""))
    if matcher.reading(args.utterance) != clean:
        print(f"  read as {matcher.reading(args.utterance)!r} by the classifier (typos and shorthand)")
    for row in rows:
        how = f"pattern {row['pattern']!r}" if row["pattern"] else "examples"
        print(f"  {row['skill']:<16} {row['score']:.3f}  (similarity {row['similarity']:.2f}) by {how}")
        if row["slots"]:
            print(f"      slots: {', '.join(f'{k}={v!r}' for k, v in row['slots'].items())}")
        if row["problem"]:
            print(f"      {row['problem']}")
    print(f"  out of scope    {result.out_of_scope:.3f}")
    chosen = next((r for r in rows if r["skill"] == result.skill), None)
    if result.decision.value == "act" and result.skill:
        shown = ", ".join(f"{k}={v!r}" for k, v in (chosen["arguments"] if chosen else {}).items())
        print(f"-> runs {result.skill}({shown}): {result.reason}")
    elif result.decision.value == "ask" and result.skill:
        print(f"-> asks first whether to run {result.skill}: {result.reason}")
    else:
        print(f"-> no skill acts: the model answers ({result.reason})")
    for p in registry.problems:
        print(f"not loaded: {p.entry_point}: {p.error}")
    return 0


def _pattern(skill: Any, clean: str) -> tuple[str | None, dict[str, str], dict[str, Any], str | None]:
    """The first of the skill's patterns matching the whole utterance: (pattern, slot texts,
    converted arguments, why they do not convert)."""
    from ..sdk import InvalidArguments

    for pattern, regex in zip(skill.patterns, skill.pattern_regexes(), strict=True):
        m = regex.fullmatch(clean)
        if not m:
            continue
        slots = {k: v.strip(" \"'") for k, v in m.groupdict().items() if v and v.strip()}
        try:
            return pattern, slots, skill.coerce(slots), None
        except InvalidArguments as exc:
            return pattern, slots, {}, f"does not convert: {exc}"
    return None, {}, {}, None


def run_reload(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    hub = running_hub(config)
    if hub is None:
        raise QiraError(f"no hub is running on {config.data_dir}: a hub loads the installed skills when it starts")
    result = admin_call(hub, "skills.reload")
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{len(result['skills'])} skills loaded"
            + (f"; added {', '.join(result['added'])}" if result["added"] else "")
            + (f"; removed {', '.join(result['removed'])}" if result["removed"] else "")
        )
        if result["reloaded_modules"]:
            print(f"  re-imported: {', '.join(result['reloaded_modules'])}")
        for p in result["problems"]:
            print(f"not loaded: {p['entry_point']}: {p['error']}")
    return 1 if result["problems"] else 0


PYPROJECT = """[build-system]
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
"""

MODULE = '''"""The NAME skill for Qira. See docs/skills-sdk.md in Qira for the whole SDK."""

from __future__ import annotations

from typing import Annotated

from qira.sdk import Risk, SkillContext, skill


@skill(
    name="NAME",
    description="Greet someone (replace with what your skill does)",
    # Phrases a person would say: the hub matches new utterances against them locally.
    examples=["NAME_WORDS greet Ana", "ask NAME_WORDS to say hello to Bob", "NAME_WORDS say hi"],
    # Patterns with {slots} fill the parameters without any model. The first pattern that
    # matches the whole utterance wins: put the most specific first. Try one with
    # `qira skill try "ask NAME_WORDS to greet Ana"`.
    patterns=["ask NAME_WORDS to greet {who}", "ask NAME_WORDS to say hello to {who}", "NAME_WORDS greet {who}"],
    permissions=[],  # e.g. [Permission.MEMORY_READ, Permission.NOTIFY]
    risk=Risk.LOW,  # Risk.HIGH asks the person to approve on a device first
)
async def NAME(ctx: SkillContext, who: Annotated[str, "who to greet"] = "there") -> str:
    count = await ctx.get("greetings", 0) + 1  # the skill's own storage: no permission needed
    await ctx.put("greetings", count)
    return f"Hello, {who}! (greeting number {count})"


SKILLS = [NAME]
'''

TEST = """from qira.sdk.testing import FakeHost

from PACKAGE import NAME


def test_greets_and_counts():
    host = FakeHost()
    assert host.call(NAME, who="Ana").text == "Hello, Ana! (greeting number 1)"
    assert host.call(NAME, who="Bob").text == "Hello, Bob! (greeting number 2)"


def test_declares_a_tool_schema_for_cloud_planning():
    schema = NAME.tool_schema()["function"]
    assert schema["name"] == "NAME"
    assert schema["parameters"]["properties"]["who"]["type"] == "string"
"""

README = """# qira-skill-NAME_DASH

A skill for [Qira](https://github.com/qira). Install it into the environment Qira runs in
(with a source checkout of Qira, that is its `.venv`), then let a running hub load it:

    /path/to/qira/.venv/bin/pip install -e .
    qira skill list
    qira skill try "ask NAME_WORDS to greet Ana"
    qira skill reload
    python -m pytest -q
"""
