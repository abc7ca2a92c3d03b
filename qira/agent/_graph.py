"""The planner: a LangGraph StateGraph, one node per step of a turn.

receive → recall → route → plan → approve → act → respond → learn

The state is checkpointed per thread (SQLite), so a thread continues on another
device, and a turn paused at ``approve`` (``interrupt``) survives a hub restart.
Deltas go to a :class:`TurnSink` looked up by turn id: sinks are live objects
and never enter the checkpoint.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ..devices import DeviceInfo, DeviceKind
from ..errors import InferenceError, MemoryStoreError, QiraError
from ..inference import (
    ChatMessage,
    ChatRequest,
    Finish,
    MemoryRef,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    detect_personal_data,
)
from ..memory import MemoryKind, Scope
from ..sdk import InvalidArguments, Permission
from ._answer import BEYOND_LOCAL, WearableBuffer, beyond_local, grounding, memory_reader, relevant_memories
from ._display import shape_for
from ._host import visible_hits
from ._intent import Decision, IntentMatcher
from ._ports import MemoryPort, ModelPort
from ._registry import SkillRegistry
from ._runner import SkillRunner
from ._turn import (
    TurnSink,
    TurnState,
    _affirmative,
    _ask_back,
    _failover,
    _intent_names,
    _kind,
    _NullSink,
    _served,
    _worse,
)

__all__ = ["Planner", "TurnSink", "TurnState"]

log = logging.getLogger("qira.agent.planner")

WEARABLE_CHARS = 280  # what a watch shows of one answer
HISTORY = 12  # messages of the thread the model sees
RECALL_K = 8  # searched; device-scope memories of other devices are then dropped
SYSTEM = "You are Qira, a personal assistant that lives on the person's devices. Answer briefly and plainly."


class Planner:
    def __init__(
        self,
        *,
        registry: SkillRegistry,
        matcher: IntentMatcher,
        runner: SkillRunner,
        model: ModelPort | None,
        memory: MemoryPort | None,
        extract_facts: Callable[[str], list[Any]] | None = None,
        device_lookup: Callable[[str], DeviceInfo | None] | None = None,
    ) -> None:
        self.registry = registry
        self.matcher = matcher
        self.runner = runner
        self.model = model
        self.memory = memory
        self.extract_facts = extract_facts
        self.device_lookup = device_lookup
        self.sinks: dict[str, TurnSink] = {}
        # per turn, for the API: model usage, finish reason, why the local model stood in
        self.info: dict[str, dict[str, Any]] = {}

    def build(self, checkpointer: Any) -> Any:
        from langgraph.graph import END, START, StateGraph  # imported off the start-up path (Agent.start)

        g = StateGraph(TurnState)
        steps = ["receive", "recall", "route", "plan", "approve", "act", "respond", "learn"]
        for step in steps:
            g.add_node(step, getattr(self, step))
        g.add_edge(START, steps[0])
        for a, b in itertools.pairwise(steps):
            g.add_edge(a, b)
        g.add_edge(steps[-1], END)
        return g.compile(checkpointer=checkpointer)

    # -- helpers -----------------------------------------------------------

    def _confident(self, state: TurnState) -> bool:
        return (state.get("intent") or {}).get("decision") == Decision.ACT.value

    def _sink(self, state: TurnState) -> TurnSink:
        return self.sinks.get(state.get("turn", ""), _NullSink())

    def _device(self, state: TurnState) -> DeviceInfo:
        d = state["device"]
        live = self.device_lookup(d["id"]) if self.device_lookup else None
        return live or DeviceInfo(id=d["id"], name=d.get("name", d["id"]), kind=DeviceKind(d.get("kind", "pc")))

    def _messages(self, state: TurnState) -> list[ChatMessage]:
        system = SYSTEM
        extra = (state.get("options") or {}).get("system")
        if extra:  # the API caller's system messages come first: they say how to answer
            system = f"{extra}\n\n{system}"
        hint = shape_for(self._device(state).capabilities).hint if state.get("device") else ""
        if hint:  # the asking device's screen (the display capability)
            system += "\n" + hint
        system += grounding(state.get("recalled") or [])
        history = [ChatMessage(role=m["role"], content=m["content"]) for m in state.get("messages", [])[-HISTORY:]]
        return [ChatMessage(role="system", content=system), *history]

    def _request(self, state: TurnState, messages: list[ChatMessage] | None = None, **kw: Any) -> ChatRequest:
        top = state.get("intents") or [{}]
        shaped = shape_for(self._device(state).capabilities).max_tokens if state.get("device") else None
        if shaped is not None and not (state.get("options") or {}).get("max_tokens"):
            kw["max_tokens"] = shaped  # the asking device's screen sets the answer's length, unless the caller did
        # The recalled memories travel as data too: the router decides which may leave the hub
        # (never private or device scope, never below its relevance cutoff, never personal data).
        memories = [
            MemoryRef(text=r["text"], scope=r["scope"], score=r.get("score")) for r in state.get("recalled", [])
        ]
        return ChatRequest(
            messages=self._messages(state) if messages is None else messages,
            memories=memories,
            intent_confidence=top[0].get("score"),
            **kw,
        )

    # -- nodes -------------------------------------------------------------

    async def receive(self, state: TurnState) -> dict[str, Any]:
        text = state["text"].strip()
        return {
            "messages": [{"role": "user", "content": text}],
            "participants": [state["device"]["id"]],
            "text": text,
            "recalled": [],
            "intents": [],
            "intent": {},
            "calls": [],
            "approvals": {},
            "results": [],
            "answer": "",
            "mode": "",
            "degraded": False,
            "fallback": False,
            "reason": "",
            "route": {},
            "answer_streamed": False,
            "served": "",
            "options": state.get("options") or {},
        }

    async def recall(self, state: TurnState) -> dict[str, Any]:
        # One embedding of the words serves both the memory search and the intent match.
        try:
            vector = await self.matcher.embed(state["text"])
        except QiraError as exc:  # no embeddings: patterns still match, memory embeds on its own
            log.warning("cannot embed the message: %s", exc)
            vector = None
        recalled: list[dict[str, Any]] = []
        if self.memory is not None:
            try:
                hits = await self.memory.search(
                    state["text"], k=RECALL_K, **({"embedding": vector} if vector is not None else {})
                )
                recalled = [
                    {
                        "id": h.memory.id,
                        "text": h.memory.text,
                        "scope": h.memory.scope.value,
                        "score": round(h.score, 4),
                        "similarity": round(float((h.explanation or {}).get("similarity", h.score)), 4),
                    }
                    for h in visible_hits(hits, state["device"]["id"])
                ]
                recalled = [dict(r) for r in relevant_memories(recalled)][:5]
            except MemoryStoreError as exc:  # answer without memories rather than not at all
                log.warning("recall failed: %s", exc)
        offer = state.get("offer")
        if offer and _affirmative(state["text"]) and offer.get("skill") in self.registry:
            # "yes" to "Save that as a note?": the offered skill, on the words it was offered for
            intent = {
                "decision": Decision.ACT.value,
                "skill": offer["skill"],
                "reason": "the person said yes",
                "offered_text": offer.get("text", ""),
            }
            intents = [{"skill": offer["skill"], "score": 1.0, "arguments": offer.get("arguments")}]
            return {"recalled": recalled, "intents": intents, "intent": intent, "offer": None}
        if not len(self.registry):
            return {"recalled": recalled, "intents": [], "intent": {"decision": Decision.MODEL.value}, "offer": None}
        found = await self.matcher.classify(state["text"], vector=vector)
        chosen = found.chosen
        ranked = (([chosen] if chosen else []) + [c for c in found.candidates[:3] if c is not chosen])[:3]
        # plus the closest by example similarity: tools added at run time (MCP) are offered to
        # a model only when named here, and a new tool's few examples rarely win on probability
        by_similarity = sorted(found.candidates, key=lambda m: m.similarity, reverse=True)
        # the closest few of all, and of the tools added while running: first-party skills with
        # many examples are near most utterances and would crowd a new tool out
        nearest = by_similarity[:3] + [m for m in by_similarity if self.registry.added_while_running(m.skill)][:3]
        ranked += [m for m in nearest if m not in ranked]
        intents = [
            {"skill": m.skill, "score": m.score, "arguments": dict(m.arguments) if m.arguments else None}
            for m in ranked
        ]
        intent = {
            "decision": found.decision.value,
            "skill": found.skill,
            "reason": found.reason,
            "out_of_scope": found.out_of_scope,
        }
        reader = memory_reader(found, recalled, state["text"], self.registry)
        if reader is not None:  # "what's my wifi password?" and a memory holds it
            intent = {**intent, "decision": Decision.ACT.value, "skill": reader, "reason": "a memory answers it"}
            intents = [{"skill": reader, "score": 1.0, "arguments": None}] + [
                i for i in intents if i["skill"] != reader
            ]
        return {"recalled": recalled, "intents": intents, "intent": intent, "offer": None}

    async def route(self, state: TurnState) -> dict[str, Any]:
        if self.model is None:
            return {"route": {"target": "local", "reasons": ["no inference service on this hub"]}}
        # A confident local match needs no tool planning: asking the router with the tool
        # schemas would send every skill call to the cloud.
        tools = () if self._confident(state) else self.registry.tools(relevant=_intent_names(state))
        decision = self.model.route(self._request(state, tools=tools), device_kind=_kind(state))
        return {"route": {"target": decision.target.value, "reasons": list(decision.reasons)}}

    async def plan(self, state: TurnState) -> dict[str, Any]:
        if state["route"].get("target") == "cloud" and self.model is not None:
            try:
                return await self._plan_with_tools(state)
            except InferenceError as exc:  # the local plan still answers
                log.warning("cloud planning failed, planning locally: %s", exc)
                planned = await self._plan_locally(state)
                return {
                    **planned,
                    "degraded": False,
                    "fallback": True,
                    "served": "local",
                    "reason": f"cloud planning failed ({exc}); planned locally",
                }
        return await self._plan_locally(state)

    async def _plan_locally(self, state: TurnState) -> dict[str, Any]:
        intents = state.get("intents") or []
        top = intents[0] if intents else None
        intent = state.get("intent") or {}
        if top and intent.get("decision") == Decision.ASK.value:
            skill = self.registry.get(top["skill"])
            if skill is not None:
                offer = {"skill": skill.name, "arguments": top.get("arguments"), "text": state["text"]}
                return {
                    "mode": "answered",
                    "calls": [],
                    "answer": _ask_back(skill, top.get("arguments")),
                    "offer": offer,
                }
        if not top or not self._confident(state):
            return {"mode": "chat", "calls": []}  # not sure: the model answers, no skill guesses
        skill = self.registry.get(top["skill"])
        if skill is None:
            return {"mode": "chat", "calls": []}
        if intent.get("offered_text"):  # a "yes": the slots come from the words first offered for
            state = {**state, "text": intent["offered_text"]}
        arguments = dict(top.get("arguments") or {})
        missing = [p.name for p in skill.params if p.required and p.name not in arguments]
        if missing:
            arguments.update(await self._extract_with_model(skill, state) or {})
            missing = [p.name for p in skill.params if p.required and p.name not in arguments]
        if len(missing) == 1 and len([p for p in skill.params if p.required]) == 1:
            arguments[missing[0]] = state["text"]  # a one-slot skill takes the whole utterance
            missing = []
        if missing:
            answer = f"I can {skill.description[0].lower() + skill.description[1:].rstrip('.')}, but I need: {', '.join(missing)}."
            return {"mode": "answered", "calls": [], "answer": answer}
        return {"mode": "skill", "calls": [self._call(skill.name, arguments, "local-1")]}

    def _call(self, name: str, arguments: Mapping[str, Any], call_id: str) -> dict[str, Any]:
        skill = self.registry.get(name)
        risk = skill.risk.value if skill else "low"
        summary = skill.describe(arguments) if skill else name
        # a model calls a tool by its function name ("srv__tool" for srv.tool): record the skill's own
        return {
            "id": call_id,
            "skill": skill.name if skill else name,
            "arguments": dict(arguments),
            "risk": risk,
            "summary": summary,
        }

    def _tool_name(self, name: str) -> str:
        skill = self.registry.get(name)
        return skill.tool_schema()["function"]["name"] if skill else name

    async def _extract_with_model(self, skill: Any, state: TurnState) -> dict[str, Any] | None:
        """Grammar-constrained JSON from the model (valid only when it finished with ``stop``)."""
        if self.model is None or not skill.params:
            return None
        # The same conversation and memories as the answer, so the router applies the same rule to it.
        history = self._messages(state)
        request = self._request(
            state,
            [
                ChatMessage(
                    role="system",
                    content=f"{history[0].content}\n\nExtract the arguments of '{skill.name}' "
                    f"({skill.description}) from the user's last words. Answer with JSON only.",
                ),
                *history[1:],
            ],
            json_schema=skill.params_schema(),
            max_tokens=120,
            temperature=0.0,
        )
        parts, finish = [], None
        try:
            async for delta in self.model.chat(request, device_kind=_kind(state)):
                if isinstance(delta, TextDelta):
                    parts.append(delta.text)
                elif isinstance(delta, Finish):
                    finish = delta.reason
            if finish != "stop":
                return None
            value = json.loads("".join(parts))
            if not isinstance(value, dict):
                return None
            params = {p.name: p for p in skill.params}
            # a blank is not an answer: the parameter stays missing
            return {k: params[k].coerce(v) for k, v in value.items() if k in params and v not in (None, "")}
        except (InferenceError, ValueError, InvalidArguments) as exc:
            log.info("slot extraction for %s failed: %s", skill.name, exc)
            return None

    async def _plan_with_tools(self, state: TurnState) -> dict[str, Any]:
        sink = self._sink(state)
        request = self._request(state, tools=self.registry.tools(relevant=_intent_names(state)))
        text, calls, degraded = [], [], False
        assert self.model is not None  # plan() asks the cloud only when there is a model
        stream = self.model.chat(request, device_kind=_kind(state))
        async for delta in stream:
            if isinstance(delta, TextDelta) and delta.text:
                text.append(delta.text)
                await sink.delta(delta.text)
            elif isinstance(delta, ToolCallDelta):
                try:
                    arguments = json.loads(delta.call.arguments or "{}")
                except ValueError:
                    arguments = {"__invalid__": delta.call.arguments}
                calls.append(
                    self._call(delta.call.name, arguments if isinstance(arguments, dict) else {}, delta.call.id)
                )
            elif isinstance(delta, Finish):
                degraded = degraded or delta.degraded
        served, fell_back = _served(stream, "cloud")
        mode = "skill" if calls else "answered"
        return {
            "mode": mode,
            "calls": calls,
            "answer": "".join(text),
            **_failover(stream, degraded and fell_back),
            "answer_streamed": bool(text),
            "served": served,
        }

    async def approve(self, state: TurnState) -> dict[str, Any]:
        decisions: dict[str, str] = {}
        for call in state.get("calls", []):
            skill = self.registry.get(call["skill"])
            if skill is None or not skill.risk.needs_approval:
                decisions[call["id"]] = "not needed"
                continue
            # Re-run from the top on resume: interrupt() then returns the answers in order.
            from langgraph.types import interrupt

            answer = interrupt(
                {
                    "approval": f"{state['turn']}-{call['id']}",
                    "skill": skill.name,
                    "summary": call["summary"],
                    "risk": skill.risk.value,
                    "call": call["id"],
                }
            )
            decisions[call["id"]] = str(answer.get("status", "denied")) if isinstance(answer, Mapping) else "denied"
        return {"approvals": decisions}

    async def act(self, state: TurnState) -> dict[str, Any]:
        sink, results = self._sink(state), []
        device, thread, turn = self._device(state), state.get("thread", ""), state["turn"]
        history = tuple({"role": m["role"], "content": m["content"]} for m in state.get("messages", [])[-HISTORY:-1])
        for call in state.get("calls", []):
            approval = state.get("approvals", {}).get(call["id"], "not needed")
            if approval in ("denied", "expired"):
                why = "you declined" if approval == "denied" else "nobody approved it in time"
                result = await self.runner.refuse(
                    call,
                    approval=approval,
                    message=f"Not done ({why}): {call['summary']}.",
                    device=device,
                    thread=thread,
                    turn=turn,
                )
            else:
                result = await self.runner.run(
                    call,
                    text=state["text"],
                    approval=approval,
                    on_chunk=sink.delta,
                    history=history,
                    device=device,
                    thread=thread,
                    turn=turn,
                )
            results.append(result.as_state())
        return {"results": results}

    async def respond(self, state: TurnState) -> dict[str, Any]:
        sink = self._sink(state)
        answer = state.get("answer", "")
        failover = _worse(state, {})
        route = state.get("route", {}).get("target", "local")
        served = state.get("served") or route
        if (
            state.get("mode") == "chat"
            and self.model is not None
            and beyond_local(state["text"], state.get("route", {}), personal=bool(state.get("recalled")))
        ):
            answer, served = BEYOND_LOCAL, "local"  # one honest line instead of an invented answer
            await sink.delta(answer)
        elif state.get("mode") == "chat":
            answer, more, served = await self._stream_answer(state, self._messages(state), sink)
            failover = _worse(failover, more)
        elif state.get("results"):
            joined = self._joined(state)
            if route == "cloud" and self.model is not None and any(r["outcome"] == "ok" for r in state["results"]):
                unsent = "\n".join(r["text"] for r in state["results"] if r["text"] and not r["streamed"])
                answer, more, served = await self._stream_answer(
                    state, self._with_results(state), sink, fallback=unsent, fallback_answer=joined
                )
                failover = _worse(failover, more)
            else:
                answer, served = joined, "local"
                for r in state["results"]:
                    if not r["streamed"] and r["text"]:
                        await sink.delta(r["text"] + ("\n" if r is not state["results"][-1] else ""))
        elif answer and not state.get("answer_streamed"):
            await sink.delta(answer)
        await sink.done(answer, route=served, **failover)
        return {"answer": answer, **failover, "messages": [{"role": "assistant", "content": answer}]}

    def _joined(self, state: TurnState) -> str:
        return "\n".join(r["text"] for r in state["results"] if r["text"])

    def _with_results(self, state: TurnState) -> list[ChatMessage]:
        """The conversation plus the cloud model's tool calls and their results, for it to phrase the answer."""
        messages = self._messages(state)
        messages.append(
            ChatMessage(
                role="assistant",
                content=state.get("answer", ""),
                tool_calls=[
                    ToolCall(id=c["id"], name=self._tool_name(c["skill"]), arguments=json.dumps(c["arguments"]))
                    for c in state["calls"]
                ],
            )
        )
        for r in state["results"]:
            messages.append(ChatMessage(role="tool", tool_call_id=r["call_id"], content=r["text"]))
        return messages

    async def _stream_answer(
        self,
        state: TurnState,
        messages: list[ChatMessage],
        sink: TurnSink,
        *,
        fallback: str | None = None,
        fallback_answer: str | None = None,
    ) -> tuple[str, dict[str, Any], str]:
        """Stream the model's answer: (text, how it failed over (see ``_failover``), where it ran).
        With no model at all, or when every model fails, ``fallback`` is sent instead."""
        if self.model is None:
            text = (
                fallback
                if fallback is not None
                else "I have no model to talk with on this hub, and no skill matched what you asked."
            )
            await sink.delta(text)
            return (fallback_answer if fallback_answer is not None else text), _worse({}, {}), "local"
        options = state.get("options") or {}
        request = self._request(
            state,
            messages,
            max_tokens=int(options.get("max_tokens") or 200),
            temperature=float(options.get("temperature", 0.7)),
            stop=tuple(options.get("stop") or ()),
        )
        parts, degraded, reason = [], False, "stop"
        info = self.info.setdefault(state.get("turn", ""), {})
        wearable = WearableBuffer(WEARABLE_CHARS) if _kind(state) is DeviceKind.WEARABLE else None
        stream = self.model.chat(request, device_kind=_kind(state))
        try:
            async for delta in stream:
                if isinstance(delta, TextDelta) and delta.text:
                    parts.append(delta.text)
                    await sink.delta(wearable.feed(delta.text) if wearable else delta.text)
                elif isinstance(delta, Usage):
                    used = info.setdefault("usage", [0, 0])
                    used[0] += delta.prompt_tokens
                    used[1] += delta.completion_tokens
                elif isinstance(delta, Finish):
                    degraded, reason = delta.degraded, delta.reason
        except InferenceError as exc:
            text = fallback if fallback is not None else f"Sorry, I could not reach a model just now ({exc})."
            await sink.delta(text)
            failed = {"degraded": bool(parts), "fallback": not parts, "reason": f"no model could answer ({exc})"}
            return (fallback_answer if fallback_answer is not None else "".join(parts) + text), failed, "local"
        served, fell_back = _served(stream, state.get("route", {}).get("target", "local"))
        info["finish"] = reason
        answer = "".join(parts).strip()
        if wearable is not None:
            rest, answer = wearable.finish(cut_short=reason == "length")
            await sink.delta(rest)
        return answer, _failover(stream, degraded and fell_back), served

    async def learn(self, state: TurnState) -> dict[str, Any]:
        if self.memory is None or self.extract_facts is None:
            return {}
        for r in state.get("results", []):
            skill = self.registry.get(r["skill"])
            if skill and Permission.MEMORY_WRITE in skill.permissions and r["outcome"] == "ok":
                return {}  # the person asked a memory skill directly: it already wrote what they meant
        try:
            facts = self.extract_facts(state["text"])
            # a fact learnt from words that held personal data is the person's: it stays private
            scope = Scope.PRIVATE if facts and detect_personal_data(state["text"]) else Scope.SHARED
            for fact in facts:
                await self.memory.add(
                    getattr(fact, "text", str(fact)),
                    kind=getattr(fact, "kind", MemoryKind.FACT),
                    scope=scope,
                    importance=getattr(fact, "importance", 0.5),
                    device=state["device"]["id"],
                    actor=f"device:{state['device']['id']}",
                )
        except (MemoryStoreError, InferenceError) as exc:
            log.warning("learning from the turn failed: %s", exc)
        return {}
