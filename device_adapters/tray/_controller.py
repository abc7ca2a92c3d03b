"""The tray's engine: one protocol session, the state it builds, and what the menu's commands do.

It runs on its own asyncio loop (a thread beside the GUI toolkit's loop) and talks to
the backend through two narrow doors: ``publish(state)`` out, ``dispatch(command)`` in.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from qira.errors import QiraError

from .._profiles import PROFILES
from .._state import is_paired
from ..session import DeviceSession, SessionEvent
from ._autostart import autostart_enabled, disable_autostart, enable_autostart
from ._menu import Action, Command, Notice, notice_for
from ._model import HubStatus, Link, TrayState, apply_event, with_approvals, with_devices
from ._notify import DesktopNotifier
from ._processes import HubChild, PairingCode, create_pairing_code

__all__ = ["TrayController", "TraySettings"]

log = logging.getLogger("qira.tray")

_DEFAULT_POLICY = "prefer-local"
_OP_TIMEOUT_S = 30.0


@dataclass(frozen=True, kw_only=True)
class TraySettings:
    hub_url: str  # ws://HOST:PORT/ws
    companion_url: str  # http://HOST:PORT/
    name: str
    state_dir: Path
    config_args: tuple[str, ...] = ()  # --config/--data-dir, passed on to `qira pair` and `qira serve`
    serve_args: tuple[str, ...] = ()
    hub_local: bool = True
    autostart_dir: Path | None = None
    autostart_argv: tuple[str, ...] = ()
    pair_code: str | None = None
    notifications: bool = True

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in data.items()})

    @classmethod
    def from_json(cls, text: str) -> TraySettings:
        data = json.loads(text)
        for key in ("state_dir", "autostart_dir"):
            if data.get(key) is not None:
                data[key] = Path(data[key])
        for key in ("config_args", "serve_args", "autostart_argv"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)


class TrayController:
    def __init__(
        self,
        settings: TraySettings,
        publish: Callable[[TrayState], None],
        *,
        open_url: Callable[[str], object] = webbrowser.open,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self._open_url = open_url
        self.hub = HubChild(settings.state_dir, settings.serve_args)
        self.state = TrayState(
            companion_url=settings.companion_url,
            hub_local=settings.hub_local,
            autostart=bool(settings.autostart_dir and autostart_enabled(settings.autostart_dir)),
            hub_started_here=self.hub.pid() is not None,
        )
        self.notifier = DesktopNotifier(self._notice_action)
        self.session: DeviceSession | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._resuming = False  # between session.ready and the first approval.list answer
        self._held: list[Notice] = []  # approval notices held back while resuming
        self.stopped = asyncio.Event()
        self._last_active = -1e9

    # -- life cycle -------------------------------------------------------------

    async def run(self) -> None:
        """Until ``stop()``: connect, reconnect, keep the state current."""
        self.loop = asyncio.get_running_loop()
        if self.settings.notifications:
            await self.notifier.start()
        self._set(self.state)
        pair_code = self.settings.pair_code
        if pair_code is None and self.settings.hub_local and not is_paired(self.settings.state_dir):
            pair_code = await self._own_pairing_code()
        self.session = DeviceSession(
            self.settings.hub_url,
            name=self.settings.name,
            kind="pc",
            state_dir=self.settings.state_dir,
            capabilities=PROFILES["pc"],
            pair_code=pair_code,
            docs=(),
            on_event=self._on_event,
            backoff_max_s=2.0,
            client="qira-tray/1",
        )
        self.session.start()
        watcher = asyncio.ensure_future(self._watch_hub_child())
        try:
            await self.stopped.wait()
        finally:
            watcher.cancel()
            for task in list(self._tasks):
                task.cancel()
            await self.session.close()
            await self.notifier.close_bus()

    def stop(self) -> None:
        """From any thread; a no-op once the engine has ended."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.stopped.set)

    async def _own_pairing_code(self) -> str | None:
        # First run on the hub's machine: pair through the documented `qira pair`, then `hello` with the code.
        try:
            code = await asyncio.to_thread(create_pairing_code, self.settings.name, "pc", self.settings.config_args)
        except QiraError as exc:
            self._set(replace(self.state, link=Link.STOPPED, closed_reason=str(exc)))
            log.error("cannot pair the tray with the hub: %s", exc)
            return None
        return code.code

    async def _watch_hub_child(self) -> None:
        while True:
            started = await asyncio.to_thread(lambda: self.hub.pid() is not None)
            if started != self.state.hub_started_here:
                self._set(replace(self.state, hub_started_here=started))
            await asyncio.sleep(1.0)

    # -- state ----------------------------------------------------------------------

    def _set(self, state: TrayState) -> None:
        self.state = state
        try:
            self.publish(state)
        except Exception:  # the display must never take the engine down
            log.exception("publishing the tray state failed")

    def _on_event(self, event: SessionEvent) -> None:
        kind = event.get("type")
        before = self.state.link
        self._set(apply_event(self.state, event))
        if kind == "session.ready":
            log.info("connected to %s as %s (%s)", self.settings.hub_url, event.get("name"), event.get("device_id"))
            self._resuming = True
            self._spawn(self._refresh())
        elif kind == "session.disconnected" and before is Link.ONLINE:
            log.info("hub unreachable at %s: reconnecting", self.settings.hub_url)
        elif kind == "session.closed":
            log.error("the hub closed this tray's session for good: %s", self.state.closed_reason)
        notice = notice_for(event)
        if notice is not None:
            if notice.key.startswith("approval:") and self._resuming:
                self._held.append(notice)
            else:
                self._spawn(self.notifier.show(notice))
        if kind == "approval.resolved":
            self._spawn(self.notifier.close(f"approval:{event.get('approval')}"))

    async def _refresh(self) -> None:
        """After every (re)connection: what the hub says now, not what was seen before."""
        try:
            status = await self._op("hub.status")
            if status is not None:
                self._set(apply_event(self.state, {"type": "hub.status", **status}))
            elif self.state.status is None:
                self._set(replace(self.state, status=HubStatus()))  # a hub without hub.status
            devices = await self._op("devices.list")
            if devices is not None:
                self._set(with_devices(self.state, devices.get("devices") or []))
            approvals = await self._op("approval.list")
            if approvals is not None:
                self._set(with_approvals(self.state, approvals.get("approvals") or []))
        finally:
            self._resuming = False
            held, self._held = self._held, []
            pending = {a.id for a in self.state.approvals}
            for notice in held:
                if notice.arg in pending:
                    await self.notifier.show(notice)

    async def _op(self, type_: str, payload: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
        """An operation's result, or None when the hub refused it (logged)."""
        assert self.session is not None
        try:
            return await self.session.request(type_, payload, timeout=_OP_TIMEOUT_S)
        except QiraError as exc:
            log.warning("%s failed: %s", type_, exc)
        except TimeoutError:
            log.warning("%s: no answer from the hub in %.0f s", type_, _OP_TIMEOUT_S)
        return None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- commands ---------------------------------------------------------------------

    def mark_active(self) -> None:
        """The person is at this PC (they opened the menu): tell the hub, so notices come here. Any thread."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._active)

    def _active(self) -> None:
        now = time.monotonic()
        if self.session is not None and now - self._last_active >= 10.0:
            self._last_active = now
            self.session.presence(active=True)

    def dispatch(self, command: Command) -> None:
        """From any thread (the GUI's): run a menu command on the controller's loop."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._spawn, self.execute(command))

    async def execute(self, command: Command) -> None:
        action = command.action
        if action is Action.OPEN_COMPANION:
            url = self.settings.companion_url + (f"#thread={command.arg}" if command.arg else "")
            await asyncio.to_thread(self._open_url, url)
        elif action in (Action.PAUSE_CLOUD, Action.RESUME_CLOUD):
            await self._set_policy(pause=action is Action.PAUSE_CLOUD)
        elif action in (Action.APPROVE, Action.DENY):
            await self._respond(command.arg, approve=action is Action.APPROVE)
        elif action is Action.START_HUB:
            await asyncio.to_thread(self.hub.start)
            self._set(replace(self.state, hub_started_here=True))
        elif action is Action.STOP_HUB:
            await asyncio.to_thread(self.hub.stop)
            self._set(replace(self.state, hub_started_here=False))
        elif action in (Action.AUTOSTART_ON, Action.AUTOSTART_OFF):
            self._autostart(action is Action.AUTOSTART_ON)
        elif action is Action.QUIT:
            self.stopped.set()

    async def _set_policy(self, *, pause: bool) -> None:
        assert self.session is not None
        if pause:
            value = "local-only"
        else:
            value = self.session.state.get("tray.policy_before_pause") or _DEFAULT_POLICY
            value = _DEFAULT_POLICY if value == "local-only" else value
        result = await self._op("settings.set", {"key": "inference.policy", "value": value})
        if result is None:
            return
        previous = result.get("previous")
        if pause and isinstance(previous, str) and previous != "local-only":
            self.session.state.set("tray.policy_before_pause", previous)
        status = self.state.status or HubStatus()
        self._set(replace(self.state, status=replace(status, policy=str(result.get("value", value)))))

    async def _respond(self, approval: str, *, approve: bool) -> None:
        assert self.session is not None
        try:
            await self.session.request(
                "approval.respond", {"approval": approval, "approve": approve}, timeout=_OP_TIMEOUT_S
            )
        except QiraError as exc:
            log.warning("approval %s: %s", approval, exc)  # already answered elsewhere, or expired
        except TimeoutError:
            return
        self._set(replace(self.state, approvals=tuple(a for a in self.state.approvals if a.id != approval)))
        await self.notifier.close(f"approval:{approval}")

    def _autostart(self, on: bool) -> None:
        directory = self.settings.autostart_dir
        if directory is None:
            return
        try:
            if on:
                enable_autostart(directory, self.settings.autostart_argv)
            else:
                disable_autostart(directory)
        except QiraError as exc:
            log.error("%s", exc)
        self._set(replace(self.state, autostart=autostart_enabled(directory)))

    def _notice_action(self, notice: Notice, action_id: str) -> None:
        # Only what this notification offered: any program on the session bus can send ActionInvoked.
        offered = {a for a, _label in notice.actions}
        if action_id in offered:
            command = Command(action=Action(action_id), arg=notice.arg)
        elif action_id == "default":  # a click on the bubble itself
            arg = notice.arg if Action.OPEN_COMPANION.value in offered else ""
            command = Command(action=Action.OPEN_COMPANION, arg=arg)
        else:
            log.warning("ignored notification action %r: not one this notification offered", action_id)
            return
        self._spawn(self.execute(command))

    async def pairing_code(self, name: str, kind: str) -> PairingCode:
        return await asyncio.to_thread(create_pairing_code, name, kind, self.settings.config_args)

    def pairing_future(self, name: str, kind: str) -> concurrent.futures.Future[PairingCode]:
        """For the GUI thread's pairing window: resolves with the code, or a QiraError in words."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(self.pairing_code(name, kind), self.loop)
