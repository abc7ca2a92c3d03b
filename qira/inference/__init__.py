"""The hybrid split: a local llama.cpp model, an OpenAI-compatible endpoint, and a router."""

from ._local import LocalModel, default_model_path
from ._types import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    Delta,
    Finish,
    RouteDecision,
    Target,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "ChatMessage",
    "ChatModel",
    "ChatRequest",
    "Delta",
    "Finish",
    "LocalModel",
    "RouteDecision",
    "Target",
    "TextDelta",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "default_model_path",
]
