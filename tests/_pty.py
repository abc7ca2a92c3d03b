"""Drive a process through a real pseudo-terminal and read its screen (stdlib only).

``Screen`` applies what a terminal would: ``\\r`` returns to the start of the
line, ``ESC [ K`` erases to its end, other escape sequences are dropped. So a
status line rewritten in place shows once, as a person would see it.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Mapping, Sequence

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*([A-Za-z])")


class Screen:
    def __init__(self) -> None:
        self.lines: list[str] = [""]
        self.col = 0

    def feed(self, text: str) -> None:
        pos = 0
        while pos < len(text):
            m = _ESCAPE.match(text, pos)
            if m:
                if m.group(1) == "K":
                    self.lines[-1] = self.lines[-1][: self.col]
                pos = m.end()
                continue
            ch = text[pos]
            pos += 1
            if ch == "\r":
                self.col = 0
            elif ch == "\n":
                self.lines.append("")
                self.col = 0
            elif ch >= " " or ch == "\t":
                line = self.lines[-1]
                self.lines[-1] = line[: self.col] + ch + line[self.col + 1 :]
                self.col += 1

    def text(self) -> str:
        return "\n".join(self.lines)


class PtyProcess:
    def __init__(self, cmd: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            list(cmd),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dict(env or os.environ),
            close_fds=True,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.screen = Screen()
        self.raw = ""

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the process ended and the terminal closed
            time.sleep(timeout)
            return
        text = data.decode("utf-8", "replace")
        self.raw += text
        self.screen.feed(text)

    def expect(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        """Wait until the screen matches ``pattern`` (a regex); fail with the screen shown."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.screen.text())
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} never appeared on the screen:\n{self.screen.text()}")
            self._read(0.1)

    def wait(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError("the process did not exit:\n" + self.screen.text())
            self._read(0.1)
        self._read(0.1)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        try:
            os.close(self.master)
        except OSError:
            pass
