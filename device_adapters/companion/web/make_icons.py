"""Draw the companion's icons (a white "Q" ring on Qira blue) as PNGs, with the standard
library only. Run once when the design changes; the PNGs are committed and the build
copies them: ``python3 make_icons.py`` (from this folder)."""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

BLUE = (0x1F, 0x4E, 0x79)
WHITE = (0xFF, 0xFF, 0xFF)


def _png(size: int, pixel) -> bytes:
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y, size)) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _q(scale: float):
    """The glyph inside a ``scale`` fraction of the icon (maskable icons keep a safe zone)."""

    def pixel(x: int, y: int, size: int) -> tuple[int, int, int]:
        cx = cy = size / 2
        r = math.hypot(x + 0.5 - cx, y + 0.5 - cy) / (size / 2) / scale
        ring = 0.42 <= r <= 0.62
        # the tail: a short stroke down and to the right from the ring
        u, v = (x + 0.5 - cx) / size / scale, (y + 0.5 - cy) / size / scale
        tail = 0.12 <= u <= 0.34 and abs(v - u) < 0.055
        return WHITE if ring or tail else BLUE

    return pixel


def main() -> None:
    here = Path(__file__).parent / "icons"
    here.mkdir(exist_ok=True)
    (here / "icon-192.png").write_bytes(_png(192, _q(1.0)))
    (here / "icon-512.png").write_bytes(_png(512, _q(1.0)))
    (here / "icon-maskable-512.png").write_bytes(_png(512, _q(0.75)))


if __name__ == "__main__":
    main()
