"""A live hub with a scripted cloud model, a Python device, and Debian's chromium
through Playwright, shared by the companion's end-to-end tests (module scope)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests._hub import HubProcess
from tests.companion._browser import PyDevice, chromium_path, hub_env, install_skill, pair_link
from tests.inference.servers import FaultServer

ANSWER = "Tides happen because the moon's gravity pulls on the oceans as the earth turns beneath it."


@dataclass
class World:
    hub: HubProcess
    cloud: FaultServer
    py: PyDevice
    browser: Any
    context: Any
    page: Any
    link: dict[str, Any]
    playwright: Any
    errors: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # what one test leaves for the next


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("companion")
    install_skill(tmp / "site")
    cloud = FaultServer(answer=ANSWER, token_delay_s=0.03).start()
    hub = HubProcess(tmp / "hub", env=hub_env(cloud.base_url, tmp / "site"))
    hub.start(timeout=60)
    py = pw = browser = None
    try:
        py = PyDevice(
            hub.ws_url, tmp / "py", name="desk", kind="pc", code=pair_link(hub.data_dir, "desk", "pc")["code"]
        )
        link = pair_link(hub.data_dir, "pocket", "phone")
        pw = sync_playwright().start()
        # A persistent profile, as a person's browser has: an incognito context is never installable.
        context = browser = pw.chromium.launch_persistent_context(
            tmp / "profile", executable_path=chromium_path(), viewport={"width": 390, "height": 844}
        )
        context.set_default_timeout(120_000)
        page = context.pages[0] if context.pages else context.new_page()
        w = World(hub=hub, cloud=cloud, py=py, browser=browser, context=context, page=page, link=link, playwright=pw)
        page.on("console", lambda m: w.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: w.errors.append(f"page error: {e}"))
        yield w
    finally:
        if browser is not None:
            browser.close()
        if pw is not None:
            pw.stop()
        if py is not None:
            py.close()
        hub.stop()
        cloud.stop()
