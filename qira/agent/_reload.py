"""Reloading skill packages in a running hub (``qira skill reload``, issue 12).

A pattern or example changed in an editable install (``pip install -e .``) must not
need a hub restart. Modules of ``qira.skills`` entry points whose source files
changed since they were imported are dropped from ``sys.modules`` so the next
discovery imports them afresh; packages installed since the hub started become
importable by processing the ``.pth`` files that appeared since (editable installs
add their path or finder that way).
"""

from __future__ import annotations

import importlib
import logging
import os
import site
import sys
import time
from importlib import metadata
from pathlib import Path

__all__ = ["forget_changed_skill_modules"]

log = logging.getLogger("qira.agent.skills")

_STARTED = time.time()
_PTH_SEEN: set[Path] = set()


def _pth_files() -> set[Path]:
    found: set[Path] = set()
    for directory in {*site.getsitepackages(), site.getusersitepackages()}:
        try:
            found.update(Path(directory).glob("*.pth"))
        except OSError:
            continue
    return found


_PTH_SEEN.update(_pth_files())  # what the interpreter already processed at start-up


def forget_changed_skill_modules(since: float | None = None) -> list[str]:
    """Drop skill modules whose files changed after ``since`` (default: when Qira was
    imported); return the module names dropped."""
    since = _STARTED if since is None else since
    for pth in sorted(_pth_files() - _PTH_SEEN):  # a skill package pip-installed after start-up
        _PTH_SEEN.add(pth)
        site.addsitedir(str(pth.parent))
    importlib.invalidate_caches()
    roots = {ep.module.partition(".")[0] for ep in metadata.entry_points(group="qira.skills")}
    dropped = []
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] not in roots or name.partition(".")[0] == "qira":  # never Qira itself
            continue
        path = getattr(module, "__file__", None)
        if not path:
            continue  # a namespace package: its modules carry the files
        try:
            changed = os.stat(path).st_mtime > since
        except OSError:
            changed = True  # the file went away: import again, or report the failure
        if changed:
            dropped.append(name)
    if dropped:  # the whole package: a changed submodule may be imported by an unchanged one
        prefixes = {n.partition(".")[0] for n in dropped}
        dropped = [n for n in list(sys.modules) if n.partition(".")[0] in prefixes]
        for name in dropped:
            del sys.modules[name]
        log.info("reloading skill modules: %s", ", ".join(sorted(dropped)))
    return sorted(dropped)
