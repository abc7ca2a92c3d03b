"""The hybrid split: a local llama.cpp model, an OpenAI-compatible endpoint, and a router.

``InferenceService`` is what the rest of the hub uses: ``route()`` explains where a
request would go, ``chat()`` streams the answer (falling back to the local model
when the endpoint fails). The backends (``LocalChatModel``, ``CloudChatModel``)
satisfy ``ChatModel`` and can be used on their own.
"""

from ._breaker import BreakerState, CircuitBreaker
from ._cloud import CloudChatModel, ProbeResult, probe_endpoint
from ._local import LocalModel, default_model_path
from ._local_chat import LocalChatModel, grammar_json
from ._privacy import PersonalData, detect_personal_data
from ._router import CloudStatus, Router
from ._service import InferenceService, Turn
from ._types import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    Delta,
    Finish,
    MemoryRef,
    RouteDecision,
    Target,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "BreakerState",
    "ChatMessage",
    "ChatModel",
    "ChatRequest",
    "CircuitBreaker",
    "CloudChatModel",
    "CloudStatus",
    "Delta",
    "Finish",
    "InferenceService",
    "LocalChatModel",
    "LocalModel",
    "MemoryRef",
    "PersonalData",
    "ProbeResult",
    "RouteDecision",
    "Router",
    "Target",
    "TextDelta",
    "ToolCall",
    "ToolCallDelta",
    "Turn",
    "Usage",
    "default_model_path",
    "detect_personal_data",
    "probe_endpoint",
    "grammar_json",
]
