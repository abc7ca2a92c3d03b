"""The agent core: the LangGraph planner, skills (registry, runner, permissions),
approvals, the proactive loop and the audit log."""

from ._agent import Agent
from ._audit import AuditEntry, Outcome, read_audit
from ._db import agent_db_path
from ._graph import TurnSink
from ._intent import Classification, Decision, IntentMatch, IntentMatcher, Thresholds, normalize
from ._registry import ENTRY_POINT_GROUP, Grant, LoadProblem, SkillRegistry, discover
from ._sinks import TurnEvent
from ._targets import pick_device

__all__ = [
    "ENTRY_POINT_GROUP",
    "Agent",
    "AuditEntry",
    "Classification",
    "Decision",
    "Grant",
    "IntentMatch",
    "IntentMatcher",
    "LoadProblem",
    "Outcome",
    "SkillRegistry",
    "Thresholds",
    "TurnEvent",
    "TurnSink",
    "agent_db_path",
    "discover",
    "normalize",
    "pick_device",
    "read_audit",
]
