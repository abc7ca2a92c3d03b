"""One line per event, on stderr, at the configured level."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter stays at warning unless we debug.
    quiet = logging.DEBUG if level == "debug" else logging.WARNING
    # faiss.loader logs eight lines at INFO on import, one a ModuleNotFoundError it recovers from.
    for name in (
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "httpx",
        "httpcore",
        "sentence_transformers",
        "faiss",
        "faiss.loader",
    ):
        logging.getLogger(name).setLevel(quiet)
