"""How every benchmark reports: the figures as JSON on stdout, and in ``--out`` when given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(result: dict[str, Any], out: str | Path | None, *, show: bool = True) -> None:
    text = json.dumps(result, indent=2)
    if show:
        print(text)
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
