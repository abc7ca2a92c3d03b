"""The hub process: one asyncio loop serving HTTP and WebSocket on one port.

``Hub`` is the composition root: it builds each part from the config, wires them
together, starts the heavy ones warming in the background, and closes them in
order on SIGINT/SIGTERM. Each part has one ``_build_*`` method below.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn
from starlette.routing import BaseRoute

from .api.http import build_app
from .config import Config, ensure_data_dir
from .errors import StartupError
from .health import ComponentState, Health
from .inference import LocalModel
from .memory import Embedder

__all__ = ["Hub"]

log = logging.getLogger("qira.hub")

Hook = Callable[[], Awaitable[None]]


class Hub:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.data_dir: Path = ensure_data_dir(config)
        self.health = Health()
        self.routes: list[BaseRoute] = []
        self._startup_hooks: list[Hook] = []
        # Run in the order the parts were built, before uvicorn closes sockets: the
        # front door (sync) closes first, so no new work arrives while the parts
        # behind it stop.
        self._shutdown_hooks: list[Hook] = []
        self._background: set[asyncio.Task[object]] = set()

        self.embedder = Embedder(batch_size=config.memory.embed_batch_size)
        self.local_model = LocalModel(config.inference.local, socket_dir=self.data_dir / "run")
        self._build_sync()
        self._build_memory()
        self._build_inference()
        self._build_agent()
        self.on_shutdown(self._close_models)

    # -- parts -------------------------------------------------------------

    def _build_sync(self) -> None:
        from .sync import SyncServer

        # The WebSocket endpoint at /ws; stop() closes every device with 1001 and flushes sync.db.
        self.sync = SyncServer(self.config.sync, self.data_dir)
        self.routes.extend(self.sync.routes)
        self.on_startup(self.sync.start)
        self.on_shutdown(self.sync.stop)

    def _build_memory(self) -> None:
        from .errors import QiraError
        from .memory import MemoryStore, memory_handlers

        self.memory = MemoryStore(self.data_dir / "memory", self.config.memory, self.embedder)

        async def watch_index() -> None:
            try:
                await self.memory.wait_ready()
            except QiraError as exc:
                self.health.set("memory", ComponentState.ERROR, str(exc))
            else:
                self.health.set("memory", ComponentState.READY, f"{self.memory.index_status} index")

        async def open_memory() -> None:
            # SQLite opens at once; loading (or rebuilding) the FAISS index runs in the
            # background so /health answers within the start-up budget.
            self.health.set("memory", ComponentState.WARMING, "loading the index")
            await self.memory.open()
            self.spawn(watch_index(), "memory-index")

        self.on_startup(open_memory)
        self.on_shutdown(self.memory.close)
        for type_, handler in memory_handlers(self.memory).items():
            if type_ != "context.event":  # _build_agent wires it: memory keeps it, the agent fires triggers
                self.sync.register_handler(type_, handler)

    def _build_inference(self) -> None:
        from .inference import BreakerState, InferenceService

        def cloud_state(state: BreakerState | None = None) -> None:
            # /health shows the endpoint as the breaker sees it
            base_url = self.config.inference.cloud.base_url
            if not base_url:
                self.health.set("cloud", ComponentState.OFF, "no endpoint configured: everything runs locally")
            elif state is BreakerState.OPEN:
                self.health.set("cloud", ComponentState.ERROR, "failing: circuit open, requests run locally")
            else:
                self.health.set("cloud", ComponentState.READY, base_url)

        async def report_cloud() -> None:
            cloud_state()

        self.inference = InferenceService(
            self.config.inference, local=self.local_model, data_dir=self.data_dir, on_cloud_state=cloud_state
        )
        self.on_startup(report_cloud)
        self.on_shutdown(self.inference.close)

    def _build_agent(self) -> None:
        from .agent import Agent
        from .api.openai import openai_routes
        from .memory import extract_facts, memory_handlers

        self.agent = Agent(config=self.config.agent, skills=self.config.skills, data_dir=self.data_dir,
                           embedder=self.embedder, gateway=self.sync, memory=self.memory,
                           model=self.inference, extract_facts=extract_facts)

        async def start_agent() -> None:
            try:
                await self.agent.start(warm=self.config.hub.warm_up)
            except Exception as exc:  # the rest of the hub (sync, memory) keeps serving
                log.exception("the agent failed to start")
                self.health.set("agent", ComponentState.ERROR, f"{type(exc).__name__}: {exc}")
                return
            problems = "; ".join(f"{p.entry_point}: {p.error}" for p in self.agent.registry.problems)
            detail = f"{len(self.agent.registry)} skills" + (f" (not loaded: {problems})" if problems else "")
            self.health.set("agent", ComponentState.READY, detail)

        async def begin_agent() -> None:
            # In the background: importing LangGraph costs about half a second of the
            # start-up budget; messages that arrive meanwhile wait for the planner.
            self.health.set("agent", ComponentState.WARMING, "loading the planner")
            self.spawn(start_agent(), "agent-start")

        self.on_startup(begin_agent)
        self.on_shutdown(self.agent.stop)
        # the OpenAI-compatible API authenticates with a device token
        self.routes.extend(openai_routes(self.agent, self.sync.device_for_token))
        self.sync.register_handler("chat.send", self.agent.handle_chat_send)
        self.sync.register_handler("chat.history", self.agent.handle_chat_history)
        self.sync.register_handler("approval.respond", self.agent.handle_approval_respond)
        remember_context = memory_handlers(self.memory)["context.event"]

        async def context_event(device, payload):  # memory keeps it; the proactive loop fires triggers
            result = dict(await remember_context(device, payload))  # validates kind and value
            result["triggered"] = await self.agent.context_event(device, str(payload["kind"]), str(payload["value"]))
            return result

        self.sync.register_handler("context.event", context_event)

    # -- lifecycle ---------------------------------------------------------

    def on_startup(self, hook: Hook) -> None:
        self._startup_hooks.append(hook)

    def on_shutdown(self, hook: Hook) -> None:
        self._shutdown_hooks.append(hook)

    def spawn(self, coro: Awaitable[object], name: str) -> asyncio.Task[object]:
        """Run a background task owned by the hub (cancelled at shutdown)."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def start(self) -> None:
        """Bring up every part; heavy models warm in the background."""
        self.health.set("hub", ComponentState.READY)
        for hook in self._startup_hooks:
            await hook()
        if self.config.hub.warm_up:
            self.spawn(self.health.warm("embeddings", self.embedder.load), "warm-embeddings")
            self.spawn(self.health.warm("local_model", self.local_model.load), "warm-local-model")
        else:
            self.health.set("embeddings", ComponentState.WARMING, "loads on first use")
            self.health.set("local_model", ComponentState.WARMING, "loads on first use")

    async def stop(self) -> None:
        for task in list(self._background):  # nothing half-started goes on while the parts close
            task.cancel()
        for hook in self._shutdown_hooks:
            try:
                await hook()
            except Exception:  # one part failing to close must not stop the others
                log.exception("shutdown hook %s failed", getattr(hook, "__qualname__", hook))

    async def _close_models(self) -> None:
        await asyncio.to_thread(self.local_model.close)

    async def serve(self, *, on_listening: Callable[[str, int], None] | None = None) -> None:
        """Serve until SIGINT/SIGTERM, then shut down cleanly."""
        sock = bind_socket(self.config.hub.host, self.config.hub.port)
        host, port = sock.getsockname()[:2]
        await self.start()
        app = build_app(self.health, self.routes)
        sync = self.config.sync
        server = _Server(
            uvicorn.Config(
                app,
                ws="websockets-sansio",
                ws_max_size=sync.max_frame_bytes,
                ws_ping_interval=sync.ping_interval_s,
                ws_ping_timeout=sync.idle_timeout_s,
                lifespan="off",
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=5,
            ),
            before_shutdown=self.stop,
        )
        if on_listening is not None:
            on_listening(host, port)
        log.info("listening on %s:%d, data in %s", host, port, self.data_dir)
        # issue 11: where this hub listens, for `qira ask` on the same data directory
        announce = self.data_dir / "run" / "hub.json"
        with contextlib.suppress(OSError):
            announce.parent.mkdir(parents=True, exist_ok=True)
            announce.write_text(json.dumps({"pid": os.getpid(), "host": host, "port": port}))
        try:
            await server.serve(sockets=[sock])
        finally:
            sock.close()
            with contextlib.suppress(OSError, ValueError):
                if json.loads(announce.read_text()).get("pid") == os.getpid():
                    announce.unlink()
        log.info("stopped")


class _Server(uvicorn.Server):
    """Runs the hub's own shutdown (devices closed with 1001, writes flushed) before
    uvicorn closes the remaining connections."""

    def __init__(self, config: uvicorn.Config, *, before_shutdown: Hook) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._before_shutdown()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        # uvicorn re-raises the signal after a graceful shutdown, which turns a
        # clean stop into exit status 143; a clean stop here exits 0.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: without it a streamed delta waits ~40 ms for
    # the peer's delayed ACK (Nagle), which doubles a turn's first-delta latency.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use (another qira serve?): choose one with --port"
            ) from exc
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(512)
    sock.setblocking(False)
    return sock
