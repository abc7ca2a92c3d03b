"""The companion's built bundle, as shipped in the package, is exactly what its sources build to."""

from __future__ import annotations

import filecmp
import gzip
import json
import shutil
import subprocess

import pytest

from tests.companion._browser import SHIPPED, WEB


def test_shipped_bundle_equals_a_fresh_build(tmp_path):
    node = shutil.which("node")
    assert node, "Node is needed to check the companion's bundle (Node 20 and npm are on every machine here)"
    assert (WEB / "node_modules" / ".package-lock.json").exists(), (
        f"the companion's npm packages are not installed: `make test` runs `npm ci` in {WEB}"
    )
    out = tmp_path / "fresh"
    run = subprocess.run([node, "build.mjs", "--out", str(out)], cwd=WEB, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    fresh, shipped = sorted(p.name for p in out.iterdir()), sorted(p.name for p in SHIPPED.iterdir())
    assert fresh == shipped, "the shipped companion has other files than a fresh build: run `make companion`"
    _, mismatch, errors = filecmp.cmpfiles(out, SHIPPED, fresh, shallow=False)
    assert not mismatch and not errors, f"stale companion bundle ({mismatch + errors}): run `make companion` and commit"


def test_the_bundle_is_small_and_complete():
    assert len(gzip.compress((SHIPPED / "app.js").read_bytes())) <= 150 * 1024
    manifest = json.loads((SHIPPED / "manifest.webmanifest").read_text())
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    for icon in manifest["icons"]:
        assert (SHIPPED / icon["src"]).read_bytes().startswith(b"\x89PNG")
    sw = (SHIPPED / "sw.js").read_text()
    assert "__VERSION__" not in sw and "__SHELL__" not in sw and '"app.js"' in sw


@pytest.mark.parametrize("name", ["yjs", "y-protocols", "lib0", "y-indexeddb", "esbuild", "axe-core"])
def test_every_npm_package_is_pinned_in_the_lockfile(name):
    lock = json.loads((WEB / "package-lock.json").read_text())
    entry = lock["packages"][f"node_modules/{name}"]
    assert entry["version"] and entry["integrity"].startswith("sha512-")
