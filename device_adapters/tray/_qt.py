"""The Qt backend: a ``QSystemTrayIcon`` drawing what the core computes.

Qt owns the main thread; the controller's asyncio loop runs in a second thread.
State crosses over through a queued Qt signal, commands through
``controller.dispatch`` (thread-safe): neither side ever blocks the other.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QCursor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSystemTrayIcon,
    QVBoxLayout,
)

from ._controller import TrayController
from ._menu import Action, Command, MenuItem, menu_for
from ._model import IconSpec, TrayState, icon_for, tooltip_for

__all__ = ["run_qt", "tray_available"]

log = logging.getLogger("qira.tray")

_PAIR_KINDS = ("phone", "tablet", "wearable", "pc")


def draw_icon(spec: IconSpec, size: int = 64) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(*spec.color))
    p.drawEllipse(QRectF(2, 2, size - 4, size - 4))
    p.setPen(QColor(255, 255, 255))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(size * 0.55))
    p.setFont(font)
    p.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, spec.glyph)
    if spec.badge:
        r = size * 0.42
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(200, 0, 90))
        p.drawEllipse(QRectF(size - r, 0, r, r))
        p.setPen(QColor(255, 255, 255))
        font.setPixelSize(int(r * 0.75))
        p.setFont(font)
        p.drawText(QRectF(size - r, 0, r, r), Qt.AlignmentFlag.AlignCenter, str(min(spec.badge, 9)))
    p.end()
    return pixmap


class _Bridge(QObject):
    state = Signal(object)
    pairing = Signal(object)
    finished = Signal()


class _PairWindow(QDialog):
    """Name and kind in, the one-time code and its QR code out."""

    def __init__(self, controller: TrayController, bridge: _Bridge) -> None:
        super().__init__()
        self.controller = controller
        self.bridge = bridge
        self.setWindowTitle("Qira: pair a new device")
        self.name = QLineEdit()
        self.name.setPlaceholderText("my-phone")
        self.kind = QComboBox()
        self.kind.addItems(list(_PAIR_KINDS))
        self.button = QPushButton("Create a pairing code")
        self.button.clicked.connect(self._create)
        self.code = QLabel("")
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.qr = QLabel("")
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Device name", self.name)
        form.addRow("Kind", self.kind)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for widget in (self.button, self.code, self.qr, self.hint):
            layout.addWidget(widget)
        bridge.pairing.connect(self._show)

    def _create(self) -> None:
        self.setWindowTitle("Qira: pair a new device")
        name = self.name.text().strip()
        if not name:
            self.hint.setText("Give the device a name first.")
            return
        self.button.setEnabled(False)
        self.hint.setText("Creating a code…")
        future = self.controller.pairing_future(name, self.kind.currentText())
        future.add_done_callback(self.bridge.pairing.emit)  # from the engine's thread: queued to this one

    def _show(self, future: Future[Any]) -> None:
        self.button.setEnabled(True)
        try:
            code = future.result()
        except Exception as exc:  # QiraError with a readable message, or a dead loop
            self.hint.setText(f"No code: {exc}")
            return
        font = QFont("monospace")
        font.setPixelSize(32)
        font.setBold(True)
        self.code.setFont(font)
        self.code.setText(code.code)
        self.setWindowTitle(f"Qira: pairing code {code.code} for {code.name}")
        url = f"{self.controller.settings.companion_url}#pair={code.code}"  # the fragment never reaches a server
        self.qr.setPixmap(_qr_pixmap(url))
        self.hint.setText(
            f"Valid {code.ttl_s / 60:g} minutes, single use. Type it into the {code.kind}, or scan "
            f"the QR code ({url}); the device connects to {self.controller.settings.hub_url}."
        )
        self.adjustSize()  # grow to show the code and the whole QR code


def _qr_pixmap(text: str) -> QPixmap:
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=6, border=2)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


class _Tray:
    def __init__(self, app: QApplication, controller: TrayController, bridge: _Bridge) -> None:
        self.app = app
        self.controller = controller
        self.bridge = bridge
        self.icon = QSystemTrayIcon()
        self.menu = QMenu()
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.menu.aboutToHide.connect(self._menu_hidden)
        self.menu.aboutToShow.connect(controller.mark_active)
        self._model: tuple[MenuItem, ...] | None = None
        self._pending: TrayState | None = None
        self._icon_key: IconSpec | None = None
        self._pair: _PairWindow | None = None
        bridge.state.connect(self.show_state)
        self.show_state(controller.state)
        self.icon.show()

    def show_state(self, state: TrayState) -> None:
        spec = icon_for(state)
        if spec != self._icon_key:
            self._icon_key = spec
            self.icon.setIcon(QIcon(draw_icon(spec)))
        self.icon.setToolTip(tooltip_for(state))
        model = menu_for(state)
        if model == self._model:
            return
        if self.menu.isVisible():
            self._pending = state  # rebuilt when it closes: never pull a menu from under the pointer
            return
        self._model = model
        self.menu.clear()
        self._fill(self.menu, model)

    def _menu_hidden(self) -> None:
        if self._pending is not None:
            state, self._pending = self._pending, None
            QTimer.singleShot(0, lambda: self.show_state(state))

    def _fill(self, menu: QMenu, items: tuple[MenuItem, ...]) -> None:
        for item in items:
            if item.separator:
                menu.addSeparator()
            elif item.children:
                sub = menu.addMenu(item.label)
                sub.setEnabled(item.enabled)
                self._fill(sub, item.children)
            else:
                action = QAction(item.label, menu)
                action.setEnabled(item.enabled)
                if item.checked is not None:
                    action.setCheckable(True)
                    action.setChecked(item.checked)
                if item.command is not None:
                    action.triggered.connect(lambda _=False, c=item.command: self._run(c))
                menu.addAction(action)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.menu.popup(QCursor.pos())  # a left click opens the menu too, as most Linux trays expect

    def _run(self, command: Command) -> None:
        if command.action is Action.PAIR:
            self._open_pairing()
            return
        self.controller.dispatch(command)

    def _open_pairing(self) -> None:
        if self._pair is None:
            self._pair = _PairWindow(self.controller, self.bridge)
        self._pair.show()
        self._pair.raise_()
        self._pair.activateWindow()


def tray_available(app: QApplication, wait_s: float) -> bool:
    """A tray host may start a moment after the session: give it a little while."""
    deadline = time.monotonic() + wait_s
    while not QSystemTrayIcon.isSystemTrayAvailable():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.1)
    return True


def run_qt(controller: TrayController, *, wait_for_tray_s: float = 5.0) -> int:
    """Run the tray until Quit or a signal; 3 when there is no system tray to sit in."""
    app = QApplication.instance() or QApplication(["qira-tray"])
    assert isinstance(app, QApplication)
    app.setApplicationName("qira-tray")
    app.setQuitOnLastWindowClosed(False)
    if not tray_available(app, wait_for_tray_s):
        return 3
    bridge = _Bridge()
    controller.publish = bridge.state.emit  # from the controller's thread: Qt queues it to this one
    worker = threading.Thread(target=_run_controller, args=(controller, bridge), name="qira-tray-engine", daemon=True)
    tray = _Tray(app, controller, bridge)
    bridge.finished.connect(app.quit)
    worker.start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: controller.dispatch(Command(action=Action.QUIT)))
    ticker = QTimer()
    ticker.start(200)  # lets Python run its signal handlers while Qt's loop waits
    ticker.timeout.connect(lambda: None)
    app.exec()
    controller.stop()
    worker.join(10)
    tray.icon.hide()
    return 0


def _run_controller(controller: TrayController, bridge: _Bridge) -> None:
    import asyncio

    try:
        asyncio.run(controller.run())
    except Exception:
        log.exception("the tray's engine stopped")
    finally:
        bridge.finished.emit()
