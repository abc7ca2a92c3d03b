"""Desktop notifications through the freedesktop notification service, over D-Bus (jeepney).

Approve / Deny buttons are sent only when the server lists the ``actions``
capability; otherwise the text says where to answer (the tray menu). No
notification service at all (no session bus, no daemon) is not an error: the
tray goes on, and says so once in its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from jeepney import DBusAddress, MatchRule, message_bus, new_method_call
from jeepney.io.asyncio import DBusRouter, Proxy, open_dbus_router
from jeepney.wrappers import DBusErrorResponse

from ._menu import Notice

__all__ = ["DesktopNotifier"]

log = logging.getLogger("qira.tray")

_SERVICE = DBusAddress(
    "/org/freedesktop/Notifications",
    bus_name="org.freedesktop.Notifications",
    interface="org.freedesktop.Notifications",
)
_URGENCY = {"low": 0, "normal": 1, "critical": 2}

OnAction = Callable[[Notice, str], None]  # (the notice, the action id the person chose)


class DesktopNotifier:
    def __init__(self, on_action: OnAction, *, app_name: str = "Qira") -> None:
        self._on_action = on_action
        self._app_name = app_name
        self._router: DBusRouter | None = None
        self._cm: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._by_key: dict[str, int] = {}
        self._by_id: dict[int, Notice] = {}
        self.actions = False
        self.available = False
        self.server = ""

    async def start(self) -> bool:
        """Connect to the session bus; False (and one log line) when there is no notification service."""
        try:
            self._cm = open_dbus_router(bus="SESSION")
            self._router = await self._cm.__aenter__()
            reply = await self._call("GetServerInformation", "", ())
            self.server = f"{reply[0]} {reply[2]}"
            caps = await self._call("GetCapabilities", "", ())
            self.actions = "actions" in caps[0]
            rule = MatchRule(type="signal", interface=_SERVICE.interface, path=_SERVICE.object_path)
            await Proxy(message_bus, self._router).AddMatch(rule)
            self._listener = asyncio.ensure_future(self._listen(rule))
        except (TimeoutError, OSError, KeyError, ValueError, DBusErrorResponse) as exc:
            log.warning("no desktop notification service (%s): notifications only in the tray menu", exc)
            await self.close_bus()
            return False
        self.available = True
        log.info("notifications through %s (actions: %s)", self.server, "yes" if self.actions else "no")
        return True

    async def _call(self, method: str, signature: str, body: tuple[Any, ...]) -> tuple[Any, ...]:
        assert self._router is not None
        msg = new_method_call(_SERVICE, method, signature or None, body)
        reply = await asyncio.wait_for(self._router.send_and_get_reply(msg), 5.0)
        if reply.header.message_type.name == "error":
            raise DBusErrorResponse(reply)
        return tuple(reply.body)

    async def show(self, notice: Notice) -> int | None:
        if not self.available:
            return None
        actions: list[str] = []
        body = notice.body
        if notice.actions and self.actions:
            for action_id, label in notice.actions:
                actions += [action_id, label]
        elif notice.fallback:
            body = f"{body}\n{notice.fallback}" if body else notice.fallback
        replaces = self._by_key.get(notice.key, 0)
        hints = {"urgency": ("y", _URGENCY.get(notice.urgency, 1)), "desktop-entry": ("s", "qira-tray")}
        try:
            reply = await self._call(
                "Notify", "susssasa{sv}i", (self._app_name, replaces, "", notice.title, body, actions, hints, -1)
            )
        except (TimeoutError, OSError, DBusErrorResponse) as exc:
            log.warning("could not show a notification: %s", exc)
            return None
        nid = int(reply[0])
        self._by_key[notice.key] = nid
        self._by_id[nid] = notice
        return nid

    async def close(self, key: str) -> None:
        nid = self._by_key.pop(key, None)
        if nid is None or not self.available:
            return
        self._by_id.pop(nid, None)
        with contextlib.suppress(OSError, DBusErrorResponse, asyncio.TimeoutError):
            await self._call("CloseNotification", "u", (nid,))

    async def _listen(self, rule: MatchRule) -> None:
        assert self._router is not None
        with self._router.filter(rule, bufsize=100) as queue:
            while True:
                msg = await queue.get()
                member = msg.header.fields.get(3)  # HeaderFields.member
                if member == "ActionInvoked":
                    nid, action = msg.body
                    notice = self._by_id.get(int(nid))
                    if notice is not None:
                        try:
                            self._on_action(notice, str(action))
                        except Exception:  # a failing handler must not stop the listener
                            log.exception("notification action failed")
                elif member == "NotificationClosed":
                    notice = self._by_id.pop(int(msg.body[0]), None)
                    if notice is not None and self._by_key.get(notice.key) == int(msg.body[0]):
                        del self._by_key[notice.key]

    async def close_bus(self) -> None:
        self.available = False
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        if self._cm is not None:
            with contextlib.suppress(Exception):
                await self._cm.__aexit__(None, None, None)
            self._cm = None
        self._router = None
