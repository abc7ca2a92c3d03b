"""The hub process: one asyncio loop serving HTTP and WebSocket on one port.

``Hub`` is the composition root: it builds each part from the config, wires them
together, starts the heavy ones warming in the background, and closes them in
order on SIGINT/SIGTERM. Each part has one ``_build_*`` method below.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import uvicorn
from starlette.routing import BaseRoute

from ._daemon import DaemonExecutor
from ._hubfile import HubInfo, hub_urls, remove_hub_file, write_hub_file
from ._hublock import HubLock
from .api.http import build_app
from .config import Config, ensure_data_dir
from .errors import StartupError
from .health import ComponentState, Health
from .inference import LocalModel
from .memory import Embedder
from .sync.transport import HubWebSocketProtocol

__all__ = ["Hub", "exit_now"]

log = logging.getLogger("qira.hub")

Hook = Callable[[], Awaitable[None]]

_CLOSE_MODELS_S = 0.5
_STOP_BUDGET_S = 1.2  # for every part's shutdown together; uvicorn and the interpreter need the rest of 2 s
_STOP_MIN_S = 0.05


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
        self._build_device_ops()
        self._build_mcp()
        self._build_admin()
        self._build_speech()
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
        from .inference import BreakerState, InferenceService, ProbeResult, probe_endpoint

        cloud_config = self.config.inference.cloud
        probe: list[ProbeResult] = []  # the latest probe of GET /models (issue 12)

        def cloud_state(state: BreakerState | None = None) -> None:
            # /health shows the endpoint as the probe and the breaker see it: `unknown` until
            # a probe has found the configured model, `error` while the circuit is open
            if not cloud_config.base_url:
                self.health.set("cloud", ComponentState.OFF, "no endpoint configured: everything runs locally")
                return
            breaker = state or (self.inference.cloud.breaker.state if self.inference.cloud else None)
            if breaker is BreakerState.OPEN:
                self.health.set("cloud", ComponentState.ERROR, "failing: circuit open, requests run locally")
            elif not probe:
                self.health.set("cloud", ComponentState.UNKNOWN, f"{cloud_config.base_url}: not probed yet")
            elif probe[-1].ok:
                self.health.set("cloud", ComponentState.READY, probe[-1].detail)
            else:
                self.health.set(
                    "cloud",
                    ComponentState.UNKNOWN,
                    f"{probe[-1].detail} (probing again every {cloud_config.probe_interval_s:g}s)",
                )

        async def probe_loop() -> None:
            while True:
                result = await probe_endpoint(cloud_config)
                if not probe or probe[-1] != result:
                    log.log(logging.INFO if result.ok else logging.WARNING, "cloud endpoint: %s", result.detail)
                probe[:] = [result]
                cloud_state()
                await asyncio.sleep(cloud_config.probe_interval_s)

        async def report_cloud() -> None:
            cloud_state()
            if cloud_config.base_url:
                self.spawn(probe_loop(), "cloud-probe")

        self.inference = InferenceService(
            self.config.inference, local=self.local_model, data_dir=self.data_dir, on_cloud_state=cloud_state
        )
        self.on_startup(report_cloud)
        self.on_shutdown(self.inference.close)

    def _build_agent(self) -> None:
        from .agent import Agent
        from .api.openai import openai_routes
        from .memory import extract_facts, memory_handlers

        self.agent = Agent(
            config=self.config.agent,
            skills=self.config.skills,
            data_dir=self.data_dir,
            embedder=self.embedder,
            gateway=self.sync,
            memory=self.memory,
            model=self.inference,
            extract_facts=extract_facts,
        )

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

    def _build_admin(self) -> None:
        # The CLI's way into this hub (issue 12): loopback only, with the secret in hub.json.
        from ._hubfile import new_admin_secret
        from .agent import agent_db_path
        from .api.admin import admin_routes, audit_op, devices_op, memory_op, pair_op, revoke_op
        from .sync import SyncStore

        self.admin_secret = new_admin_secret()

        def with_store(fn: Callable[..., object], *args: object, **kwargs: object) -> Awaitable[object]:
            def job() -> object:
                store = SyncStore.in_data_dir(self.data_dir)
                try:
                    return fn(store, *args, **kwargs)
                finally:
                    store.close()

            return asyncio.to_thread(job)

        async def reload_skills(_args: Any) -> dict[str, Any]:
            result = await self.agent.reload_skills(self.config.skills)
            problems = "; ".join(f"{p['entry_point']}: {p['error']}" for p in result["problems"])
            self.health.set(
                "agent",
                ComponentState.READY,
                f"{len(result['skills'])} skills" + (f" (not loaded: {problems})" if problems else ""),
            )
            return result

        ops: dict[str, Callable[[Any], Awaitable[Any]]] = {
            "devices.list": lambda a: asyncio.sleep(0, devices_op(None, live=self.sync.devices())),
            "devices.revoke": lambda a: with_store(revoke_op, str(a["name"])),
            "pair": lambda a: with_store(
                pair_op,
                str(a["name"]),
                str(a["kind"]),
                token=bool(a.get("token")),
                ttl_s=self.config.sync.pairing_code_ttl_s,
            ),
            "audit": lambda a: asyncio.to_thread(audit_op, agent_db_path(self.data_dir), a),
            "skills.reload": reload_skills,
        }

        def memory_verb(verb: str) -> Callable[[Any], Awaitable[Any]]:
            return lambda a: memory_op(self.memory, verb, a)

        for verb in ("add", "search", "forget", "list", "history", "export", "import", "context"):
            ops[f"memory.{verb}"] = memory_verb(verb)
        self.routes.extend(admin_routes(self.admin_secret, ops))

    def _build_device_ops(self) -> None:
        from .api.device_ops import DeviceOps

        # hub.status, settings.set, devices.list, approval.list: the hub as a whole, for the faces
        self.device_ops = DeviceOps(health=self.health, inference=self.inference, sync=self.sync, agent=self.agent)
        for type_, handler in self.device_ops.handlers().items():
            self.sync.register_handler(type_, handler)
        self.on_startup(self.device_ops.start)

    def _build_mcp(self) -> None:
        from . import __version__
        from .mcp import AgentTools, McpHttp, McpServers, ServerState, ServerStatus, memory_search, write_status

        # Qira as an MCP server at /mcp (device token as the bearer), and MCP servers as skills NAME.tool.
        if self.config.mcp.http:
            self.mcp_http = McpHttp(AgentTools(self.agent), self.sync.device_for_token, version=__version__)
            self.routes.extend(self.mcp_http.routes)

            async def start_http() -> None:
                self.health.set("mcp", ComponentState.READY, "/mcp: a device token as the bearer (loads on first use)")
                self.spawn(
                    self.mcp_http.run(
                        on_ready=lambda: self.health.set(
                            "mcp", ComponentState.READY, "serving /mcp (a device token as the bearer)"
                        )
                    ),
                    "mcp-http",
                )

            self.on_startup(start_http)
        states = {
            ServerState.READY: ComponentState.READY,
            ServerState.STARTING: ComponentState.WARMING,
            ServerState.ERROR: ComponentState.ERROR,
        }

        def server_status(status: ServerStatus) -> None:  # /health and `qira skill list` show each server
            self.health.set(f"mcp.{status.name}", states[status.state], status.reason)
            try:
                write_status(self.data_dir, self.mcp_servers.statuses(), self.mcp_servers.known())
            except OSError:
                log.warning("could not write the MCP status file", exc_info=True)

        self.mcp_servers = McpServers(
            self.config.mcp.servers, self.agent, log_dir=self.data_dir / "mcp" / "logs", on_status=server_status
        )

        async def start_servers() -> None:
            await self.agent.add_skills([memory_search], source="qira.mcp")
            await self.mcp_servers.start()

        self.on_startup(start_servers)
        self.on_shutdown(self.mcp_servers.stop)

    def _build_speech(self) -> None:
        # issue 15: audio frames -> captions and speech. Models load on the first stream
        # (or in the background with [speech] warm_up), never on the start-up path.
        from .speech import SpeechSettings
        from .speech._hub import build_speech

        cfg = self.config.speech
        if not cfg.enabled:
            self.health.set("speech", ComponentState.OFF, "disabled in [speech]")
            return
        cache = Path(cfg.model_cache_dir).expanduser() if cfg.model_cache_dir else self.data_dir / "models"
        self.speech = build_speech(
            cfg,
            SpeechSettings(cache_dir=cache),
            sync=self.sync,
            inference=self.inference,
            agent=self.agent,
            memory=self.memory,
        )
        for type_, handler in self.speech.handlers().items():
            self.sync.register_handler(type_, handler)
        self.sync.on_audio(self.speech.on_audio)
        self.sync.on_presence(self.speech.on_presence)

        async def report_speech() -> None:
            if cfg.warm_up:
                self.health.set("speech", ComponentState.WARMING, "loading Whisper base and Silero VAD")
                self.spawn(self.health.warm("speech", self.speech.warm), "warm-speech")
            else:
                self.health.set("speech", ComponentState.READY, "models load on the first audio stream")

        self.on_startup(report_speech)
        self.on_shutdown(self.speech.close)

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
        # Stopping has a budget (SIGTERM to exit within 2 s at any moment): a part still
        # warming up (the memory index waiting on an import, say) is not waited for. What
        # must not be lost is safe without it: every acknowledged write is committed already.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _STOP_BUDGET_S
        for hook in self._shutdown_hooks:
            name = getattr(hook, "__qualname__", hook)
            try:
                await asyncio.wait_for(hook(), max(_STOP_MIN_S, deadline - loop.time()))
            except TimeoutError:
                log.warning("%s did not finish in time: stopping without it", name)
            except Exception:  # one part failing to close must not stop the others
                log.exception("shutdown hook %s failed", name)

    def _write_hub_file(self, host: str, port: int) -> bool:
        """Record where this hub listens (``<data dir>/hub.json``) so the CLI finds it."""
        from . import __version__

        http_url, ws_url = hub_urls(host, port, tls=bool(self.config.hub.tls_cert))
        info = HubInfo(
            pid=os.getpid(),
            host=host,
            port=port,
            http_url=http_url,
            ws_url=ws_url,
            version=__version__,
            data_dir=str(self.data_dir),
            admin_secret=self.admin_secret,
            started_at=time.time(),
        )
        try:
            write_hub_file(self.data_dir, info)
        except OSError as exc:  # a read-only data dir still serves; the CLI then works on the files
            log.warning("could not write %s: %s", self.data_dir / "hub.json", exc)
            return False
        return True

    async def _close_models(self) -> None:
        # A model still loading holds its lock until it is done: do not wait for it at
        # shutdown (its daemon thread dies with the process).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(self.local_model.close), _CLOSE_MODELS_S)

    async def serve(self, *, on_listening: Callable[[str, int], None] | None = None) -> None:
        """Serve until SIGINT/SIGTERM, then shut down cleanly."""
        lock = HubLock(self.data_dir)
        lock.acquire()  # before anything is opened: one hub per data directory
        try:
            await self._serve_locked(on_listening)
        finally:
            lock.release()

    async def _serve_locked(self, on_listening: Callable[[str, int], None] | None) -> None:
        # Blocking calls run on daemon threads: a model still warming (seconds of imports)
        # is abandoned at exit instead of being joined, so stopping takes well under 2 s.
        asyncio.get_running_loop().set_default_executor(DaemonExecutor())
        cert, key = _tls_files(self.config.hub.tls_cert, self.config.hub.tls_key)  # checked before anything starts
        sock = bind_socket(self.config.hub.host, self.config.hub.port)
        host, port = sock.getsockname()[:2]
        await self.start()
        app = build_app(self.health, self.routes)
        sync = self.config.sync
        server = _Server(
            uvicorn.Config(
                app,
                ws=HubWebSocketProtocol,  # uvicorn's websockets-sansio, failing connections cleanly
                ws_max_size=sync.max_frame_bytes,
                ws_ping_interval=sync.ping_interval_s,
                ws_ping_timeout=sync.idle_timeout_s,
                lifespan="off",
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=5,
                # X-Forwarded-For is believed only from sync.trusted_proxies, by the sync layer
                # itself (uvicorn's default would trust it from 127.0.0.1)
                proxy_headers=False,
                ssl_certfile=cert,
                ssl_keyfile=key,
            ),
            before_shutdown=self.stop,
        )
        hub_file = self._write_hub_file(host, port)
        if on_listening is not None:
            on_listening(host, port)
        log.info("listening on %s:%d, data in %s", host, port, self.data_dir)
        try:
            await server.serve(sockets=[sock])
        finally:
            sock.close()
            if hub_file:
                remove_hub_file(self.data_dir, os.getpid())
        log.info("stopped")


def exit_now(code: int = 0) -> NoReturn:
    """End the process at once after :meth:`Hub.serve` returned.

    Everything worth keeping is closed and flushed by then; what is left is threads
    still importing models (seconds of torch and transformers on a busy machine) and
    the interpreter's teardown of those modules, which would hold a stop beyond 2 s."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _tls_files(cert: str, key: str) -> tuple[str | None, str | None]:
    """uvicorn's TLS files (None, None: plain HTTP), after checking the pair loads (a one-line
    error, not a traceback)."""
    if not cert and not key:
        return None, None
    if not (cert and key):
        raise StartupError("TLS needs both a certificate and its key (--tls-cert and --tls-key)")
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(f"cannot use the TLS certificate {cert} with key {key}: {exc}") from exc
    return cert, key


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
    def capture_signals(self) -> Iterator[None]:
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
