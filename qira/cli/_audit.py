"""``qira audit``: what skills did, for whom, with which permissions, approved or not."""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import datetime

from ..api.admin import audit_op
from ..errors import QiraError
from ._common import add_config_options, admin_call, config_from_args, existing_data_dir, positive_int, running_hub

# qira.agent.Outcome's values (a test keeps them equal; importing the agent here costs every command)
OUTCOMES = ("ok", "error", "timeout", "permission_denied", "invalid_arguments", "denied")

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="show the audit log of skill actions")
    add_config_options(parser)
    parser.add_argument("--skill", help="only this skill")
    parser.add_argument("--device", help="only this device (id or name)")
    parser.add_argument("--outcome", choices=OUTCOMES, help="only entries with this outcome")
    parser.add_argument("--since", help="how far back: 30m, 2h, 7d, or a date (2026-05-01)")
    parser.add_argument("--limit", type=positive_int, default=50, help="the most recent N entries (default 50)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run)


def _since(text: str | None) -> float | None:
    if not text:
        return None
    m = _AGO.match(text.strip())
    if m:
        return time.time() - float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise QiraError(f"--since {text!r}: use 30m, 2h, 7d or a date like 2026-05-01") from exc


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    request = {
        "skill": args.skill,
        "device": args.device,
        "outcome": args.outcome,
        "since": _since(args.since),
        "limit": args.limit,
    }
    hub = running_hub(config)
    from ..agent import agent_db_path

    path = agent_db_path(config.data_dir)
    if hub is not None:
        result = admin_call(hub, "audit", request)
    else:
        existing_data_dir(config)
        result = audit_op(path, request)
    entries = result["entries"]
    if args.json:
        for e in entries:
            print(json.dumps(e))
        return 0
    if not entries:
        print("no audit entries" + ("" if result["log_exists"] else f" (no log at {path} yet)"))
        return 0
    for e in entries:
        when = datetime.fromtimestamp(e["ts"]).strftime("%Y-%m-%d %H:%M:%S")
        used = ",".join(e["permissions_used"]) or "-"
        line = (
            f"{when}  {e['device_name'] or e['device'] or '-':<10} {e['skill']:<14} {e['outcome']:<17} "
            f"approval={e['approval']:<10} used={used}  {e['action']}"
        )
        if e["detail"] and e["outcome"] != "ok":
            line += f"  — {e['detail']}"
        print(line)
    return 0
