"""Decides, per request, whether the local model or the gigafactory endpoint answers.

Sans-I/O and cheap (a few regular expressions over the text): the service passes in
the endpoint's state, so a decision never waits on the network or the disk. The
rules, first match wins (docs/hybrid-routing.md is the person-facing version):

1. no endpoint configured            -> local
2. policy ``local-only``              -> local
3. privacy: a relevant private, device-scope or personal memory, or personal data in
   any message -> local (``privacy_mode = "redact"``: redacted, and the rules go on)
4. the breaker is open                -> local
5. today's cloud token budget is spent -> local
6. ``prefer-cloud``                   -> cloud
7. ``prefer-local``: cloud when the request is hard (tools, long input, long
   answer, weak intent match, too big for the local context); otherwise local.

A wearable caps the answer length (``RouteDecision.max_tokens``) and, under
``prefer-local``, is answered locally unless the request needs tools or more
context than the local model has: on the wrist, latency beats polish.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import InferenceConfig, Policy
from ..devices import DeviceKind
from ._breaker import BreakerState
from ._outgoing import Verdict, outgoing, outgoing_text
from ._types import ChatRequest, RouteDecision, Target

__all__ = ["CloudStatus", "Router"]


@dataclass(frozen=True, kw_only=True)
class CloudStatus:
    configured: bool
    breaker: BreakerState = BreakerState.CLOSED
    breaker_available: bool = True  # closed, or half-open with the probe slot free
    retry_in_s: float = 0.0
    tokens_left: int | None = None  # None: no daily limit


NO_CLOUD = CloudStatus(configured=False)


class Router:
    def __init__(self, config: InferenceConfig) -> None:
        self.config = config
        # the person can change it at run time (the settings.set operation); the config is the default
        self.policy: Policy = config.policy
        # llama.cpp splits the context between its parallel slots (the KV cache is not unified)
        self.local_context_tokens = config.local.context_size // config.local.parallel

    def decide(
        self, request: ChatRequest, *, cloud: CloudStatus, device_kind: DeviceKind | None = None
    ) -> RouteDecision:
        cfg = self.config
        wearable = device_kind is DeviceKind.WEARABLE
        cap = cfg.wearable_max_tokens if wearable and request.max_tokens > cfg.wearable_max_tokens else None
        notes: list[str] = []
        if cap is not None:
            notes.append(f"asked from a wearable: the answer is kept to {cap} tokens")

        def local(*reasons: str, personal: tuple[str, ...] = ()) -> RouteDecision:
            return RouteDecision(
                target=Target.LOCAL, reasons=(*reasons, *notes), max_tokens=cap, personal_data=personal
            )

        verdict = Verdict()

        def to_cloud(*reasons: str) -> RouteDecision:
            first = (verdict.note,) if verdict.note else ()
            return RouteDecision(
                target=Target.CLOUD,
                reasons=(*first, *reasons, *notes),
                max_tokens=cap,
                personal_data=verdict.personal,
                cloud_request=verdict.cloud_request,
                redaction=verdict.redaction,
            )

        if not cloud.configured:
            return local("no gigafactory endpoint is configured, so everything runs on this hub")
        if self.policy == "local-only":
            return local("your policy is local-only")
        if cfg.privacy_rule:
            verdict = outgoing(request, mode=cfg.privacy_mode, min_score=cfg.cloud_memory_min_score)
            if verdict.keep_local is not None:
                return local(verdict.keep_local, personal=verdict.personal)
            text = outgoing_text(verdict.cloud_request or request)
        else:
            text = ""
        if not cloud.breaker_available:
            return local(
                f"the gigafactory endpoint is failing (circuit {cloud.breaker.value}; next try in {cloud.retry_in_s:.0f}s)"
            )

        chars = len(text) if text else sum(len(m.content) for m in request.messages)
        prompt_tokens = max(1, chars // 4) if chars else 0  # ~4 characters a token: an estimate is enough here
        answer_tokens = cap or request.max_tokens
        if cloud.tokens_left is not None and prompt_tokens + answer_tokens > cloud.tokens_left:
            return local(f"today's cloud token budget is spent ({cloud.tokens_left} of {cfg.daily_token_budget} left)")
        if self.policy == "prefer-cloud":
            return to_cloud("your policy prefers the cloud")

        hard = self._difficulty(
            request, chars=chars, prompt_tokens=prompt_tokens, answer_tokens=answer_tokens, wearable=wearable
        )
        if hard:
            return to_cloud(*hard)
        if request.intent_confidence is not None:
            why = f"matched a skill locally (confidence {request.intent_confidence:.2f})"
        else:
            why = "a short request the local model can answer"
        # the cloud may take over if the local model breaks: with what it may see
        return dataclasses.replace(
            local(why + ", and your policy prefers local"),
            cloud_allowed=True,
            cloud_request=verdict.cloud_request,
            redaction=verdict.redaction,
            personal_data=verdict.personal,
        )

    def _difficulty(
        self, request: ChatRequest, *, chars: int, prompt_tokens: int, answer_tokens: int, wearable: bool
    ) -> list[str]:
        cfg = self.config
        hard: list[str] = []
        if request.tools:
            hard.append("it needs tool planning, which the local model cannot do reliably")
        if prompt_tokens + answer_tokens > self.local_context_tokens:
            hard.append(f"it does not fit the local model's context ({self.local_context_tokens} tokens)")
        if wearable:
            return hard  # on the wrist a quick local answer beats a better slow one
        if chars > cfg.cloud_prompt_chars:
            hard.append(f"a long conversation ({chars} characters)")
        if answer_tokens > cfg.cloud_answer_tokens:
            hard.append(f"a long answer is expected (up to {answer_tokens} tokens)")
        if request.intent_confidence is not None and request.intent_confidence < cfg.local_intent_confidence:
            hard.append(f"no skill matched confidently (best {request.intent_confidence:.2f}), so it is open-ended")
        return hard


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
