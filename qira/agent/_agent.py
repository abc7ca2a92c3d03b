"""The agent service: turns from devices (and the OpenAI-compatible API), approvals,
notifications and the proactive loop, around the planner graph."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from ..config import AgentConfig, SkillsConfig
from ..devices import DeviceGateway, DeviceInfo
from ..errors import ProtocolError, SkillError, UnknownDevice
from ..sdk import Scheduled, Skill
from ._audit import AuditEntry, AuditLog, Outcome
from ._db import AgentDB, agent_db_path
from ._direct import DIRECT_THREAD, call_directly
from ._graph import Planner, TurnSink
from ._host import HostServices
from ._intent import IntentMatcher, Thresholds
from ._ports import MemoryPort, ModelPort
from ._registry import SkillRegistry
from ._runner import SkillRunner, StepResult
from ._scheduler import Scheduler
from ._sinks import DeviceSink, QueueSink, SpokenSink, TurnEvent
from ._support import THREAD_ID, _approval_payload, _import_langgraph, _in_tx, _log_failure, _pending_text, _validated
from ._targets import active_devices, pick_device

__all__ = ["Agent"]

log = logging.getLogger("qira.agent")

MAX_CACHED_THREADS = 1000
_Sink = TypeVar("_Sink", bound=DeviceSink)


class Agent:
    def __init__(
        self,
        *,
        config: AgentConfig,
        skills: SkillsConfig,
        data_dir: Path,
        embedder: Any,
        gateway: DeviceGateway | None = None,
        memory: MemoryPort | None = None,
        model: ModelPort | None = None,
        registry: SkillRegistry | None = None,
        extract_facts: Callable[[str], list[Any]] | None = None,
    ) -> None:
        self.config = config
        self.gateway = gateway
        self.db = AgentDB(agent_db_path(data_dir))
        self.dir = self.db.path.parent
        self.audit = AuditLog(self.db)
        self.registry = registry if registry is not None else SkillRegistry.from_entry_points(skills)
        self.scheduler = Scheduler(self.db, self._deliver_scheduled, self._reminder_changed)
        self.services = HostServices(
            db=self.db,
            scheduler=self.scheduler,
            data_dir=data_dir,
            gateway=gateway,
            memory=memory,
            model=model,
            notify=self.notify,
        )
        self.runner = SkillRunner(self.registry, self.services, self.audit, default_timeout_s=config.skill_timeout_s)
        self.matcher = IntentMatcher(
            list(self.registry),
            embedder,
            thresholds=Thresholds.from_config(config),
            cache=self.dir / "intent-vectors.npz",
        )
        self.planner = Planner(
            registry=self.registry,
            matcher=self.matcher,
            runner=self.runner,
            model=model,
            memory=memory,
            extract_facts=extract_facts,
            device_lookup=self._device,
        )
        self._graph: Any = None
        self._started = asyncio.Event()  # set when start() is over, whether it worked or not
        self._saver_cm: Any = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._participants: dict[str, list[str]] = {}
        self._paused_sinks: dict[str, TurnSink] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._activity: dict[str, float] = {}  # device id -> when the person last talked to Qira on it
        self._waiters: dict[str, asyncio.Future[str]] = {}  # direct-call approval id -> its answer
        self._loaded_at = time.time()  # skill modules changed after this are re-imported by reload_skills
        self._embedder = embedder

    # -- lifecycle ---------------------------------------------------------

    async def start(self, *, warm: bool = True) -> None:
        """Build the graph and start the proactive loop. Messages that arrive before
        this is over wait for it (the hub runs it in the background: importing
        LangGraph alone takes about half a second)."""
        try:
            await asyncio.to_thread(_import_langgraph)
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            self._saver_cm = AsyncSqliteSaver.from_conn_string(str(self.dir / "checkpoints.sqlite"))
            saver = await self._saver_cm.__aenter__()
            self._graph = self.planner.build(saver)
            self._spawn(self.scheduler.run(), "agent-proactive-loop")
            if warm:
                self._spawn(self.matcher.prepare(), "agent-intents")
            await self._rearm_approvals()
        finally:
            self._started.set()

    async def reload_skills(self, skills: SkillsConfig) -> dict[str, Any]:
        """Re-discover skill packages, re-importing the ones whose files changed (issue 12:
        a pattern change needs no restart). Turns already running keep the skills they had."""
        from ._reload import forget_changed_skill_modules

        before = {s.name for s in self.registry}
        dropped = await asyncio.to_thread(forget_changed_skill_modules, self._loaded_at)
        fresh = await asyncio.to_thread(SkillRegistry.from_entry_points, skills)
        self._loaded_at = time.time()
        self.registry.replace(fresh)
        self.matcher = self.planner.matcher = IntentMatcher(list(self.registry), self._embedder)
        await self.matcher.prepare()
        after = {s.name for s in self.registry}
        return {
            "skills": sorted(after),
            "added": sorted(after - before),
            "removed": sorted(before - after),
            "reloaded_modules": dropped,
            "problems": [{"entry_point": p.entry_point, "error": p.error} for p in self.registry.problems],
        }

    async def _ready_graph(self) -> Any:
        await self._started.wait()
        if self._graph is None:
            raise ProtocolError("the agent failed to start: see the hub's log", code="internal_error")
        return self._graph

    async def stop(self) -> None:
        for task in [*self._tasks, *self._timers.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._timers.values(), return_exceptions=True)
        if self._saver_cm is not None:
            await self._saver_cm.__aexit__(None, None, None)
            self._saver_cm = None
        self.db.close()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)
        return task

    def _device(self, device_id: str) -> DeviceInfo | None:
        if self.gateway is None:
            return None
        return next((d for d in self.gateway.devices() if d.id == device_id), None)

    # -- turns -------------------------------------------------------------

    async def handle_chat_send(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """``chat.send``: answers ``{thread, turn}`` at once; the answer follows as events."""
        text, thread = _validated(payload)
        sink = await self._start_turn(device, text, thread, DeviceSink)
        return {"thread": sink.thread, "turn": sink.turn}

    async def say(self, device: DeviceInfo, text: str, *, thread: str | None = None) -> tuple[str, TurnEvent]:
        """A spoken turn (voice chat): a turn of ``device`` like a ``chat.send`` — its
        devices get ``chat.done``, even after an approval — that also returns the answer to
        speak (or the line saying it waits for an approval), with its thread."""
        text, thread = _validated({"text": text, **({"thread": thread} if thread else {})})
        sink = await self._start_turn(device, text, thread, SpokenSink)
        return sink.thread, await sink.answer

    async def _start_turn(self, device: DeviceInfo, text: str, thread: str | None, kind: type[_Sink]) -> _Sink:
        self._activity[device.id] = time.time()
        turn = uuid.uuid4().hex[:12]
        if thread is None:  # a new thread: nothing to look up, nothing paused
            thread = uuid.uuid4().hex[:12]
            participants = self._participants[thread] = [device.id]
        else:
            await self._check_not_paused(thread)
            participants = await self._thread_participants(thread, device.id)
        sink = kind(self.gateway, thread=thread, turn=turn, participants=participants, asking=device.id, question=text)
        self._spawn(self._run(thread, turn, self._input(device, text, thread, turn), sink), f"turn-{turn}")
        return sink

    async def handle_chat_history(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """``chat.history``: the thread's messages, so another device can pick it up."""
        thread = payload.get("thread")
        if not isinstance(thread, str) or not THREAD_ID.match(thread):
            raise ProtocolError("chat.history needs a thread id", code="invalid_params")
        async with self._lock(thread):  # after the turn in flight has been saved
            values = await self._thread_values(thread)
        if not values:
            raise ProtocolError(f"no thread {thread}", code="thread_not_found")
        return {
            "thread": thread,
            "messages": list(values.get("messages", []))[-50:],
            "participants": list(values.get("participants", [])),
        }

    async def ask(
        self,
        device: DeviceInfo,
        text: str,
        *,
        history: Sequence[Mapping[str, str]] = (),
        thread: str | None = None,
        options: Mapping[str, Any] | None = None,
        request_key: str | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """One turn for an in-process caller (the OpenAI-compatible API): events as they come.

        ``options``: ``system`` text, ``max_tokens``, ``temperature``, ``stop`` for the model.
        A turn that needs an approval ends at once with a ``pending`` event. ``request_key``
        names the request (a hash of it, or the client's idempotency key): asked again, it
        gets the same pending approval, or the answer once approved, and never a second one."""
        if request_key is not None:
            key = hashlib.sha256(f"{device.id}\n{request_key}".encode()).hexdigest()[:24]
            prior = await self._prior_request(key)
            if prior is not None:
                yield prior
                return
            thread = f"api-{key}-{uuid.uuid4().hex[:12]}"
        thread = thread or f"api-{uuid.uuid4().hex[:12]}"
        turn = uuid.uuid4().hex[:12]
        sink = QueueSink()
        graph_input = self._input(device, text, thread, turn)
        graph_input["messages"] = [{"role": m["role"], "content": m["content"]} for m in history]
        graph_input["options"] = dict(options or {})
        task = self._spawn(self._run(thread, turn, graph_input, sink), f"turn-{turn}")
        try:
            async for event in sink.events():
                if event.kind == "done":
                    info = self.planner.info.pop(turn, {})
                    event = replace(
                        event,
                        usage=tuple(info["usage"]) if "usage" in info else None,
                        finish=info.get("finish", "stop"),
                    )
                yield event
        finally:
            self.planner.info.pop(turn, None)
            if not task.done() and thread not in self._paused_sinks:
                task.cancel()

    async def explain(self, thread: str) -> dict[str, Any]:
        """How the thread's last turn was planned: the route and why, and the intent decision."""
        async with self._lock(thread):
            values = await self._thread_values(thread)
        return {
            "route": dict(values.get("route") or {}),
            "intent": dict(values.get("intent") or {}),
            "served": values.get("served") or (values.get("route") or {}).get("target", "local"),
        }

    async def _prior_request(self, key: str) -> TurnEvent | None:
        """The same API request seen before with an approval: still pending, or lately resolved."""
        row = await self.db.run(
            lambda c: c.execute(
                "SELECT * FROM approvals WHERE thread LIKE ? ORDER BY created_at DESC LIMIT 1", (f"api-{key}-%",)
            ).fetchone()
        )
        if row is None:
            return None
        if row["status"] == "pending":
            return TurnEvent(
                kind="pending", text=_pending_text(row["summary"], row["id"]), approval=_approval_payload(row)
            )
        if (row["resolved_at"] or 0) < time.time() - self.config.approval_timeout_s:
            return None  # long ago: a new request
        async with self._lock(row["thread"]):  # after the resumed turn has finished
            values = await self._thread_values(row["thread"])
        answer = next((m["content"] for m in reversed(values.get("messages", [])) if m.get("role") == "assistant"), "")
        return TurnEvent(kind="done", text=answer or f"That request was {row['status']}.")

    def _input(self, device: DeviceInfo, text: str, thread: str, turn: str) -> dict[str, Any]:
        return {
            "text": text,
            "thread": thread,
            "turn": turn,
            "device": {"id": device.id, "name": device.name, "kind": device.kind.value},
        }

    def _lock(self, thread: str) -> asyncio.Lock:
        if len(self._locks) > MAX_CACHED_THREADS:  # forget idle threads' locks and participants
            for name in [n for n, lock in self._locks.items() if not lock.locked()]:
                del self._locks[name]
            self._participants.clear()  # reloaded from the checkpoint when needed
        return self._locks.setdefault(thread, asyncio.Lock())

    async def _thread_values(self, thread: str) -> Mapping[str, Any]:
        """The thread's checkpointed state (empty for a thread never seen)."""
        state = await (await self._ready_graph()).aget_state({"configurable": {"thread_id": thread}})
        return state.values or {}

    async def _thread_participants(self, thread: str, device_id: str) -> list[str]:
        known = self._participants.get(thread)
        if known is None:
            known = list((await self._thread_values(thread)).get("participants", []))
        if device_id not in known:
            known = [*known, device_id]
        self._participants[thread] = known
        return known

    async def _check_not_paused(self, thread: str) -> None:
        row = await self.db.run(
            lambda c: c.execute(
                "SELECT id, summary FROM approvals WHERE thread = ? AND status = 'pending'", (thread,)
            ).fetchone()
        )
        if row:
            raise ProtocolError(
                f"thread {thread} is waiting for approval {row['id']} ({row['summary']}): approve or deny it first",
                code="approval_pending",
            )

    async def _run(self, thread: str, turn: str, graph_input: Any, sink: TurnSink) -> None:
        async with self._lock(thread):  # one turn at a time per thread; threads run side by side
            self.planner.sinks[turn] = sink
            try:
                # Checkpoint when the run ends (done, or paused for an approval): a turn cut
                # short by a crash is not resumed anyway, and per-node writes cost latency.
                out = await (await self._ready_graph()).ainvoke(
                    graph_input, {"configurable": {"thread_id": thread}}, durability="exit"
                )
            except Exception as exc:  # one broken turn must not take the hub down
                log.exception("turn %s in thread %s failed", turn, thread)
                await sink.done(
                    f"Sorry, that went wrong inside Qira: {type(exc).__name__}: {exc}",
                    route="local",
                    degraded=False,
                    reason=f"the turn failed inside Qira ({type(exc).__name__})",
                )
                return
            finally:
                self.planner.sinks.pop(turn, None)
                if not isinstance(sink, QueueSink):
                    self.planner.info.pop(turn, None)  # only the API reads it
            pending = out.get("__interrupt__") if isinstance(out, Mapping) else None
            if pending:
                self._paused_sinks[thread] = sink
                payload = await self._request_approval(thread, turn, pending[0].value, out.get("device", {}))
                if isinstance(sink, QueueSink | SpokenSink):  # the caller hears at once that it waits
                    await sink.paused(_pending_text(payload["summary"], payload["approval"]), payload)
            else:
                self._paused_sinks.pop(thread, None)

    # -- approvals ---------------------------------------------------------

    async def _request_approval(
        self, thread: str, turn: str, value: Mapping[str, Any], asking: Mapping[str, Any]
    ) -> dict[str, Any]:
        approval_id = value["approval"]
        now = time.time()
        expires_at = now + self.config.approval_timeout_s
        await self.db.run(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO approvals (id, thread, turn, skill, summary, risk, device, created_at, expires_at,"
                " status) VALUES (?,?,?,?,?,?,?,?,?, 'pending')",
                (
                    approval_id,
                    thread,
                    turn,
                    value["skill"],
                    value["summary"],
                    value["risk"],
                    asking.get("id"),
                    now,
                    expires_at,
                ),
            )
        )
        payload = {
            "approval": approval_id,
            "skill": value["skill"],
            "summary": value["summary"],
            "risk": value["risk"],
            "expires_at": expires_at,
            "thread": thread,
            "turn": turn,
        }
        targets = {d.id for d in active_devices(self.gateway.devices())} if self.gateway else set()
        if asking.get("id"):
            targets.add(asking["id"])
        for device_id in sorted(targets):
            await self._push(device_id, "approval.request", payload)
        self._arm(approval_id, expires_at)
        return payload

    def _arm(self, approval_id: str, expires_at: float) -> None:
        async def expire() -> None:
            await asyncio.sleep(max(0.0, expires_at - time.time()))
            self._timers.pop(approval_id, None)
            try:
                await self.resolve_approval(approval_id, approve=False, by=None)
            except ProtocolError:
                pass  # answered in the same instant: the answer wins

        self._timers[approval_id] = asyncio.ensure_future(expire())

    async def _rearm_approvals(self) -> None:
        rows = await self.db.run(
            lambda c: c.execute("SELECT id, expires_at FROM approvals WHERE status = 'pending'").fetchall()
        )
        for row in rows:
            self._arm(row["id"], row["expires_at"])

    async def handle_approval_respond(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        approval_id, approve = payload.get("approval"), payload.get("approve")
        if not isinstance(approval_id, str) or not isinstance(approve, bool):
            raise ProtocolError(
                "approval.respond needs approval (string) and approve (true or false)", code="invalid_params"
            )
        self._activity[device.id] = time.time()
        status = await self.resolve_approval(approval_id, approve=approve, by=device.id)
        return {"approval": approval_id, "status": status}

    async def resolve_approval(self, approval_id: str, *, approve: bool, by: str | None) -> str:
        """Approve or deny (``by=None``: it expired). The paused turn resumes in the background."""
        status = "approved" if approve else ("denied" if by else "expired")

        def update(c: Any) -> Any:
            row = c.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
            if row is not None and row["status"] == "pending":
                c.execute(
                    "UPDATE approvals SET status = ?, resolved_by = ?, resolved_at = ? WHERE id = ?",
                    (status, by, time.time(), approval_id),
                )
            return row

        # check and update in one transaction: the timer and two devices may answer at once
        row = await self.db.run(lambda c: _in_tx(c, update))
        if row is None:
            raise ProtocolError(f"no approval {approval_id}", code="approval_not_found")
        if row["status"] != "pending":
            raise ProtocolError(f"approval {approval_id} was already {row['status']}", code="approval_resolved")
        timer = self._timers.pop(approval_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        resolved = {"approval": approval_id, "status": status, "by": by, "thread": row["thread"], "turn": row["turn"]}
        for d in active_devices(self.gateway.devices()) if self.gateway else []:
            await self._push(d.id, "approval.resolved", resolved)
        thread = row["thread"]
        waiter = self._waiters.pop(approval_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(status)
        if thread.startswith(DIRECT_THREAD):  # a direct call waits on it (or gave up): no turn to resume
            return status
        sink = self._paused_sinks.pop(thread, None)
        if sink is None:  # the hub restarted while paused: answer the thread's devices
            participants = await self._thread_participants(thread, row["device"] or "")
            sink = DeviceSink(
                self.gateway, thread=thread, turn=row["turn"], participants=participants, asking=row["device"]
            )
        from langgraph.types import Command

        async def resume() -> None:
            await self.matcher.warm()  # a hub that just restarted: the models load before the skill's timeout starts
            await self._run(thread, row["turn"], Command(resume={"status": status, "by": by}), sink)

        self._spawn(resume(), f"resume-{approval_id}")
        return status

    # -- skills called directly (MCP clients) ------------------------------

    async def add_skills(self, skills: Sequence[Skill], *, source: str, grants: Sequence[str] = ()) -> list[str]:
        """Skills that appear while running (an MCP server's tools): planned, granted,
        approved and audited like any other. Returns the names added."""
        added = [s for s in skills if self.registry.add(s, source=source, grants=grants)]
        await self.matcher.add(added)
        return [s.name for s in added]

    def remove_skills(self, names: Sequence[str]) -> None:
        self.matcher.remove(names)
        for name in names:
            self.registry.remove(name)

    async def call_skill(
        self, device: DeviceInfo, name: str, arguments: Mapping[str, Any], *, via: str = "direct"
    ) -> StepResult:
        """Run one skill for ``device`` outside a conversation (an MCP client's tool call):
        its grants, timeout and audit as in a turn, and a high-risk skill waits for the
        person's approval on their devices."""
        return await call_directly(self, device, name, arguments, via=via)

    async def pending_approvals(self) -> list[dict[str, Any]]:
        rows = await self.db.run(lambda c: c.execute("SELECT * FROM approvals WHERE status = 'pending'").fetchall())
        return [dict(r) for r in rows]

    # -- devices and the proactive loop -------------------------------------

    async def _push(self, device_id: str, type: str, payload: Mapping[str, Any]) -> None:
        if self.gateway is None:
            return
        try:
            await self.gateway.push(device_id, type, payload)
        except UnknownDevice:  # revoked: nothing to deliver to, nothing to report
            log.debug("%s not pushed: device %s is no longer paired", type, device_id)
        except Exception:  # one unreachable device must not stop the others
            log.warning("could not push %s to %s", type, device_id, exc_info=True)

    async def notify(
        self, device: str | None, *, title: str, text: str, kind: str = "info", data: Mapping[str, Any] | None = None
    ) -> str | None:
        """Deliver a ``notify`` event to ``device``, or to the one the person is most likely using."""
        if self.gateway is None:
            raise SkillError("no devices are connected to this hub")
        devices = self.devices()
        target = next((d for d in devices if d.id == device), None) if device else pick_device(devices)
        if target is None:
            raise SkillError(f"no device {device!r}" if device else "the person has no paired devices")
        payload = {"title": title, "text": text, "kind": kind, **({"data": dict(data)} if data else {})}
        await self.gateway.push(target.id, "notify", payload)
        return target.id

    def devices(self) -> list[DeviceInfo]:
        """The gateway's devices, with talking to Qira counted as activity."""
        out = []
        for d in self.gateway.devices() if self.gateway else []:
            talked = self._activity.get(d.id)
            out.append(replace(d, last_active=max(d.last_active or 0.0, talked)) if talked else d)
        return out

    async def _reminder_changed(self, item: Scheduled, status: str) -> None:
        # Optional on the port: a gateway that keeps shared documents shows reminders there.
        record = getattr(self.gateway, "record_reminder", None)
        if record is not None:
            await record(
                id=item.id,
                title=item.title,
                text=item.text,
                kind=item.kind,
                due_at=None if item.on_context else item.due_at,
                trigger="=".join(item.on_context) if item.on_context else None,
                status=status,
                device=item.device,
            )

    async def _deliver_scheduled(self, item: Scheduled) -> str | None:
        target = await self.notify(item.device, title=item.title, text=item.text, kind=item.kind)
        await self.audit.append(
            AuditEntry(
                ts=time.time(),
                skill="proactive",
                action=f"deliver {item.kind} {item.id}",
                outcome=Outcome.OK,
                detail=item.text,
                device=target,
                permissions_used=("notify",),
            )
        )
        return target

    async def context_event(self, device: DeviceInfo, kind: str, value: str) -> int:
        """A context event from a device (place, activity, ...) fires the triggers waiting for it."""
        return await self.scheduler.context_event(kind, value)
