"""Python type hints -> JSON schema (for cloud tool calling) and back (coercing slot values).

Only the types a person can say out loud are supported: ``str``, ``int``, ``float``,
``bool``, ``Literal[...]``, an ``Enum``, ``list[...]`` of those, and ``X | None``.
``Annotated[T, "description"]`` attaches the description a model reads.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SkillError

__all__ = ["InvalidArguments", "Param", "params_from_signature"]

_MISSING = inspect.Parameter.empty


class InvalidArguments(SkillError):
    """The arguments for a skill do not fit its parameters (missing, wrong type)."""


@dataclass(frozen=True, kw_only=True)
class Param:
    name: str
    annotation: Any
    schema: Mapping[str, Any]
    required: bool
    default: Any = None
    description: str = ""

    def coerce(self, value: Any) -> Any:
        return _coerce(self.annotation, value, self.name)


def params_from_signature(fn: Callable[..., Any]) -> tuple[Param, ...]:
    """Every parameter after the first (the context) becomes a skill parameter."""
    hints = typing.get_type_hints(fn, include_extras=True)
    params = list(inspect.signature(fn).parameters.values())[1:]
    out: list[Param] = []
    for p in params:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(f"skill {fn.__name__}: *args/**kwargs cannot be described to a model")
        if p.name not in hints:
            raise TypeError(f"skill {fn.__name__}: parameter {p.name!r} needs a type hint")
        annotation, description = _unwrap_annotated(hints[p.name])
        schema = dict(type_schema(annotation))
        if description:
            schema["description"] = description
        out.append(
            Param(
                name=p.name,
                annotation=annotation,
                schema=schema,
                required=p.default is _MISSING,
                default=None if p.default is _MISSING else p.default,
                description=description,
            )
        )
    return tuple(out)


def _unwrap_annotated(tp: Any) -> tuple[Any, str]:
    if typing.get_origin(tp) is typing.Annotated:
        base, *extras = typing.get_args(tp)
        description = next((e for e in extras if isinstance(e, str)), "")
        return base, description
    return tp, ""


def _optional_inner(tp: Any) -> Any | None:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def type_schema(tp: Any) -> dict[str, Any]:
    inner = _optional_inner(tp)
    if inner is not None:
        return type_schema(inner)  # optional-ness is expressed by "required", not by null
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [str(m.value) for m in tp]}
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        values = list(typing.get_args(tp))
        kinds = {type(v) for v in values}
        json_type = (
            {str: "string", int: "integer", bool: "boolean", float: "number"}.get(kinds.pop())
            if len(kinds) == 1
            else None
        )
        if json_type is None:
            raise TypeError(f"Literal values must share one simple type: {tp}")
        return {"type": json_type, "enum": values}
    if origin in (list, tuple) or tp in (list, tuple):
        args = typing.get_args(tp)
        item = args[0] if args else str
        return {"type": "array", "items": type_schema(item)}
    raise TypeError(f"unsupported parameter type {tp!r}: use str, int, float, bool, Literal, an Enum or list[...]")


def _coerce(tp: Any, value: Any, name: str) -> Any:
    inner = _optional_inner(tp)
    if inner is not None:
        return None if value is None else _coerce(inner, value, name)
    try:
        if tp is str:
            if isinstance(value, (dict, list)):
                raise ValueError("expected text")
            return str(value).strip()
        if tp is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "yes", "on", "1"):
                return True
            if text in ("false", "no", "off", "0"):
                return False
            raise ValueError("expected yes or no")
        if tp is int:
            if isinstance(value, bool):
                raise ValueError("expected a whole number")
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("expected a whole number")
            try:  # the guide promises these words, not int()'s "invalid literal ... base 10"
                return int(value if not isinstance(value, str) else value.strip())
            except ValueError:
                raise ValueError("expected a whole number") from None
        if tp is float:
            if isinstance(value, bool):
                raise ValueError("expected a number")
            try:
                return float(value)
            except ValueError:
                raise ValueError("expected a number") from None
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            try:
                return tp(value)
            except ValueError:
                raise ValueError(f"expected one of {', '.join(str(m.value) for m in tp)}") from None
        origin = typing.get_origin(tp)
        if origin is typing.Literal:
            allowed = typing.get_args(tp)
            if value in allowed:
                return value
            lowered = {str(a).lower(): a for a in allowed}
            if str(value).strip().lower() in lowered:
                return lowered[str(value).strip().lower()]
            raise ValueError(f"expected one of {', '.join(map(str, allowed))}")
        if origin in (list, tuple) or tp in (list, tuple):
            args = typing.get_args(tp)
            item = args[0] if args else str
            items = value if isinstance(value, (list, tuple)) else [v for v in str(value).split(",") if v.strip()]
            return [_coerce(item, v, name) for v in items]
    except (TypeError, ValueError) as exc:
        raise InvalidArguments(f"parameter {name!r}: {exc} (got {value!r})") from exc
    raise InvalidArguments(f"parameter {name!r}: unsupported type {tp!r}")
